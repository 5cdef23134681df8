package file_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/file"
)

func TestServesInOrderResumesAndRunsOut(t *testing.T) {
	var obs []billing.Observation
	for h := range 4 {
		obs = append(obs, lt.At(lt.T0.Add(time.Duration(h)*time.Hour)).Shown("1").Build())
	}
	src := file.New("h.json", obs)
	ctx := context.Background()
	if o, err := src.Fetch(ctx, time.Time{}); err != nil || !o.At.Equal(obs[0].At) {
		t.Fatalf("first fetch: got %s, %v; want the first observation", o.At, err)
	}
	// A new process after two stored observations continues at the third.
	src = file.New("h.json", obs)
	src.Resume(obs[1].At)
	if o, err := src.Fetch(ctx, time.Time{}); err != nil || !o.At.Equal(obs[2].At) {
		t.Fatalf("after resume: got %s, %v; want the third observation", o.At, err)
	}
	src.Fetch(ctx, time.Time{})
	_, err := src.Fetch(ctx, time.Time{})
	if !errors.Is(err, poller.ErrUnavailable) {
		t.Errorf("past the end: got %v, want ErrUnavailable (blind, not an empty account)", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := file.New("h.json", obs).Fetch(cancelled, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

// TestLoop: a looping history starts again after its last observation, a
// whole number of days later (its span plus its last interval, rounded
// up), with every time moved and what the history adds after its first
// observation renamed for the lap; a new process resumes at the right
// observation of the right lap.
func TestLoop(t *testing.T) {
	mar := lt.T0.AddDate(0, 0, 30)
	start := lt.Grant("cg_1", billing.GrantPurchased, "10", "6", lt.T0.AddDate(0, 0, -14), mar.AddDate(1, 0, 0))
	added := lt.Grant("cg_2", billing.GrantPurchased, "10", "0", lt.T0.AddDate(0, 0, -14), mar.AddDate(1, 0, 0))
	charge := lt.Invoice("in_1", lt.T0.Add(5*time.Hour), "10", "0", billing.TriggerAutoRecharge)
	day := billing.CostBucket{Start: lt.T0, End: lt.T0.Add(24 * time.Hour), Amount: lt.USD("1")}
	obs := []billing.Observation{
		lt.At(lt.T0).Shown("4").Grants(start).Costs(day).Build(),
		lt.At(lt.T0.Add(6*time.Hour)).Shown("14").Grants(start, added).Charges(charge).Costs(day).Build(),
		lt.At(lt.T0.Add(30*time.Hour)).Shown("13").Grants(start, added).Charges(charge).Build(),
	}
	src := file.New("h.json", obs)
	if err := src.Loop(); err != nil {
		t.Fatal(err)
	}
	// Span 30 h plus the last interval, 24 h: 54 h, so two days a lap.
	const period = 72 * time.Hour
	ctx := context.Background()
	var prev time.Time
	for n := range 3*len(obs) + 1 {
		if left, want := src.Left(), len(obs)-n%len(obs); left != want {
			t.Errorf("poll %d: Left() = %d, want %d", n, left, want)
		}
		o, err := src.Fetch(ctx, time.Time{})
		if err != nil {
			t.Fatalf("poll %d: %v (a looping history never runs out)", n, err)
		}
		lap, i := n/len(obs), n%len(obs)
		d := time.Duration(lap) * period
		if want := obs[i].At.Add(d); !o.At.Equal(want) || !o.At.After(prev) {
			t.Fatalf("poll %d: At %s, want %s, after %s", n, o.At, want, prev)
		}
		prev = o.At
		if st := o.Parts[billing.PartBalance]; !st.AsOf.Equal(o.At) {
			t.Errorf("poll %d: balance as of %s, want %s", n, st.AsOf, o.At)
		}
		suffix := ""
		if lap > 0 {
			suffix = fmt.Sprintf("-lap%d", lap+1)
		}
		if g := o.Grants[0]; g.ID != "cg_1" || !g.ExpiresAt.Equal(start.ExpiresAt.Add(d)) || !g.EffectiveAt.Equal(start.EffectiveAt.Add(d)) {
			t.Errorf("poll %d: first grant %s effective %s expires %s, want cg_1 moved by %s", n, g.ID, g.EffectiveAt, g.ExpiresAt, d)
		}
		if i > 0 {
			if g := o.Grants[1]; g.ID != "cg_2"+suffix {
				t.Errorf("poll %d: added grant %q, want %q", n, g.ID, "cg_2"+suffix)
			}
			if c := o.Charges[0]; c.ID != "in_1"+suffix || !c.PaidAt.Equal(charge.PaidAt.Add(d)) {
				t.Errorf("poll %d: charge %s paid %s, want %s paid %s", n, c.ID, c.PaidAt, "in_1"+suffix, charge.PaidAt.Add(d))
			}
		}
		if i < 2 {
			if c := o.Costs[0]; !c.Start.Equal(day.Start.Add(d)) || c.End.Sub(c.Start) != 24*time.Hour || c.Start.Hour() != 0 {
				t.Errorf("poll %d: cost bucket %s–%s, want the day %s", n, c.Start, c.End, day.Start.Add(d))
			}
		}
	}
	if obs[1].Grants[1].ID != "cg_2" || obs[1].Charges[0].ID != "in_1" || !obs[2].At.Equal(lt.T0.Add(30*time.Hour)) {
		t.Errorf("the history itself changed: %+v", obs[1:])
	}

	// A new process continues after the last stored observation, in
	// whichever lap it was.
	for _, tc := range []struct {
		after time.Time
		want  time.Time
	}{
		{lt.T0.Add(-time.Hour), lt.T0},
		{lt.T0.Add(30 * time.Hour), lt.T0.Add(period)},
		{lt.T0.Add(2*period + 6*time.Hour), lt.T0.Add(2*period + 30*time.Hour)},
		{lt.T0.Add(2*period + 7*time.Hour), lt.T0.Add(2*period + 30*time.Hour)},
		{lt.T0.Add(2*period + 40*time.Hour), lt.T0.Add(3 * period)},
	} {
		src := file.New("h.json", obs)
		if err := src.Loop(); err != nil {
			t.Fatal(err)
		}
		src.Resume(tc.after)
		if o, err := src.Fetch(ctx, time.Time{}); err != nil || !o.At.Equal(tc.want) {
			t.Errorf("resume after %s: got %s, %v; want %s", tc.after, o.At, err, tc.want)
		}
	}
	if err := file.New("h.json", obs[:1]).Loop(); err == nil {
		t.Errorf("Loop of one observation: got no error, want one")
	}
}
