package guard

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
)

// sourceOf serves polls, each at its time.
type sourceOf []lt.Poll

func (s sourceOf) Fetch(_ context.Context, now time.Time) (billing.Observation, error) {
	for _, p := range s {
		if p.At.Equal(now) {
			return p.Obs, p.Err
		}
	}
	return billing.Observation{}, fmt.Errorf("no poll at %s", now)
}

// pollLog is the poll log of the account's ledger as g holds it, oldest
// first, as times and errors.
func pollLog(t *testing.T, g *Guard) []string {
	t.Helper()
	w := g.accounts[0]
	l := w.ledger
	if l == nil {
		var err error
		if l, err = w.frozen.Thaw(); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, p := range slices.Backward(l.RecentPolls(ledger.MaxPolls)) {
		out = append(out, p.At.Format(time.RFC3339)+" "+p.Err)
	}
	return out
}

// An account's ledger loaded from its checkpoint keeps the checkpoint's
// poll log up to the checkpoint and reads from the store only the polls
// stored after it (reading every account's last 64 polls was a tenth of
// guardd check): a poll stored before the checkpoint that the ledger never
// logged stays out of it, and one stored after is in. A ledger rebuilt
// without its checkpoint takes the store's whole log, as before.
func TestLoadTakesThePollsAfterTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	a, polls := lt.History(lt.ShapeGrants, time.Hour, 12)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := Options{Params: rules.DefaultParams(), State: st.Lifecycle(), History: st}
	newGuard := func(now time.Time) *Guard {
		g := New([]Account{{Account: a, Source: sourceOf(polls)}}, opts)
		if err := g.Load(ctx, now); err != nil {
			t.Fatal(err)
		}
		return g
	}
	live := newGuard(polls[0].At)
	for _, p := range polls[:11] {
		if _, err := live.Cycle(ctx, p.At); err != nil {
			t.Fatal(err)
		}
	}
	var cp store.LedgerCheckpoint
	var haveCP bool
	if err := st.View(ctx, func(tx *store.Tx) (err error) {
		cp, haveCP, err = tx.LedgerCheckpoint(a.Name)
		return err
	}); err != nil || !haveCP {
		t.Fatalf("the checkpoint stored: %v, %v", haveCP, err)
	}
	if !cp.At.After(polls[0].At) || !cp.At.Before(polls[10].At) {
		t.Fatalf("checkpoint at %s: want one between the first and the last poll", cp.At)
	}
	// A poll stored before the checkpoint that its ledger never logged, and
	// one after the last poll.
	before := store.Poll{Account: a.Name, At: cp.At.Add(-time.Minute), Error: "stored, never logged"}
	after := store.Poll{Account: a.Name, At: polls[10].At.Add(time.Minute), Error: "stored after"}
	if err := st.Update(ctx, func(tx *store.Tx) error {
		if err := tx.RecordPoll(before); err != nil {
			return err
		}
		return tx.RecordPoll(after)
	}); err != nil {
		t.Fatal(err)
	}
	want := append(pollLog(t, live), after.At.Format(time.RFC3339)+" "+after.Error)
	got := pollLog(t, newGuard(after.At))
	if !slices.Equal(got, want) {
		t.Errorf("the poll log loaded from the checkpoint:\n%q\nwant the live ledger's and the poll stored after it:\n%q", got, want)
	}

	// Without its checkpoint the ledger is rebuilt, and its log is the
	// store's: the poll stored before is in it.
	if err := st.Update(ctx, func(tx *store.Tx) error { return tx.DeleteLedgerCheckpoint(a.Name) }); err != nil {
		t.Fatal(err)
	}
	rebuilt := pollLog(t, newGuard(after.At))
	if !slices.Contains(rebuilt, before.At.Format(time.RFC3339)+" "+before.Error) || !slices.Contains(rebuilt, after.At.Format(time.RFC3339)+" "+after.Error) {
		t.Errorf("the poll log of the rebuilt ledger:\n%q\nwant both polls recorded in the store", rebuilt)
	}
}
