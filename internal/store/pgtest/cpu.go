package pgtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CPU returns the processor time the cluster has used so far: its
// postmaster's, its live children's (backends, checkpointer, WAL writer…)
// and that of the children that have exited (the postmaster's waited-for
// children's). A benchmark takes it before and after to learn the server's
// share of its CPU. It reads /proc, so it works on Linux only.
func (s *Server) CPU() (time.Duration, error) {
	pid := s.cmd.Process.Pid
	self, err := procTimes(pid, true)
	if err != nil {
		return 0, fmt.Errorf("postgres's CPU time: %w", err)
	}
	total := self
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process has ended meanwhile
		}
		f, ok := statFields(b)
		if !ok || string(f[1]) != strconv.Itoa(pid) {
			continue
		}
		total += ticks(f, 11) + ticks(f, 12)
	}
	return total, nil
}

// clockTick is USER_HZ, the unit of /proc's times: 100 on every Linux
// platform Go runs on.
const clockTick = 10 * time.Millisecond

// procTimes is pid's user and system time, with its waited-for children's
// when children is set.
func procTimes(pid int, children bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f, ok := statFields(b)
	if !ok {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, b)
	}
	t := ticks(f, 11) + ticks(f, 12)
	if children {
		t += ticks(f, 13) + ticks(f, 14)
	}
	return t, nil
}

// statFields splits a /proc/PID/stat after its command (which may hold
// spaces): field 0 is the state, 1 the parent's pid, 11 and 12 utime and
// stime, 13 and 14 cutime and cstime.
func statFields(b []byte) ([][]byte, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	f := bytes.Fields(b[i+1:])
	return f, len(f) > 14
}

func ticks(f [][]byte, i int) time.Duration {
	n, _ := strconv.ParseInt(string(f[i]), 10, 64)
	return time.Duration(n) * clockTick
}
