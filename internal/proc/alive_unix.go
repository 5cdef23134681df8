//go:build unix

package proc

import (
	"errors"
	"syscall"
)

// alive reports whether a process has the PID: signal 0 checks without
// sending anything, and EPERM means it exists under another user.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}
