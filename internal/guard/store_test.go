package guard_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
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

// Like guardd check, each poll is a new process that rebuilds the ledger
// from the store: the reason a part could not be read survives it, into
// the source-blind alert.
func TestUnavailableReasonSurvivesTheStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const why = "GET /dashboard/billing/credit_grants: http 401 Unauthorized: invalid session " +
		"(the session key (session_key) was refused. Fix: give a browser session key (sess-…))"
	a := lt.Account("5", "10")
	rec := &recorder{}
	for i := range 4 {
		at := lt.T0.Add(time.Duration(i) * time.Hour)
		src := &fakeSource{FetchFunc: func(context.Context, time.Time) (billing.Observation, error) {
			o := lt.At(at).Shown("10.00").Build()
			o.Parts[billing.PartGrants] = billing.PartStatus{Source: "openai:GET /dashboard/billing/credit_grants", AsOf: at, Unavailable: why}
			return o, nil
		}}
		g := guard.New([]guard.Account{{Account: a, Source: src}}, guard.Options{Params: rules.DefaultParams(), State: st.Lifecycle(), History: st,
			Receivers: []alert.Receiver{{Name: "rec", MinSeverity: billing.SeverityInfo, Notifier: rec}}})
		if err := g.Load(ctx, at); err != nil {
			t.Fatal(err)
		}
		rep, err := g.Cycle(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Accounts[a.Name].Unavailable[billing.PartGrants].Unavailable; got != why {
			t.Fatalf("poll %d: report says grants unavailable because %q, want %q", i, got, why)
		}
	}
	var blind []alert.Notification
	for _, n := range rec.got {
		if n.Finding.Rule == "source-blind" {
			blind = append(blind, n)
		}
	}
	if len(blind) != 1 {
		t.Fatalf("got %d source-blind notifications (%v), want 1", len(blind), rec.events())
	}
	f := blind[0].Finding
	for i, e := range f.Evidence {
		want := "grants unavailable: the same reason"
		if i == 0 {
			want = "grants unavailable: " + why
		}
		if e.Note != want {
			t.Errorf("source-blind evidence of the poll at %s: %q, want %q", e.At, e.Note, want)
		}
	}
	if !strings.Contains(f.Summary, why) {
		t.Errorf("source-blind summary %q: want it to carry the reason", f.Summary)
	}
	if want := "Fix: give a browser session key (sess-…)"; f.Recommendation != want {
		t.Errorf("source-blind recommendation %q, want %q", f.Recommendation, want)
	}
}

// counted counts what a guard writes to the store: the ids it records
// first sights of, and the ledger checkpoints, in transactions that were
// committed.
type counted struct {
	lifecycle.Store
	ids, checkpoints int
}

func (s *counted) Update(ctx context.Context, fn func(lifecycle.Tx) error) error {
	var tx countedTx
	err := s.Store.Update(ctx, func(ltx lifecycle.Tx) error {
		tx = countedTx{Tx: ltx, HistoryTx: ltx.(guard.HistoryTx)}
		return fn(&tx)
	})
	if err == nil {
		s.ids, s.checkpoints = s.ids+tx.ids, s.checkpoints+tx.checkpoints
	}
	return err
}

type countedTx struct {
	lifecycle.Tx
	guard.HistoryTx
	ids, checkpoints int
}

func (t *countedTx) RecordFirstSeen(account, kind string, ids []string, at time.Time) error {
	t.ids += len(ids)
	return t.HistoryTx.RecordFirstSeen(account, kind, ids, at)
}

func (t *countedTx) PutLedgerCheckpoint(c store.LedgerCheckpoint) error {
	t.checkpoints++
	return t.HistoryTx.PutLedgerCheckpoint(c)
}

// The store keeps when guardd first saw each grant and charge: the time of
// the first observation that listed it, through restarts (ledgers read
// back from their checkpoints). Each is written with that poll, not again
// at every poll that lists it: over 20 days of hourly polls of an account
// listing its grants and charges each time, the ids written are the
// distinct ids, not one for each listing.
func TestFirstSightsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	a, polls := lt.History(lt.ShapeGrants, time.Hour, 24*20)
	st := openStore(t)
	counted := &counted{Store: st.Lifecycle()}
	opts := guard.Options{Params: rules.DefaultParams(), State: counted, History: st}
	first := make(map[string]time.Time) // kind/id: the first listing's time
	listings := 0
	list := func(kind, id string, at time.Time) {
		listings++
		if _, ok := first[kind+"/"+id]; !ok {
			first[kind+"/"+id] = at
		}
	}
	var g *guard.Guard
	for i, p := range polls {
		if i%50 == 0 {
			g = loaded(t, a, polls, opts, p.At)
		}
		if _, err := g.Cycle(ctx, p.At); err != nil {
			t.Fatal(err)
		}
		if p.Err != nil {
			continue
		}
		if p.Obs.Has(billing.PartGrants) {
			for _, gr := range p.Obs.Grants {
				list(store.KindGrant, gr.ID, p.Obs.At)
			}
		}
		if p.Obs.Has(billing.PartCharges) {
			for _, c := range p.Obs.Charges {
				list(store.KindCharge, c.ID, p.Obs.At)
			}
		}
	}
	if len(first) < 5 || listings < 10*len(first) {
		t.Fatalf("the history lists %d ids %d times: too few to tell", len(first), listings)
	}
	never := polls[len(polls)-1].At.Add(24 * time.Hour)
	err := st.Update(ctx, func(tx *store.Tx) error {
		for key, want := range first {
			kind, id, _ := strings.Cut(key, "/")
			got, err := tx.FirstSeen(a.Name, kind, id, never)
			if err != nil {
				return err
			}
			if !got.Equal(want) {
				t.Errorf("%s %s: first seen at %s, want %s", kind, id, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counted.ids != len(first) {
		t.Errorf("%d first sights written for %d ids listed %d times, want one for each id", counted.ids, len(first), listings)
	}
}
