package dovecottest

import (
	"net"
	"testing"
)

// TestStartTakesAnotherPortWhenItsIsTaken: a port taken between freePort
// and Dovecot's bind (by a test running beside) is given up for another,
// and Dovecot starts there.
func TestStartTakesAnotherPortWhenItsIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().(*net.TCPAddr).Port
	picks := 0
	pickPort = func(t testing.TB) int {
		picks++
		if picks == 1 {
			return held
		}
		return freePort(t)
	}
	defer func() { pickPort = freePort }()
	s := Start(t)
	if s.Port == held || picks != 4 {
		t.Fatalf("port %d after %d picks; want another than the held %d, in a second launch", s.Port, picks, held)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
