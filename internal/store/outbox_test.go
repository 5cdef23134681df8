package store

import (
	"context"
	"errors"
	"github.com/guardd/guardd/internal/lifecycle"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func item(receiver string, created time.Time) lifecycle.OutboxItem {
	return lifecycle.OutboxItem{
		Receiver: receiver, Fingerprint: "3f1c2a9b8d7e6f50", Status: lifecycle.Firing,
		Payload: []byte(`{"rule":"recharge-burst","amount":"108.00","currency":"USD"}`), CreatedAt: created,
	}
}

func dueIDs(t *testing.T, s *Store, now time.Time, limit int) []int64 {
	t.Helper()
	var ids []int64
	view(t, s, func(tx *Tx) error {
		items, err := tx.Due(now, limit)
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		return err
	})
	return ids
}

func TestOutbox(t *testing.T) { eachBackend(t, testOutbox) }

func testOutbox(t *testing.T, b backend) {
	s := b.open(t, Options{})
	later := item("slack", t0)
	later.NextAttemptAt = t0.Add(time.Hour)
	in := []lifecycle.OutboxItem{item("slack", t0), item("webhook", t0), later, item("stdout", t0.Add(time.Minute))}
	in[1].Status = lifecycle.Resolved
	update(t, s, func(tx *Tx) error {
		for _, it := range in {
			if _, err := tx.Enqueue(it); err != nil {
				return err
			}
		}
		n, err := tx.PendingCount()
		if n != 4 {
			t.Errorf("pending: got %d, want 4", n)
		}
		return err
	})
	if got, want := dueIDs(t, s, t0.Add(time.Hour), 0), []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("due in an hour: got %v, want %v (ids from 1, oldest first)", got, want)
	}

	// 1 is sent; 2 fails and is retried later; 3 fails for good.
	update(t, s, func(tx *Tx) error {
		return errors.Join(
			claimed(tx, 1, t0), claimed(tx, 2, t0), claimed(tx, 3, t0.Add(time.Hour)),
			tx.MarkSent(1, testOwner, t0.Add(2*time.Second)),
			tx.MarkFailed(2, testOwner, t0.Add(2*time.Second), "HTTP 429", t0.Add(10*time.Minute), false),
			tx.MarkFailed(3, testOwner, t0.Add(2*time.Hour), "channel_not_found", time.Time{}, true),
		)
	})
	view(t, s, func(tx *Tx) error {
		n, err := tx.PendingCount()
		if n != 2 {
			t.Errorf("pending: got %d, want 2", n)
		}
		return err
	})

	for _, tt := range []struct {
		name string
		fn   func(tx *Tx) error
		want string
	}{
		{"sent twice", func(tx *Tx) error { return tx.MarkSent(1, testOwner, t0) },
			"mark notification 1 sent: it was already sent at 2026-03-01T12:00:02Z"},
		{"dead then sent", func(tx *Tx) error { return tx.MarkSent(3, testOwner, t0) },
			"mark notification 3 sent: it was given up on at 2026-03-01T14:00:00Z"},
		{"unknown id", func(tx *Tx) error { return tx.MarkFailed(99, testOwner, t0, "x", t0, false) },
			"mark notification 99 failed: not found"},
		{"no next attempt", func(tx *Tx) error {
			return errors.Join(claimed(tx, 2, t0.Add(10*time.Minute)), tx.MarkFailed(2, testOwner, t0, "x", time.Time{}, false))
		},
			"mark notification 2 failed: next attempt: time is not set"},
		{"bad payload", func(tx *Tx) error {
			it := item("slack", t0)
			it.Payload = []byte("not json")
			_, err := tx.Enqueue(it)
			return err
		}, `enqueue firing notification of 3f1c2a9b8d7e6f50 for receiver "slack": the payload is not valid JSON`},
		{"bad status", func(tx *Tx) error {
			it := item("slack", t0)
			it.Status = "sent"
			_, err := tx.Enqueue(it)
			return err
		}, `enqueue sent notification of 3f1c2a9b8d7e6f50 for receiver "slack": unknown status "sent": want firing or resolved`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, s.Update(t.Context(), tt.fn), tt.want) })
	}
}

// crashEnv names the database a helper process writes to before it dies.
const crashEnv = "GUARDD_STORE_CRASH_DB"

// TestCrashHelper is not a test: run by TestOutboxCrash in a process of its
// own, it enqueues a notification, starts another transaction, and exits
// half-way through it without closing anything, as a killed guardd would.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestOutboxCrash")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		os.Exit(2)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		_, err := tx.Enqueue(item("slack", t0))
		return err
	})
	if err != nil {
		os.Exit(2)
	}
	s.Update(ctx, func(tx *Tx) error {
		tx.Enqueue(item("half-written", t0))
		os.Exit(3) // crash before commit
		return nil
	})
	os.Exit(2)
}

func TestOutboxCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("helper: got %v, want exit status 3\n%s", err, out)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("got no WAL file left by the crash (%v), want one: the crash must skip the clean close", err)
	}

	s := openAt(t, path, Options{})
	if got, want := dueIDs(t, s, t0, 0), []int64{1}; !slices.Equal(got, want) {
		t.Fatalf("due after the crash: got %v, want %v (the committed item once, nothing half-written)", got, want)
	}
	update(t, s, func(tx *Tx) error {
		return errors.Join(claimed(tx, 1, t0), tx.MarkSent(1, testOwner, t0.Add(time.Second)))
	})
	if got := dueIDs(t, s, t0.Add(time.Hour), 0); len(got) != 0 {
		t.Errorf("due after MarkSent: got %v, want none", got)
	}
	s.Close()

	s = openAt(t, path, Options{})
	if got := dueIDs(t, s, t0.Add(time.Hour), 0); len(got) != 0 {
		t.Errorf("due after MarkSent and a restart: got %v, want none", got)
	}
}
