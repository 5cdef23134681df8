package guard_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/mailbox/folder"
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

// countingReplica builds one replica over n accounts on the database at
// dsn, counting in polls the polls of each account at each now.
func countingReplica(t *testing.T, dsn string, n int, claims guard.Claimer, hookURL string, polls *sync.Map) (*store.Store, *guard.Guard) {
	t.Helper()
	st, own := openReplica(t, dsn, store.Options{})
	if claims == nil {
		claims = own
	}
	var as []guard.Account
	for a := range n {
		acct := lt.Account("5", "10")
		acct.Name = fmt.Sprintf("acct-%03d", a)
		src := &fakeSource{FetchFunc: func(ctx context.Context, now time.Time) (billing.Observation, error) {
			c, _ := polls.LoadOrStore(acct.Name, new(int))
			*c.(*int)++
			return burstAt(now), nil
		}}
		as = append(as, guard.Account{Account: acct, Source: src})
	}
	o := guard.Options{Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions(),
		State: st.Lifecycle(), History: st, Claims: claims, Interval: time.Hour}
	if hookURL != "" {
		o.Receivers = []alert.Receiver{{Name: "slack", MinSeverity: billing.SeverityInfo,
			Notifier: slack.NewWebhook(secret.New(hookURL), nil, nil)}}
	}
	g := guard.New(as, o)
	if err := g.Load(t.Context(), lt.T0); err != nil {
		t.Fatal(err)
	}
	return st, g
}

// TestReplicaLateTick: of two replicas sharing hourly ticks, one runs the
// 01:00 tick at 01:01 and the other, late (a busy machine), at 01:40. The
// late one finds every account polled in the tick and polls none: the
// tick is the schedule's 01:00 in both, not the time a cycle starts. (Each
// replica used to ask for polls since half an interval before its own
// start, 01:10, and polled every account a second time.)
func TestReplicaLateTick(t *testing.T) {
	const accounts = 12
	dsn := pgtest.DSN(t)
	var polls sync.Map
	_, a := countingReplica(t, dsn, accounts, nil, "", &polls)
	_, b := countingReplica(t, dsn, accounts, nil, "", &polls)
	tick := lt.T0.Add(time.Hour)
	if _, err := a.Cycle(t.Context(), tick.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Cycle(t.Context(), tick.Add(40*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Polled != 0 {
		t.Errorf("the late replica polled %d accounts in the tick the other had polled, want 0", rep.Polled)
	}
	for i := range accounts {
		name := fmt.Sprintf("acct-%03d", i)
		got := 0
		if n, ok := polls.Load(name); ok {
			got = *n.(*int)
		}
		if got != 1 {
			t.Errorf("%s: polled %d times in the tick of 01:00, want once", name, got)
		}
	}
	// The next tick's cycle, however late, polls every account again.
	rep, err = b.Cycle(t.Context(), tick.Add(time.Hour+50*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Polled != accounts {
		t.Errorf("the 02:00 tick polled %d accounts, want %d", rep.Polled, accounts)
	}
}

// lostClaim hands out every account as if this replica had polled it
// last at last: a claim lost (its connection reset) while another replica
// polled the account.
type lostClaim struct{ last time.Time }

func (c lostClaim) Claim(_ context.Context, accounts []string, _ time.Time, _ int) ([]store.Claimed, []string, error) {
	var out []store.Claimed
	for _, a := range accounts {
		out = append(out, store.Claimed{Account: a, LastPoll: c.last})
	}
	return out, nil, nil
}

func (lostClaim) Release(context.Context, []string) error { return nil }

func (lostClaim) LockMailboxes(_ context.Context, names []string, _ time.Duration) ([]string, func(), error) {
	return names, func() {}, nil
}

// TestStaleLedgerSendsNothing: replica A polls an account from 01:00 to
// 03:00: its recharge-above-threshold fires at 02:00, its recharge burst at
// 03:00. Replica B, whose ledger ended at 00:00, is handed the account at
// 04:00 without learning that A polled it since (a lost claim). Judged on
// its ledger, recharge-above-threshold was not there: B resolved it, and
// it fired again once the burst stopped inhibiting it, so Slack got the
// same new alert twice. B's poll is refused in its write transaction
// instead, nothing it decided is kept, B's ledger is rebuilt before its
// next poll, and every alert goes out once.
func TestStaleLedgerSendsNothing(t *testing.T) {
	dsn := pgtest.DSN(t)
	hook := slacktest.NewWebhook(t)
	var polls sync.Map
	_, a := countingReplica(t, dsn, 1, nil, hook.URL(), &polls)
	_, b := countingReplica(t, dsn, 1, lostClaim{last: lt.T0}, hook.URL(), &polls)
	at := func(h int) time.Time { return lt.T0.Add(time.Duration(h) * time.Hour) }
	if _, err := b.Cycle(t.Context(), at(0)); err != nil {
		t.Fatal(err)
	}
	for h := 1; h <= 3; h++ {
		if _, err := a.Cycle(t.Context(), at(h)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := b.Cycle(t.Context(), at(4))
	if !errors.Is(err, guard.ErrStale) || len(rep.Sent) > 0 {
		t.Errorf("stale replica at 04:00: sent %d, error %v; want nothing sent and %v", len(rep.Sent), err, guard.ErrStale)
	}
	// B's ledger is rebuilt from the store before its next poll.
	for h := 5; h <= 8; h++ {
		r := a
		if h%2 == 0 {
			r = b
		}
		if _, err := r.Cycle(t.Context(), at(h)); err != nil {
			t.Fatalf("%02d:00: %v", h, err)
		}
	}
	title := regexp.MustCompile(`^\[(RESOLVED|WARNING|CRITICAL)\] ([a-z-]+) on (acct-\d+)`)
	count := map[string]int{}
	for _, m := range hook.Messages() {
		if s := title.FindStringSubmatch(m.Text); s != nil {
			count[s[1]+" "+s[2]]++
		}
	}
	// As one guard alone sends them (TestReplicas).
	want := map[string]int{"WARNING recharge-above-threshold": 1, "CRITICAL recharge-burst": 1, "RESOLVED recharge-burst": 1}
	if !maps.Equal(count, want) {
		t.Errorf("Slack got %v, want %v", count, want)
	}
}

// everyDay9and17 fires at 09:00 and 17:00 UTC: ticks 8 and 16 hours apart.
type everyDay9and17 struct{}

func (everyDay9and17) Next(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{d.Add(9 * time.Hour), d.Add(17 * time.Hour), d.Add(33 * time.Hour)} {
		if at.After(t) {
			return at
		}
	}
	panic("unreachable")
}

func TestTick(t *testing.T) {
	day := lt.T0
	sched := guard.New(nil, guard.Options{Schedule: everyDay9and17{}})
	every := guard.New(nil, guard.Options{Interval: 15 * time.Minute})
	for _, tt := range []struct {
		g        *guard.Guard
		now      time.Time
		tick     time.Time
		interval time.Duration
	}{
		{sched, day.Add(9 * time.Hour), day.Add(9 * time.Hour), 8 * time.Hour},
		{sched, day.Add(16*time.Hour + 59*time.Minute), day.Add(9 * time.Hour), 8 * time.Hour},
		{sched, day.Add(17*time.Hour + time.Second), day.Add(17 * time.Hour), 16 * time.Hour},
		{sched, day.Add(32 * time.Hour), day.Add(17 * time.Hour), 16 * time.Hour},
		{every, day.Add(44*time.Minute + 59*time.Second), day.Add(30 * time.Minute), 15 * time.Minute},
		{every, day.Add(45 * time.Minute), day.Add(45 * time.Minute), 15 * time.Minute},
	} {
		tick, interval := tt.g.Tick(tt.now)
		if !tick.Equal(tt.tick) || interval != tt.interval {
			t.Errorf("Tick(%s) = %s, %s; want %s, %s", tt.now.Format("Jan 2 15:04:05"), tick.Format("Jan 2 15:04:05"), interval,
				tt.tick.Format("Jan 2 15:04:05"), tt.interval)
		}
	}
}

// heldClaimer is the claims of a replica whose accounts are all done or
// held by others: the even ones were polled already, the odd ones are held
// until some account is asked about a second time (the replica's next
// pass over them, after it waited), and polled by then. It records how
// many accounts had been asked about at that moment.
type heldClaimer struct {
	mu       sync.Mutex
	asked    map[string]bool
	repeated bool
	// before is how many were asked about before the first asked again.
	before int
}

func (c *heldClaimer) Claim(_ context.Context, accounts []string, _ time.Time, _ int) ([]store.Claimed, []string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var done []string
	for _, a := range accounts {
		if c.asked[a] && !c.repeated {
			c.repeated, c.before = true, len(c.asked)
		}
		c.asked[a] = true
		var i int
		fmt.Sscanf(a, "acct-%d", &i)
		if i%2 == 0 || c.repeated {
			done = append(done, a)
		}
	}
	return nil, done, nil
}

func (c *heldClaimer) Release(context.Context, []string) error { return nil }

func (c *heldClaimer) LockMailboxes(context.Context, []string, time.Duration) ([]string, func(), error) {
	return nil, func() {}, nil
}

// TestClaimsAskEveryAccountBeforeWaiting: a replica that finds none of a
// window of accounts free asks about the next window, and waits for the
// accounts other replicas hold only once it asked about every one. Moving
// a whole window to the back after those done were dropped from it moved
// names never asked about with it, so a pass skipped some, and a tick's end
// took several waits instead of one.
func TestClaimsAskEveryAccountBeforeWaiting(t *testing.T) {
	const n = 100
	as := make([]guard.Account, n)
	for i := range as {
		acct := lt.Account("5", "10")
		acct.Name = fmt.Sprintf("acct-%03d", i)
		as[i] = guard.Account{Account: acct, Source: &fakeSource{FetchFunc: func(context.Context, time.Time) (billing.Observation, error) {
			t.Errorf("account %s polled: none was claimed", acct.Name)
			return billing.Observation{}, errors.New("not claimed")
		}}}
	}
	claims := &heldClaimer{asked: map[string]bool{}}
	// poll.concurrency 4: a claim asks about a window of 8.
	g := guard.New(as, guard.Options{Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions(),
		Poller: poller.Poller{Concurrency: 4}, Claims: claims, Interval: 15 * time.Minute})
	rep, err := g.Cycle(context.Background(), lt.T0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) > 0 || rep.Polled > 0 {
		t.Fatalf("polled %d, failed %v: want none, every account done by another replica", rep.Polled, rep.Failed)
	}
	if !claims.repeated {
		t.Fatal("no account was asked about again: the replica did not wait for the odd ones")
	}
	if claims.before != n {
		t.Errorf("%d of %d accounts asked about before one was asked again: a pass skipped %d", claims.before, n, n-claims.before)
	}
}

// countingReader counts the reads of a mailbox.
type countingReader struct {
	mailbox.Reader
	reads atomic.Int32
}

func (r *countingReader) Read(ctx context.Context, c mailbox.Cursor) ([]mailbox.Message, mailbox.Cursor, error) {
	r.reads.Add(1)
	return r.Reader.Read(ctx, c)
}

// TestReplicasReadEachMailboxOnce: three replicas run the same hourly tick
// at once over one account whose receipts come by mail. The mailbox is
// read once a tick, not once per replica, and the receipt reaches the
// account's observation in the tick it was read, whichever replica polls
// the account (one that waited for another's read finds it filed).
func TestReplicasReadEachMailboxOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	r, err := folder.New(folder.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	box := &countingReader{Reader: r}
	acct := lt.Account("5", "10")
	acct.Name, acct.Provider = "acme", "anthropic"
	var sts []*store.Store
	var gs []*guard.Guard
	for range 3 {
		st, claims := openReplica(t, dsn, store.Options{})
		g := guard.New([]guard.Account{{Account: acct, Source: &fakeSource{FetchFunc: func(_ context.Context, now time.Time) (billing.Observation, error) {
			return burstAt(now), nil
		}}}}, guard.Options{Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions(),
			State: st.Lifecycle(), History: st, Claims: claims, Interval: time.Hour,
			Inbox: &inbox.Inbox{Mailboxes: []inbox.Mailbox{{Name: "billing", Reader: box}},
				Routes: []inbox.Route{{Account: acct.Name, Provider: "anthropic", Currency: "USD", Mailbox: "billing"}}}})
		if err := g.Load(t.Context(), lt.T0); err != nil {
			t.Fatal(err)
		}
		sts, gs = append(sts, st), append(gs, g)
	}
	for tick := range 3 {
		now := lt.T0.Add(time.Duration(tick) * time.Hour)
		path := filepath.Join(dir, fmt.Sprintf("receipt-%d.eml", tick))
		if err := os.WriteFile(path, []byte(anthropicReceipt(tick, now.Add(-10*time.Minute))), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute) // settled, as the folder reader wants
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		before := box.reads.Load()
		var wg sync.WaitGroup
		polled := make([]int, len(gs))
		for i, g := range gs {
			wg.Go(func() {
				rep, err := g.Cycle(t.Context(), now.Add(time.Duration(i)*time.Second))
				if err != nil {
					t.Errorf("tick %d, replica %d: %v", tick, i, err)
				}
				polled[i] = rep.Polled
			})
		}
		wg.Wait()
		if n := box.reads.Load() - before; n != 1 {
			t.Errorf("tick %d: the mailbox was read %d times, want once", tick, n)
		}
		if total := polled[0] + polled[1] + polled[2]; total != 1 {
			t.Errorf("tick %d: the account was polled %d times, want once", tick, total)
		}
		var pending []inbox.Filed
		if err := sts[0].View(t.Context(), func(tx *store.Tx) error {
			var err error
			pending, err = tx.PendingReceipts(acct.Name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Errorf("tick %d: %d receipts read and not carried by the tick's poll: %+v", tick, len(pending), pending)
		}
	}
}
