// Package testport gives the throwaway servers of tests (Alertmanager,
// Dovecot, PostgreSQL) their ports on 127.0.0.1.
package testport

import (
	"net"
	"testing"
)

// Free returns a port on 127.0.0.1 that is free now. Another process (a
// test binary beside this one) may take it before the caller's server
// binds it: a harness that starts a server on it tries another when it
// finds it taken.
func Free() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// MustFree is Free, failing t when no port can be had.
func MustFree(t testing.TB) int {
	t.Helper()
	p, err := Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Held listens on a free port of 127.0.0.1 until the test ends and returns
// it: a port taken, for the tests of what a harness does then.
func Held(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
