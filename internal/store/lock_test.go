package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/proc"
	"github.com/guardd/guardd/internal/store"
)

func TestLockDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("UTC+1", 3600))
	first, err := store.LockDaemon(path, since)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + ".lock")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: got %v (%v), want -rw-------", fi, err)
	}
	// A second holder, even in this process, is refused and told who.
	_, err = store.LockDaemon(path, since)
	want := "another guardd run uses this state: " + proc.Self().String() + " (since 2026-03-01T11:00:00Z) holds " + path +
		".lock; stop it first, or point this one at another state.path (guardd check and status may run beside it)"
	if !errors.Is(err, store.ErrDaemonRunning) || err.Error() != want {
		t.Errorf("second lock: got %v, want %s", err, want)
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := store.LockDaemon(path, since)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again.Unlock()
	if body, _ := os.ReadFile(path + ".lock"); strings.TrimSpace(string(body)) != "" {
		t.Errorf("lock file after unlock: got %q, want it empty", body)
	}
}
