package guard_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// burstAt is what every account's provider shows at now: purchased grants
// at 01:00, 02:00 and 03:00 (a recharge burst), nothing after. It depends
// on now alone, so whichever replica polls sees the same.
func burstAt(now time.Time) billing.Observation {
	grants := []billing.Grant{grant("g0", "9.00")}
	for h := 1; h <= 3; h++ {
		if !now.Before(lt.T0.Add(time.Duration(h) * time.Hour)) {
			grants = append(grants, grant(fmt.Sprintf("g%d", h), "0"))
		}
	}
	return lt.At(now).Grants(grants...).Build()
}

// replica is one guardd run: its own connections to the database, its own
// claims, its own ledgers and sources.
type replica struct {
	st     *store.Store
	claims *store.Claimer
	g      *guard.Guard
	ctx    context.Context
	kill   context.CancelFunc
}

// openReplica opens the state at dsn and claims on connections of their
// own, as one guardd run process does; both close when tb ends.
func openReplica(tb testing.TB, dsn string, opts store.Options) (*store.Store, *store.Claimer) {
	tb.Helper()
	st, err := store.OpenPostgres(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	claims, err := st.NewClaimer(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { claims.Close() })
	return st, claims
}

// TestReplicas runs three replicas over 90 accounts on one PostgreSQL,
// hourly ticks from 00:00 to 08:00, and kills one in the middle of the
// 04:00 cycle with polls in flight (its connection closes, as a killed
// process's does). Every account is polled at every tick, by exactly one
// replica, and every alert reaches Slack exactly once: each account's
// recharge-above-threshold at 02:00, recharge-burst at 03:00 and its
// resolution at 07:00, as one guard alone sends them.
func TestReplicas(t *testing.T) {
	const accounts, replicas, ticks, killAt, victim = 90, 3, 9, 4, 1
	dsn := pgtest.DSN(t)
	hook := slacktest.NewWebhook(t)
	var polls sync.Map // "account tick" → how many replicas polled it
	blocked := make(chan struct{}, accounts)
	rs := make([]*replica, replicas)
	for i := range rs {
		st, claims := openReplica(t, dsn, store.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		var as []guard.Account
		for a := range accounts {
			acct := lt.Account("5", "10")
			acct.Name = fmt.Sprintf("acct-%03d", a)
			src := &fakeSource{FetchFunc: func(ctx context.Context, now time.Time) (billing.Observation, error) {
				if i == victim && now.Equal(lt.T0.Add(killAt*time.Hour)) {
					blocked <- struct{}{}
					<-ctx.Done() // the victim dies with this poll in flight
					return billing.Observation{}, fmt.Errorf("%w: %w", poller.ErrUnavailable, ctx.Err())
				}
				n, _ := polls.LoadOrStore(fmt.Sprint(acct.Name, " ", now.Format("15:04")), new(int))
				*n.(*int)++
				return burstAt(now), nil
			}}
			as = append(as, guard.Account{Account: acct, Source: src})
		}
		g := guard.New(as, guard.Options{
			Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions(),
			State: st.Lifecycle(), History: st,
			Receivers: []alert.Receiver{{Name: "slack", MinSeverity: billing.SeverityInfo,
				Notifier: slack.NewWebhook(secret.New(hook.URL()), nil, nil)}},
			Claims: claims, Interval: time.Hour,
		})
		if err := g.Load(ctx, lt.T0); err != nil {
			t.Fatal(err)
		}
		rs[i] = &replica{st: st, claims: claims, g: g, ctx: ctx, kill: cancel}
	}

	for h := range ticks {
		now := lt.T0.Add(time.Duration(h) * time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		for i, r := range rs {
			if r == nil {
				continue
			}
			wg.Go(func() { _, errs[i] = r.g.Cycle(r.ctx, now) })
		}
		if h == killAt {
			<-blocked
			// Killed: its polls in flight never finish, and PostgreSQL
			// sees its connection close.
			rs[victim].kill()
			rs[victim].claims.Close()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !(h == killAt && i == victim && errors.Is(err, context.Canceled)) {
				t.Fatalf("tick %02d:00, replica %d: %v", h, i, err)
			}
		}
		if h == killAt {
			rs[victim] = nil
		}
	}

	// Every account polled at every tick, by one replica.
	for a := range accounts {
		for h := range ticks {
			key := fmt.Sprintf("acct-%03d %02d:00", a, h)
			n, ok := polls.Load(key)
			if !ok || *n.(*int) != 1 {
				got := 0
				if ok {
					got = *n.(*int)
				}
				t.Errorf("%s: polled %d times, want once", key, got)
			}
		}
	}
	var stored int
	rs[0].st.View(context.Background(), func(tx *store.Tx) error {
		for a := range accounts {
			ps, err := tx.RecentPolls(fmt.Sprintf("acct-%03d", a), 100)
			if err != nil {
				return err
			}
			stored += len(ps)
		}
		return nil
	})
	if stored != accounts*ticks {
		t.Errorf("polls stored: got %d, want %d", stored, accounts*ticks)
	}

	// Every alert once.
	title := regexp.MustCompile(`^\[(RESOLVED|WARNING|CRITICAL)\] ([a-z-]+) on (acct-\d+)`)
	count := map[string]int{}
	for _, m := range hook.Messages() {
		s := title.FindStringSubmatch(m.Text)
		if s == nil {
			t.Errorf("unexpected message %q", m.Text)
			continue
		}
		count[s[3]+" "+s[1]+" "+s[2]]++
	}
	var bad []string
	for a := range accounts {
		for _, want := range []string{"WARNING recharge-above-threshold", "CRITICAL recharge-burst", "RESOLVED recharge-burst"} {
			key := fmt.Sprintf("acct-%03d %s", a, want)
			if count[key] != 1 {
				bad = append(bad, fmt.Sprintf("%s: %d", key, count[key]))
			}
			delete(count, key)
		}
	}
	for k, n := range count {
		bad = append(bad, fmt.Sprintf("%s: %d, want none", k, n))
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("messages sent other than once (%d):\n%v", len(bad), bad)
	}
}
