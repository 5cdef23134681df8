// Package proc names the process guardd runs as, so that another process
// sharing its state database can say who holds a claim or a lock, and can
// tell whether a holder on the same host is still alive.
package proc

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// Process is one running process: its PID on a host, within one PID
// namespace of that host.
type Process struct {
	// Host is the host name; "" when unknown.
	Host string
	// NS names the PID namespace (on Linux the target of /proc/self/ns/pid,
	// such as "pid:[4026531836]"): two containers on one host may run
	// different processes with the same PID. "" when unknown.
	NS  string
	PID int
}

// Self returns the process this is.
func Self() Process {
	host, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return Process{Host: host, NS: ns, PID: os.Getpid()}
}

// String returns "pid 1234 on host-a", what people read in a message.
func (p Process) String() string { return fmt.Sprintf("pid %d on %s", p.PID, p.Host) }

// Name returns p in full as "pid 1234 on host-a (pid:[4026531836])", for
// another process to read back with Parse.
func (p Process) Name() string { return fmt.Sprintf("%s (%s)", p, p.NS) }

var nameRE = regexp.MustCompile(`^pid ([0-9]+) on (\S*) \(([^)]*)\)`)

// Parse reads the Name at the start of s, and reports whether there is one.
func Parse(s string) (Process, bool) {
	m := nameRE.FindStringSubmatch(s)
	if m == nil {
		return Process{}, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		return Process{}, false
	}
	return Process{PID: pid, Host: m[2], NS: m[3]}, true
}

// Gone reports whether p is known to have ended: it ran on this host, in
// this PID namespace, and no process has its PID now. A process elsewhere,
// or one whose namespace is unknown, is never known to have ended. (A PID
// reused since makes an ended process look alive, which errs on the safe
// side.)
func (p Process) Gone() bool {
	self := Self()
	if p.PID <= 0 || p.Host == "" || p.NS == "" || p.Host != self.Host || p.NS != self.NS {
		return false
	}
	return !alive(p.PID)
}
