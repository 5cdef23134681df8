package alertmanagertest

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardd/guardd/internal/testport"
)

// TestStartTakesAnotherPortWhenItsIsTaken: a port taken between freePort
// and Alertmanager's bind (by a test running beside) is given up for
// another, and Alertmanager starts there.
func TestStartTakesAnotherPortWhenItsIsTaken(t *testing.T) {
	held := testport.Held(t)
	bin, err := Binary()
	if err != nil {
		t.Fatalf("alertmanager is not installed (apt-get install prometheus-alertmanager; .ci/run does it): %v", err)
	}
	s := &Server{bin: bin, dir: t.TempDir(), port: held}
	if err := os.WriteFile(filepath.Join(s.dir, "alertmanager.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.start(t, func() { s.port = testport.MustFree(t) })
	if s.port == held {
		t.Fatalf("started on the port another socket holds, %d", held)
	}
	resp, err := http.Get(s.URL() + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/-/ready: %s", resp.Status)
	}
}
