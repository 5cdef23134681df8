package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
)

func TestSilences(t *testing.T) { eachBackend(t, testSilences) }

func testSilences(t *testing.T, b backend) {
	s := b.open(t, Options{})
	day := 24 * time.Hour
	var ids []int64
	update(t, s, func(tx *Tx) error {
		for _, days := range []time.Duration{1, 2, 3, 7} {
			id, err := tx.AddSilence(lifecycle.Silence{Rule: "low-runway", Start: t0, End: t0.Add(days * day), Comment: "c"})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if !slices.Equal(ids, []int64{1, 2, 3, 4}) {
		t.Errorf("ids: got %v, want [1 2 3 4]", ids)
	}
	update(t, s, func(tx *Tx) error { return tx.ExpireSilence(4, t0.Add(2*time.Hour)) })

	for _, tt := range []struct {
		name string
		fn   func(tx *Tx) error
		want string
	}{
		{"unknown id", func(tx *Tx) error { return tx.ExpireSilence(42, t0) }, "expire silence 42: not found"},
		{"already expired", func(tx *Tx) error { return tx.ExpireSilence(4, t0.Add(3*time.Hour)) },
			"expire silence 4: it was already expired at 2026-03-01T14:00:00Z"},
		{"already ended", func(tx *Tx) error { return tx.ExpireSilence(1, t0.Add(day)) },
			"expire silence 1: it already ended at 2026-03-02T12:00:00Z"},
		{"end before start", func(tx *Tx) error {
			_, err := tx.AddSilence(lifecycle.Silence{Rule: "r", Start: t0, End: t0, Comment: "c"})
			return err
		}, `add silence of rule "r" on account "": end 2026-03-01T12:00:00Z is not after start 2026-03-01T12:00:00Z`},
		{"no comment", func(tx *Tx) error {
			_, err := tx.AddSilence(lifecycle.Silence{Rule: "r", Start: t0, End: t0.Add(time.Hour), Comment: "  "})
			return err
		}, `add silence of rule "r" on account "": a silence needs a comment saying why`},
		{"no end", func(tx *Tx) error {
			_, err := tx.AddSilence(lifecycle.Silence{Rule: "r", Start: t0, Comment: "c"})
			return err
		}, `add silence of rule "r" on account "": end: time is not set`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, s.Update(t.Context(), tt.fn), tt.want) })
	}
	err := s.Update(t.Context(), func(tx *Tx) error { return tx.ExpireSilence(42, t0) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: got %v, want it to wrap ErrNotFound", err)
	}
}
