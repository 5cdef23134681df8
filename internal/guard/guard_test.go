package guard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
)

// fakeSource answers Fetch with FetchFunc.
type fakeSource struct {
	FetchFunc func(ctx context.Context, now time.Time) (billing.Observation, error)
}

func (s *fakeSource) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	return s.FetchFunc(ctx, now)
}

// recorder is a notifier that keeps what it was sent.
type recorder struct {
	mu  sync.Mutex
	got []alert.Notification
}

var _ alert.Notifier = (*recorder)(nil)

func (r *recorder) Send(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return alert.Ref{}, false, nil
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.got {
		out = append(out, fmt.Sprintf("%s %s %s", n.At.Format("15:04"), n.Status, n.Finding.Rule))
	}
	return out
}

// script serves one observation per poll; an entry with err set fails.
type step struct {
	obs billing.Observation
	err error
}

func scripted(steps []step) *fakeSource {
	i := 0
	return &fakeSource{FetchFunc: func(context.Context, time.Time) (billing.Observation, error) {
		s := steps[i]
		i++
		return s.obs, s.err
	}}
}

func newGuard(rec *recorder, accounts ...guard.Account) *guard.Guard {
	return guard.New(accounts, guard.Options{
		Params: rules.DefaultParams(),
		Ledger: ledger.DefaultOptions(),
		Receivers: []alert.Receiver{
			{Name: "rec", MinSeverity: billing.SeverityInfo, Notifier: rec},
		},
	})
}

func grant(id, used string) billing.Grant {
	return lt.Grant(id, billing.GrantPurchased, "10.00", used, lt.T0.Add(-24*time.Hour), lt.T0.Add(365*24*time.Hour))
}

func TestCycleFiresOnceAndResolvesOnce(t *testing.T) {
	at := func(h int) time.Time { return lt.T0.Add(time.Duration(h) * time.Hour) }
	// Recharges at 1h, 2h, 3h (a burst), then quiet until the 6h window
	// passes; a failed poll at 5h must not resolve anything.
	var steps []step
	grants := []billing.Grant{grant("g0", "9.00")}
	for h := 0; h <= 10; h++ {
		if h >= 1 && h <= 3 {
			grants = append(grants, grant(fmt.Sprintf("g%d", h), "0"))
		}
		if h == 5 {
			steps = append(steps, step{err: fmt.Errorf("%w: HTTP 503", poller.ErrUnavailable)})
			continue
		}
		steps = append(steps, step{obs: lt.At(at(h)).Grants(grants...).Build()})
	}
	rec := &recorder{}
	g := newGuard(rec, guard.Account{Account: lt.Account("5", "10"), Source: scripted(steps)})
	for h := 0; h <= 10; h++ {
		rep, err := g.Cycle(context.Background(), at(h))
		if err != nil {
			t.Fatalf("cycle %d: %v", h, err)
		}
		if h == 5 && (len(rep.Failed) != 1 || !errors.Is(rep.Failed[0], poller.ErrUnavailable)) {
			t.Fatalf("cycle 5: got failures %v, want one unavailable", rep.Failed)
		}
	}
	want := []string{
		"02:00 firing recharge-above-threshold",
		"03:00 firing recharge-burst",
		"07:00 resolved recharge-burst", // (01:00, 07:00] holds two recharges
	}
	got := rec.events()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notifications:\ngot  %q\nwant %q", got, want)
	}
}

func TestSlowAccountDoesNotBlockOthers(t *testing.T) {
	hung := &fakeSource{FetchFunc: func(ctx context.Context, _ time.Time) (billing.Observation, error) {
		<-ctx.Done()
		return billing.Observation{}, fmt.Errorf("%w: %w", poller.ErrUnavailable, ctx.Err())
	}}
	ok := &fakeSource{FetchFunc: func(context.Context, time.Time) (billing.Observation, error) {
		return lt.At(lt.T0).Shown("10.00").Build(), nil
	}}
	slow, fast := lt.Account("5", "10"), lt.Account("5", "10")
	slow.Name, fast.Name = "slow", "fast"
	rec := &recorder{}
	g := guard.New([]guard.Account{{Account: slow, Source: hung}, {Account: fast, Source: ok}}, guard.Options{
		Params:    rules.DefaultParams(),
		Poller:    poller.Poller{Timeout: 50 * time.Millisecond},
		Receivers: []alert.Receiver{{Name: "rec", Notifier: rec}},
	})
	rep, err := g.Cycle(context.Background(), lt.T0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Polled != 1 || len(rep.Failed) != 1 || rep.Failed[0].Account != "slow" {
		t.Fatalf("got polled=%d failed=%v, want the fast account polled and the slow one failed", rep.Polled, rep.Failed)
	}
	if !errors.Is(rep.Failed[0], context.DeadlineExceeded) {
		t.Errorf("slow account error: got %v, want a deadline", rep.Failed[0].Err)
	}
	if s, ok := rep.States["fast"]; !ok || !s.Effective.Amount().Equal(lt.USD("10").Amount()) {
		t.Errorf("fast account state: got %+v, want effective $10", s)
	}
}

func TestRejectedObservationIsAFailureNotAZero(t *testing.T) {
	eur := lt.At(lt.T0).Shown("5").Build()
	eur.Balance.Shown = lt.Money("5", "EUR")
	rec := &recorder{}
	g := newGuard(rec, guard.Account{Account: lt.Account("5", "10"), Source: scripted([]step{{obs: eur}})})
	rep, err := g.Cycle(context.Background(), lt.T0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || !errors.Is(rep.Failed[0], poller.ErrInvalid) {
		t.Fatalf("failures: got %v, want one invalid", rep.Failed)
	}
	if _, ok := rep.States["acme"]; ok || len(rec.events()) != 0 {
		t.Errorf("a rejected observation produced a state or a notification")
	}
}
