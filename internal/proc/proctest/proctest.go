// Package proctest makes processes for the tests of who holds a claim or a
// lock.
package proctest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/guardd/guardd/internal/proc"
)

// Ended returns a process of this host that has ended: a child that ran and
// was waited for, so its PID is free (until the system reuses it). It skips
// the test where no process is ever known to have ended, for want of a PID
// namespace to tell this host's processes by.
func Ended(t testing.TB) proc.Process {
	t.Helper()
	self := proc.Self()
	if self.NS == "" {
		t.Skip("no /proc/self/ns/pid here: no process is ever known to have ended")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$") // this test binary, running no test
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ended := self
	ended.PID = cmd.ProcessState.Pid()
	return ended
}
