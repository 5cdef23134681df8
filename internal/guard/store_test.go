package guard_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
)

// costSource serves one observation with cost buckets and remembers what
// it was told to resume from.
type costSource struct {
	fakeSource
	resumed time.Time
}

func (c *costSource) ResumeCosts(t time.Time) { c.resumed = t }

func TestLoadResumesCostCursor(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := lt.T0
	o := lt.At(day.Add(30 * time.Hour)).Shown("10.00").Build()
	o.Parts[billing.PartCosts] = billing.PartStatus{Source: "test:costs", AsOf: o.At}
	o.Costs = []billing.CostBucket{
		{Start: day, End: day.Add(24 * time.Hour), Amount: lt.USD("1.00"), Settled: true},
		{Start: day.Add(24 * time.Hour), End: day.Add(48 * time.Hour), Amount: lt.USD("0.40")},
	}
	src := &costSource{fakeSource: fakeSource{FetchFunc: func(context.Context, time.Time) (billing.Observation, error) { return o, nil }}}
	a := lt.Account("5", "10")
	g := guard.New([]guard.Account{{Account: a, Source: src}}, guard.Options{Params: rules.DefaultParams(), State: st.Lifecycle(), History: st})
	if err := g.Load(ctx, o.At); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Cycle(ctx, o.At); err != nil {
		t.Fatal(err)
	}
	// A new process: the settled day is not read again.
	src2 := &costSource{}
	g2 := guard.New([]guard.Account{{Account: a, Source: src2}}, guard.Options{Params: rules.DefaultParams(), State: st.Lifecycle(), History: st})
	if err := g2.Load(ctx, o.At.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if want := day.Add(24 * time.Hour); !src2.resumed.Equal(want) {
		t.Errorf("cost cursor resumed at %s, want %s (the end of the last settled day)", src2.resumed, want)
	}
}
