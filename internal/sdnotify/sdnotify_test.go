package sdnotify_test

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/sdnotify"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, err := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.WatchdogInterval(), 15*time.Second; got != want {
		t.Errorf("watchdog interval: got %s, want %s", got, want)
	}
	if err := n.Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:k]); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
}

func TestOutsideSystemd(t *testing.T) {
	n, err := sdnotify.New(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Errorf("got enabled=%v watchdog=%s, want neither outside systemd", n.Enabled(), n.WatchdogInterval())
	}
	if err := n.Send("READY=1"); err != nil {
		t.Errorf("send outside systemd: got %v, want nil", err)
	}
	if _, err := sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "soon"})); err == nil {
		t.Error("bad WATCHDOG_USEC: got no error")
	}
}
