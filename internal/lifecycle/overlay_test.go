package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/lifecycle/lifecycletest"
	"github.com/guardd/guardd/internal/store"
)

// TestOverlayContract runs the port contract against an Overlay over an
// empty store: on its own it is a Store like any other.
func TestOverlayContract(t *testing.T) {
	lifecycletest.Run(t, func(*testing.T) lifecycle.Store { return lifecycle.NewOverlay(lifecycle.NewMemory()) })
}

// TestOverlayReadsThroughWritesNothing puts an Overlay over a state store
// that already holds an alert, silences, findings and a pending outbox item:
// the overlay sees them, changes them for itself only, and the store is
// left as it was.
func TestOverlayReadsThroughWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := st.Lifecycle()
	decide := decider(t, base)
	decide(lt.T0, burst())
	var silence int64
	if err := base.Update(ctx, func(tx lifecycle.Tx) error {
		var err error
		silence, err = tx.AddSilence(lifecycle.Silence{Rule: "credits-accumulating", Start: lt.T0, End: lt.T0.Add(48 * time.Hour), Comment: "known"})
		if err != nil {
			return err
		}
		_, err = tx.Enqueue(lifecycle.OutboxItem{Receiver: "slack", Fingerprint: burst().Fingerprint(), Status: lifecycle.Firing,
			Payload: []byte(`{}`), CreatedAt: lt.T0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	snapshot := func(s lifecycle.Store) string {
		var b []byte
		if err := s.View(ctx, func(tx lifecycle.Tx) error {
			as, err1 := tx.Alerts("", "")
			fs, err2 := tx.Findings("", time.Time{})
			ss, err3 := tx.Silences(time.Time{})
			items, err4 := tx.Due(lt.T0.AddDate(1, 0, 0), 0)
			b = fmtJSON(as, fs, ss, items)
			return errors.Join(err1, err2, err3, err4)
		}); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := snapshot(base)

	o := lifecycle.NewOverlay(base)
	// Decided through the overlay, the burst is already firing: at its
	// repeat it is repeated, then it resolves (ResolveAfter 2).
	overlay := decider(t, o)
	if got, want := overlay(lt.T0.Add(4*time.Hour), burst()), "[repeat recharge-burst]"; fmtNames(got) != want {
		t.Errorf("through the overlay at 04:00: got %v, want %s", got, want)
	}
	overlay(lt.T0.Add(5 * time.Hour))
	if got, want := overlay(lt.T0.Add(6*time.Hour)), "[resolved recharge-burst]"; fmtNames(got) != want {
		t.Errorf("through the overlay at 06:00: got %v, want %s", got, want)
	}
	var added int64
	if err := o.Update(ctx, func(tx lifecycle.Tx) error {
		// The base's silence applies, and can be expired here only.
		if _, ok, err := tx.Silenced("credits-accumulating", "acme", lt.T0.Add(time.Hour)); err != nil || !ok {
			t.Errorf("the base's silence through the overlay: got %v, %v, want it", ok, err)
		}
		if err := tx.ExpireSilence(silence, lt.T0.Add(time.Hour)); err != nil {
			return err
		}
		var err error
		added, err = tx.AddSilence(lifecycle.Silence{Rule: "low-runway", Start: lt.T0, End: lt.T0.Add(time.Hour), Comment: "mine"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if added <= silence {
		t.Errorf("a silence added through the overlay: got id %d, want one after the base's %d", added, silence)
	}
	if err := o.View(ctx, func(tx lifecycle.Tx) error {
		items, err := tx.Due(lt.T0.AddDate(1, 0, 0), 0)
		if len(items) != 0 {
			t.Errorf("the overlay's outbox: got %d items, want none: the base's are not its own", len(items))
		}
		if _, ok, _ := tx.Silenced("credits-accumulating", "acme", lt.T0.Add(2*time.Hour)); ok {
			t.Error("the base's silence, expired through the overlay: still in effect there")
		}
		as, _ := tx.Alerts("acme", lifecycle.Resolved)
		fs, _ := tx.Findings("acme", time.Time{})
		if len(as) != 1 || len(fs) != 2 {
			t.Errorf("through the overlay: got %d resolved alerts and %d findings, want 1 and 2", len(as), len(fs))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(base); after != before {
		t.Errorf("the base changed under the overlay:\nbefore %s\nafter  %s", before, after)
	}
}

func fmtJSON(vs ...any) []byte {
	b, _ := json.Marshal(vs)
	return b
}

func fmtNames(names []string) string { return fmt.Sprint(names) }
