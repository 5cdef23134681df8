package pgtest

import (
	"testing"

	"github.com/guardd/guardd/internal/testport"
)

// TestStartTakesAnotherPortWhenItsIsTaken: a port taken between freePort
// and postgres's bind (by a test binary running beside) is given up for
// another, and the cluster starts there.
func TestStartTakesAnotherPortWhenItsIsTaken(t *testing.T) {
	if binDir() == "" {
		t.Fatal("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
	}
	held := testport.Held(t)
	picks := 0
	pickPort = func() (int, error) {
		picks++
		if picks == 1 {
			return held, nil
		}
		return testport.Free()
	}
	defer func() { pickPort = testport.Free }()
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
