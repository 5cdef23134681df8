package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"

	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/lifecycle/lifecycletest"
)

// TestMemoryContract runs the port contract against Memory.
func TestMemoryContract(t *testing.T) {
	lifecycletest.Run(t, func(*testing.T) lifecycle.Store { return lifecycle.NewMemory() })
}

// A failed transaction leaves the alerts it replaced and the findings log
// as they were, however many chunks the log had grown by then, and the
// next one writes as if it never ran.
func TestMemoryRollbackKeepsEarlierWrites(t *testing.T) {
	ctx := context.Background()
	m := lifecycle.NewMemory()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := lifecycle.Alert{Account: "prod", Rule: "recharge-burst", Entity: "recharges", Severity: billing.SeverityCritical,
		State: lifecycle.Firing, FiredAt: t0, Finding: []byte(`{"summary":"before"}`)}
	rec := func(i int) lifecycle.FindingRecord {
		return lifecycle.FindingRecord{Account: "prod", Rule: "recharge-burst", Entity: "recharges",
			Severity: billing.SeverityCritical, At: t0.Add(time.Duration(i) * time.Minute)}
	}
	record := func(tx lifecycle.Tx, from, to int) error {
		for i := from; i < to; i++ {
			if err := tx.RecordFinding(rec(i)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := m.Update(ctx, func(tx lifecycle.Tx) error {
		if err := tx.PutAlert(a); err != nil {
			return err
		}
		return record(tx, 0, 20)
	}); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("failed half-way")
	err := m.Update(ctx, func(tx lifecycle.Tx) error {
		b := a
		b.Finding, b.MissCount = []byte(`{"summary":"after"}`), 2
		other := a
		other.Entity, other.Fingerprint = "charges", ""
		if err := errors.Join(tx.PutAlert(b), tx.PutAlert(other), record(tx, 20, 100)); err != nil {
			return err
		}
		return failed
	})
	if err != failed {
		t.Fatalf("update: got %v, want %v", err, failed)
	}
	// And a transaction after it writes on what was kept.
	if err := m.Update(ctx, func(tx lifecycle.Tx) error { return record(tx, 100, 101) }); err != nil {
		t.Fatal(err)
	}
	if err := m.View(ctx, func(tx lifecycle.Tx) error {
		as, err := tx.Alerts("", "")
		if err != nil {
			return err
		}
		if len(as) != 1 || string(as[0].Finding) != `{"summary":"before"}` || as[0].MissCount != 0 {
			t.Errorf("alerts: got %+v, want the one put before, unchanged", as)
		}
		fs, err := tx.Findings("", time.Time{})
		if err != nil {
			return err
		}
		var got []time.Time
		for _, f := range fs {
			got = append(got, f.At)
		}
		want := []time.Time{}
		for i := range 20 {
			want = append(want, rec(i).At)
		}
		want = append(want, rec(100).At)
		if !slices.Equal(got, want) {
			t.Errorf("findings: got %d (%v), want the first 20 and the last", len(got), got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
