package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func item(receiver string, created time.Time) OutboxItem {
	return OutboxItem{
		Receiver: receiver, Fingerprint: "3f1c2a9b8d7e6f50", Status: Firing,
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

func TestOutbox(t *testing.T) {
	s := openTest(t, Options{})
	later := item("slack", t0)
	later.NextAttemptAt = t0.Add(time.Hour)
	in := []OutboxItem{item("slack", t0), item("webhook", t0), later, item("stdout", t0.Add(time.Minute))}
	in[1].Status = Resolved
	update(t, s, func(tx *Tx) error {
		for i, it := range in {
			id, err := tx.Enqueue(it)
			if err != nil {
				return err
			}
			in[i].ID = id
		}
		return nil
	})

	view(t, s, func(tx *Tx) error {
		items, err := tx.Due(t0.Add(time.Minute), 0)
		if err != nil {
			return err
		}
		if len(items) != 3 {
			t.Fatalf("due: got %d items, want 3", len(items))
		}
		for i, want := range []OutboxItem{in[0], in[1], in[3]} {
			got := items[i]
			if got.ID != want.ID || got.Receiver != want.Receiver || got.Fingerprint != want.Fingerprint ||
				got.Status != want.Status || string(got.Payload) != string(want.Payload) ||
				!got.CreatedAt.Equal(want.CreatedAt) || !got.NextAttemptAt.Equal(want.CreatedAt) ||
				got.Attempts != 0 || got.LastError != "" || !got.LastAttemptAt.IsZero() {
				t.Errorf("due item %d: got %+v, want %+v", i, got, want)
			}
		}
		n, err := tx.PendingCount()
		if n != 4 {
			t.Errorf("pending: got %d, want 4", n)
		}
		return err
	})
	if got, want := dueIDs(t, s, t0, 1), []int64{1}; !slices.Equal(got, want) {
		t.Errorf("due with limit 1: got %v, want %v", got, want)
	}
	if got, want := dueIDs(t, s, t0.Add(time.Hour), 0), []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("due in an hour: got %v, want %v (oldest first)", got, want)
	}

	// 1 is sent; 2 fails and is retried later; 3 fails for good.
	update(t, s, func(tx *Tx) error {
		return errors.Join(
			tx.MarkSent(1, t0.Add(2*time.Second)),
			tx.MarkFailed(2, t0.Add(2*time.Second), "HTTP 429", t0.Add(10*time.Minute), false),
			tx.MarkFailed(3, t0.Add(2*time.Hour), "channel_not_found", time.Time{}, true),
		)
	})
	if got, want := dueIDs(t, s, t0.Add(5*time.Minute), 0), []int64{4}; !slices.Equal(got, want) {
		t.Errorf("due after 5 minutes: got %v, want %v", got, want)
	}
	if got, want := dueIDs(t, s, t0.Add(24*time.Hour), 0), []int64{2, 4}; !slices.Equal(got, want) {
		t.Errorf("due after a day: got %v, want %v", got, want)
	}
	view(t, s, func(tx *Tx) error {
		items, err := tx.Due(t0.Add(24*time.Hour), 0)
		if err != nil {
			return err
		}
		if got := items[0]; got.Attempts != 1 || got.LastError != "HTTP 429" || !got.LastAttemptAt.Equal(t0.Add(2*time.Second)) ||
			!got.NextAttemptAt.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("retried item: got %+v, want 1 attempt, HTTP 429, next at +10m", got)
		}
		dead, err := tx.Dead()
		if err != nil {
			return err
		}
		if len(dead) != 1 || dead[0].ID != 3 || dead[0].LastError != "channel_not_found" || dead[0].Attempts != 1 {
			t.Errorf("dead: got %+v, want item 3 with its error", dead)
		}
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
		{"sent twice", func(tx *Tx) error { return tx.MarkSent(1, t0) },
			"mark notification 1 sent: it was already sent at 2026-03-01T12:00:02Z"},
		{"dead then sent", func(tx *Tx) error { return tx.MarkSent(3, t0) },
			"mark notification 3 sent: it was given up on at 2026-03-01T14:00:00Z"},
		{"unknown id", func(tx *Tx) error { return tx.MarkFailed(99, t0, "x", t0, false) },
			"mark notification 99 failed: not found"},
		{"no next attempt", func(tx *Tx) error { return tx.MarkFailed(2, t0, "x", time.Time{}, false) },
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
	update(t, s, func(tx *Tx) error { return tx.MarkSent(1, t0.Add(time.Second)) })
	if got := dueIDs(t, s, t0.Add(time.Hour), 0); len(got) != 0 {
		t.Errorf("due after MarkSent: got %v, want none", got)
	}
	s.Close()

	s = openAt(t, path, Options{})
	if got := dueIDs(t, s, t0.Add(time.Hour), 0); len(got) != 0 {
		t.Errorf("due after MarkSent and a restart: got %v, want none", got)
	}
}

func TestMessagesSentSince(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	var ids []int64
	s.Update(ctx, func(tx *Tx) error {
		for i := 0; i < 4; i++ {
			id, err := tx.Enqueue(OutboxItem{Receiver: "slack", Fingerprint: "fp" + string(rune('0'+i)), Status: Firing,
				Payload: []byte(`{}`), CreatedAt: t0, NextAttemptAt: t0})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		// One message alone, then three items as one digest, an hour later.
		if err := tx.MarkSent(ids[0], t0); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[1:] {
			if err := tx.MarkSent(id, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	s.View(ctx, func(tx *Tx) error {
		for _, tc := range []struct {
			since time.Time
			want  int
		}{{t0, 2}, {t0.Add(time.Minute), 1}, {t0.Add(2 * time.Hour), 0}} {
			if got, err := tx.MessagesSentSince("slack", tc.since); err != nil || got != tc.want {
				t.Errorf("since %s: got %d (%v), want %d", tc.since, got, err, tc.want)
			}
		}
		if got, _ := tx.MessagesSentSince("email", t0); got != 0 {
			t.Errorf("another receiver: got %d, want 0", got)
		}
		return nil
	})
}
