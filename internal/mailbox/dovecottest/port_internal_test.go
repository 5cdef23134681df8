package dovecottest

import (
	"net"
	"testing"

	"github.com/guardd/guardd/internal/testport"
)

// TestStartTakesAnotherPortWhenItsIsTaken: a port taken between freePort
// and Dovecot's bind (by a test running beside) is given up for another,
// and Dovecot starts there.
func TestStartTakesAnotherPortWhenItsIsTaken(t *testing.T) {
	held := testport.Held(t)
	picks := 0
	pickPort = func(t testing.TB) int {
		picks++
		if picks == 1 {
			return held
		}
		return testport.MustFree(t)
	}
	defer func() { pickPort = testport.MustFree }()
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
