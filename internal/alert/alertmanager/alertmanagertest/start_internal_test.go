package alertmanagertest

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestStartTakesAnotherPortWhenItsIsTaken: a port taken between freePort
// and Alertmanager's bind (by a test running beside) is given up for
// another, and Alertmanager starts there.
func TestStartTakesAnotherPortWhenItsIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().(*net.TCPAddr).Port
	bin, err := Binary()
	if err != nil {
		t.Fatalf("alertmanager is not installed (apt-get install prometheus-alertmanager; .ci/run does it): %v", err)
	}
	s := &Server{bin: bin, dir: t.TempDir(), port: held}
	if err := os.WriteFile(filepath.Join(s.dir, "alertmanager.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.start(t, func() { s.port = freePort(t) })
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
