package guard_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
)

// named returns lt.Account named name.
func named(name string) billing.Account {
	a := lt.Account("5", "10")
	a.Name = name
	return a
}

// stored reports whether the store holds a poll of each account.
func stored(ctx context.Context, st *store.Store, accounts ...string) (bool, error) {
	all := true
	err := st.View(ctx, func(tx *store.Tx) error {
		for _, a := range accounts {
			polls, err := tx.RecentPolls(a, 1)
			if err != nil {
				return err
			}
			all = all && len(polls) == 1
		}
		return nil
	})
	return all, err
}

// TestCycleWritesAsPollsReturn: an account's poll and decisions are written
// as soon as its poll returns, while another poll is still in flight; the
// slow account's own poll waits until it sees the others' in the store. It
// is bounded per group as the poller's PerGroup says.
func TestCycleWritesAsPollsReturn(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := lt.T0
	fast := []string{"fast-1", "fast-2", "fast-3"}
	answer := func(context.Context, time.Time) (billing.Observation, error) {
		return lt.At(at).Shown("10.00").Build(), nil
	}
	slow := &fakeSource{FetchFunc: func(ctx context.Context, now time.Time) (billing.Observation, error) {
		// Not a matter of speed: a minute is what a poll that waits
		// for ever is given.
		for range 6000 {
			if ok, err := stored(ctx, st, fast...); err != nil || ok {
				if err != nil {
					return billing.Observation{}, err
				}
				return answer(ctx, now)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return billing.Observation{}, fmt.Errorf("%w: the other accounts were not written while this poll was in flight", poller.ErrUnavailable)
	}}
	accounts := []guard.Account{{Account: named("slow"), Source: slow, Group: "slow"}}
	for _, name := range fast {
		accounts = append(accounts, guard.Account{Account: named(name), Source: &fakeSource{FetchFunc: answer}, Group: "fast"})
	}
	g := guard.New(accounts, guard.Options{Params: rules.DefaultParams(), State: st.Lifecycle(), History: st,
		Poller: poller.Poller{Concurrency: 2, PerGroup: map[string]int{"slow": 1}}})
	if err := g.Load(ctx, at); err != nil {
		t.Fatal(err)
	}
	rep, err := g.Cycle(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) > 0 || rep.Polled != 4 {
		t.Errorf("got %d polled, failed %v, want every account read", rep.Polled, rep.Failed)
	}
	if ok, err := stored(ctx, st, append(fast, "slow")...); !ok || err != nil {
		t.Errorf("got the polls stored %v (%v), want every account's", ok, err)
	}
}

// TestCycleReportsInAccountOrder: polls that end in the reverse order are
// reported in the accounts' order, as Poll's results were.
func TestCycleReportsInAccountOrder(t *testing.T) {
	const n = 5
	// Account i's poll ends after account i+1's has: the last ends first.
	ended := make([]chan struct{}, n+1)
	for i := range ended {
		ended[i] = make(chan struct{})
	}
	close(ended[n])
	var accounts []guard.Account
	var want []string
	for i := range n {
		name := fmt.Sprintf("acct-%d", i)
		want = append(want, name)
		accounts = append(accounts, guard.Account{Account: named(name), Source: &fakeSource{FetchFunc: func(ctx context.Context, _ time.Time) (billing.Observation, error) {
			<-ended[i+1]
			defer close(ended[i])
			return billing.Observation{}, fmt.Errorf("%w: %s is down", poller.ErrUnavailable, name)
		}}})
	}
	g := guard.New(accounts, guard.Options{Params: rules.DefaultParams(), Poller: poller.Poller{Concurrency: n}})
	rep, err := g.Cycle(context.Background(), lt.T0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Failed {
		got = append(got, f.Account)
		if !errors.Is(f, poller.ErrUnavailable) {
			t.Errorf("%s: got %v, want it unavailable", f.Account, f.Err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failed accounts: got %v, want %v", got, want)
	}
}
