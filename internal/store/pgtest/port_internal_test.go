package pgtest

import (
	"net"
	"testing"
)

// TestStartTakesAnotherPortWhenItsIsTaken: a port taken between freePort
// and postgres's bind (by a test binary running beside) is given up for
// another, and the cluster starts there.
func TestStartTakesAnotherPortWhenItsIsTaken(t *testing.T) {
	if binDir() == "" {
		t.Fatal("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().(*net.TCPAddr).Port
	picks := 0
	pickPort = func() (int, error) {
		picks++
		if picks == 1 {
			return held, nil
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()
	s, _, err := start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if s.Port == held || picks != 2 {
		t.Fatalf("port %d after %d picks; want another than the held %d, at the second pick", s.Port, picks, held)
	}
	if err := s.admin.Ping(); err != nil {
		t.Fatal(err)
	}
}
