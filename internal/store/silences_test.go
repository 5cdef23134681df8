package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSilences(t *testing.T) {
	s := openTest(t, Options{})
	day := 24 * time.Hour
	add := []Silence{
		{Rule: "low-runway", Account: "dev", Start: t0, End: t0.Add(day), Comment: "dev is being drained", CreatedBy: "ana"},
		{Rule: "", Account: "staging", Start: t0, End: t0.Add(2 * day), Comment: "migration", CreatedBy: "bo"},
		{Rule: "phantom-grant", Account: "", Start: t0.Add(day), End: t0.Add(3 * day), Comment: "provider bug #12"},
		{Rule: "low-runway", Account: "dev", Start: t0, End: t0.Add(7 * day), Comment: "longer", CreatedBy: "ana"},
	}
	var ids []int64
	update(t, s, func(tx *Tx) error {
		for _, si := range add {
			id, err := tx.AddSilence(si)
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

	silenced := []struct {
		name          string
		rule, account string
		at            time.Time
		want          int64 // 0: not silenced
	}{
		{"exact match, the longest wins", "low-runway", "dev", t0.Add(time.Hour), 4},
		{"start is inclusive", "low-runway", "dev", t0, 4},
		{"before start", "low-runway", "dev", t0.Add(-time.Nanosecond), 0},
		{"other account", "low-runway", "prod", t0.Add(time.Hour), 0},
		{"any rule on staging", "recharge-burst", "staging", t0.Add(time.Hour), 2},
		{"end is exclusive", "recharge-burst", "staging", t0.Add(2 * day), 0},
		{"any account, not yet", "phantom-grant", "prod", t0.Add(time.Hour), 0},
		{"any account, started", "phantom-grant", "prod", t0.Add(day), 3},
		{"any account, other rule", "low-runway", "prod", t0.Add(day), 0},
	}
	for _, tt := range silenced {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx *Tx) error {
				got, ok, err := tx.Silenced(tt.rule, tt.account, tt.at)
				if ok != (tt.want != 0) || got.ID != tt.want {
					t.Errorf("got silence %d (%v), want %d", got.ID, ok, tt.want)
				}
				return err
			})
		})
	}

	active := func(at time.Time) []int64 {
		var got []int64
		view(t, s, func(tx *Tx) error {
			ss, err := tx.Silences(at)
			for _, si := range ss {
				got = append(got, si.ID)
			}
			return err
		})
		return got
	}
	if got, want := active(time.Time{}), []int64{4, 3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("all silences: got %v, want %v (newest first)", got, want)
	}
	if got, want := active(t0.Add(36*time.Hour)), []int64{4, 3, 2}; !slices.Equal(got, want) {
		t.Errorf("active after 36h: got %v, want %v", got, want)
	}

	// Expire silence 4 early: silence 1 now decides for low-runway on dev.
	update(t, s, func(tx *Tx) error { return tx.ExpireSilence(4, t0.Add(2*time.Hour)) })
	view(t, s, func(tx *Tx) error {
		got, ok, err := tx.Silenced("low-runway", "dev", t0.Add(3*time.Hour))
		if !ok || got.ID != 1 {
			t.Errorf("after expiring 4: got silence %d (%v), want 1", got.ID, ok)
		}
		// Both are active before the expiry, but 4 now ends first.
		got, ok, err2 := tx.Silenced("low-runway", "dev", t0.Add(time.Hour))
		if !ok || got.ID != 1 {
			t.Errorf("before 4 was expired: got silence %d (%v), want 1", got.ID, ok)
		}
		ss, err3 := tx.Silences(time.Time{})
		if len(ss) == 4 && !ss[0].ExpiredAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("silence 4: got expired at %s, want %s", ss[0].ExpiredAt, t0.Add(2*time.Hour))
		}
		return errors.Join(err, err2, err3)
	})
	if got, want := active(t0.Add(36*time.Hour)), []int64{3, 2}; !slices.Equal(got, want) {
		t.Errorf("active after 36h: got %v, want %v", got, want)
	}

	view(t, s, func(tx *Tx) error {
		ss, err := tx.Silences(time.Time{})
		got := ss[len(ss)-1]
		want := add[0]
		want.ID = 1
		if got.Rule != want.Rule || got.Account != want.Account || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) ||
			got.Comment != want.Comment || got.CreatedBy != want.CreatedBy || !got.ExpiredAt.IsZero() {
			t.Errorf("silence 1: got %+v, want %+v", got, want)
		}
		return err
	})

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
			_, err := tx.AddSilence(Silence{Rule: "r", Start: t0, End: t0, Comment: "c"})
			return err
		}, `add silence of rule "r" on account "": end 2026-03-01T12:00:00Z is not after start 2026-03-01T12:00:00Z`},
		{"no comment", func(tx *Tx) error {
			_, err := tx.AddSilence(Silence{Rule: "r", Start: t0, End: t0.Add(time.Hour), Comment: "  "})
			return err
		}, `add silence of rule "r" on account "": a silence needs a comment saying why`},
		{"no end", func(tx *Tx) error {
			_, err := tx.AddSilence(Silence{Rule: "r", Start: t0, Comment: "c"})
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
