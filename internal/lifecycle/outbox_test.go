package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/proc"
	"github.com/guardd/guardd/internal/proc/proctest"
	"github.com/guardd/guardd/internal/store"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type failing struct{ calls int }

var _ alert.Notifier = (*failing)(nil)

func (f *failing) Send(context.Context, alert.Notification) (alert.Ref, bool, error) {
	f.calls++
	return alert.Ref{}, true, errors.New("HTTP 503")
}

func TestOutboxGivesUpLoudly(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recv := &failing{}
	receivers := []alert.Receiver{{Name: "slack", Notifier: recv}}
	n := alert.Notification{Status: alert.StatusFiring, Finding: explain(burst()), At: lt.T0}
	n.Finding.At = lt.T0
	if err := st.Update(ctx, func(tx *store.Tx) error {
		return lifecycle.Enqueue(tx, []alert.Notification{n}, receivers, lt.T0, lifecycle.Policy{})
	}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	s := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers, MaxAttempts: 3, Log: zap.New(core),
		Dispatcher: &alert.Dispatcher{Attempts: 1}}
	now := lt.T0
	var last lifecycle.DrainResult
	for i := 0; i < 6; i++ {
		res, err := s.Drain(ctx, now)
		if res.Failed+res.GaveUp > 0 && err == nil {
			t.Errorf("drain %d: a failure returned no error", i)
		}
		last = res
		if res.GaveUp > 0 {
			break
		}
		now = now.Add(7 * time.Hour) // past any back-off
	}
	if last.GaveUp != 1 || recv.calls != 3 {
		t.Fatalf("got %+v after %d sends, want given up after 3", last, recv.calls)
	}
	if res, _ := s.Drain(ctx, now.Add(24*time.Hour)); res != (lifecycle.DrainResult{}) {
		t.Errorf("a given-up item was tried again: %+v", res)
	}
	st.View(ctx, func(tx *store.Tx) error {
		dead, err := tx.Dead()
		if err != nil || len(dead) != 1 || dead[0].LastError == "" {
			t.Errorf("dead items: got %+v (%v), want the one with its last error", dead, err)
		}
		return nil
	})
	if logs.FilterMessage("notification given up").Len() != 1 {
		t.Errorf("log: got %v, want one 'notification given up'", logs.All())
	}
}

type recorder struct{ got []alert.Notification }

var _ alert.Notifier = (*recorder)(nil)

func (r *recorder) Send(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	r.got = append(r.got, n)
	return alert.Ref{}, false, nil
}

func TestInfoGoesOutAsDailyDigest(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &recorder{}
	receivers := []alert.Receiver{{Name: "slack", Notifier: rec}}
	p := lifecycle.Policy{DigestAt: 9 * time.Hour}
	at := lt.T0.Add(10 * time.Hour) // 10:00, after today's digest
	var ns []alert.Notification
	for _, acct := range []string{"acme", "beta"} {
		f := explain(burst())
		f.Rule, f.Severity, f.Account, f.Entity, f.At = "credit-without-charge", "info", acct, "grants", at
		ns = append(ns, alert.Notification{Status: alert.StatusFiring, Finding: f, At: at})
	}
	crit := alert.Notification{Status: alert.StatusFiring, Finding: explain(burst()), At: at}
	crit.Finding.At = at
	ns = append(ns, crit)
	if err := st.Update(ctx, func(tx *store.Tx) error { return lifecycle.Enqueue(tx, ns, receivers, at, p) }); err != nil {
		t.Fatal(err)
	}
	s := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}
	if res, err := s.Drain(ctx, at); err != nil || res.Sent != 1 || len(rec.got) != 1 || rec.got[0].Finding.Rule != "recharge-burst" {
		t.Fatalf("at 10:00: got %+v, %d sent (%v), want only the critical one", res, len(rec.got), err)
	}
	if res, _ := s.Drain(ctx, at.Add(22*time.Hour)); res.Sent != 0 {
		t.Fatalf("before the next digest: got %+v, want nothing", res)
	}
	res, err := s.Drain(ctx, at.Add(23*time.Hour)) // 09:00 the next day
	if err != nil || res.Sent != 2 || len(rec.got) != 2 {
		t.Fatalf("at the digest: got %+v, %d messages (%v), want both info findings in one message", res, len(rec.got), err)
	}
	d := rec.got[1].Finding
	if d.Rule != alert.DigestRule || d.Account != "several accounts" || len(d.Folded) != 2 ||
		d.Summary != "Daily digest: 2 info notifications since the last digest. Nothing here needs action now." {
		t.Errorf("digest: got %+v", d)
	}
}

func TestPacingFoldsABurstDurably(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &recorder{}
	receivers := []alert.Receiver{{Name: "slack", Notifier: rec, Pace: alert.Pacing{Max: 2, Per: time.Hour}}}
	s := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}
	enqueue := func(at time.Time, rules ...string) {
		var ns []alert.Notification
		for _, r := range rules {
			f := explain(burst())
			f.Rule, f.At = r, at
			ns = append(ns, alert.Notification{Status: alert.StatusFiring, Finding: f, At: at})
		}
		if err := st.Update(ctx, func(tx *store.Tx) error { return lifecycle.Enqueue(tx, ns, receivers, at, lifecycle.Policy{}) }); err != nil {
			t.Fatal(err)
		}
	}
	at := lt.T0
	enqueue(at, "a", "b", "c", "d", "e")
	res, err := s.Drain(ctx, at)
	if err != nil || res.Sent != 5 {
		t.Fatalf("burst: got %+v (%v), want all 5 delivered", res, err)
	}
	var got []string
	for _, n := range rec.got {
		got = append(got, fmt.Sprintf("%s:%d", n.Finding.Rule, len(n.Finding.Folded)))
	}
	if want := "[a:0 b:0 digest:3]"; fmt.Sprint(got) != want {
		t.Fatalf("messages: got %v, want %s (two one by one, the rest folded)", got, want)
	}
	// Within the hour the allowance is spent: even one more new alert would
	// be a third message... but a digest of one is just the message.
	enqueue(at.Add(10*time.Minute), "f")
	s.Drain(ctx, at.Add(10*time.Minute))
	enqueue(at.Add(20*time.Minute), "g", "h")
	s.Drain(ctx, at.Add(20*time.Minute))
	if n := len(rec.got); n != 5 || rec.got[4].Finding.Rule != alert.DigestRule {
		t.Errorf("later in the hour: got %d messages (last %s), want f alone then g and h folded", n, rec.got[len(rec.got)-1].Finding.Rule)
	}
	// A new hour: one by one again.
	enqueue(at.Add(2*time.Hour), "i", "j")
	s.Drain(ctx, at.Add(2*time.Hour))
	if n := len(rec.got); n != 7 || rec.got[5].Finding.Rule != "i" || rec.got[6].Finding.Rule != "j" {
		t.Errorf("next hour: got %d messages, want i and j one by one", n)
	}
}

// TestImmediateSendsAsDecided drains an outbox filled under an Immediate
// policy, as replay and dry runs do: every notification goes out at once,
// info ones included, one message each, in the order decided (not
// resolutions first).
func TestImmediateSendsAsDecided(t *testing.T) {
	ctx := context.Background()
	m := lifecycle.NewMemory()
	rec := &recorder{}
	receivers := []alert.Receiver{{Name: "stdout", Notifier: rec, Pace: alert.Pacing{Max: 1, Per: time.Hour}}}
	p := lifecycle.Policy{DigestAt: 9 * time.Hour, Immediate: true}
	at := lt.T0.Add(10 * time.Hour) // after today's digest
	n := func(rule string, sev billing.Severity, status alert.Status) alert.Notification {
		f := explain(burst())
		f.Rule, f.Severity, f.At = rule, sev, at
		return alert.Notification{Status: status, Finding: f, At: at}
	}
	ns := []alert.Notification{
		n("a", billing.SeverityWarning, alert.StatusFiring),
		n("b", billing.SeverityCritical, alert.StatusResolved),
		n("c", billing.SeverityInfo, alert.StatusFiring),
		n("d", billing.SeverityWarning, alert.StatusFiring),
	}
	if err := m.Update(ctx, func(tx lifecycle.Tx) error { return lifecycle.Enqueue(tx, ns, receivers, at, p) }); err != nil {
		t.Fatal(err)
	}
	s := &lifecycle.Sender{Store: m, Receivers: receivers, Policy: p}
	res, err := s.Drain(ctx, at)
	if err != nil || res.Sent != 4 {
		t.Fatalf("got %+v (%v), want all 4 sent at once", res, err)
	}
	var got []string
	for _, n := range rec.got {
		got = append(got, fmt.Sprintf("%s %s", n.Status, n.Finding.Rule))
	}
	if want := "[firing a resolved b firing c firing d]"; fmt.Sprint(got) != want {
		t.Errorf("sent: got %v, want %s", got, want)
	}
}

// gated is a receiver whose first Send waits, once it has begun, until
// release is closed; it counts what it was sent by rule. It is safe for
// concurrent use.
type gated struct {
	mu      sync.Mutex
	got     map[string]int
	calls   int
	arrived chan struct{} // closed when the first Send begins
	release chan struct{}
}

var _ alert.Notifier = (*gated)(nil)

func newGated() *gated {
	return &gated{got: make(map[string]int), arrived: make(chan struct{}), release: make(chan struct{})}
}

func (g *gated) Send(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	g.got[n.Finding.Rule]++
	g.mu.Unlock()
	if first {
		close(g.arrived)
		<-g.release
	}
	return alert.Ref{}, false, nil
}

func (g *gated) counts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.got)
}

// enqueueRules enqueues one critical notification per rule for receivers.
func enqueueRules(t *testing.T, st *store.Store, receivers []alert.Receiver, at time.Time, rules ...string) {
	t.Helper()
	var ns []alert.Notification
	for _, r := range rules {
		f := explain(burst())
		f.Rule, f.At = r, at
		ns = append(ns, alert.Notification{Status: alert.StatusFiring, Finding: f, At: at})
	}
	if err := st.Update(context.Background(), func(tx *store.Tx) error {
		return lifecycle.Enqueue(tx, ns, receivers, at, lifecycle.Policy{})
	}); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// drained is what a Drain returned.
type drained struct {
	res lifecycle.DrainResult
	err error
}

// drainLater drains s in a goroutine of its own and hands over what it
// returned.
func drainLater(ctx context.Context, s *lifecycle.Sender, now time.Time) <-chan drained {
	done := make(chan drained, 1)
	go func() {
		res, err := s.Drain(ctx, now)
		done <- drained{res, err}
	}()
	return done
}

// TestTwoSendersSendOnce has a second sender drain the outbox while the
// first is still sending, as a check run by hand beside a CronJob's would:
// every notification goes out once, and neither reports a failure.
func TestTwoSendersSendOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	slow := newGated()
	receivers := []alert.Receiver{{Name: "slack", Notifier: slow}}
	enqueueRules(t, st, receivers, lt.T0, "a", "b", "c")
	first := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}
	second := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}

	done := drainLater(ctx, first, lt.T0)
	<-slow.arrived // the first sender is sending its first message
	res2, err2 := second.Drain(ctx, lt.T0)
	close(slow.release)
	d1 := <-done
	if d1.err != nil || err2 != nil {
		t.Errorf("drains: got errors %v and %v, want none", d1.err, err2)
	}
	if got := d1.res.Sent + res2.Sent; got != 3 {
		t.Errorf("sent: got %d (%+v and %+v), want 3 in all", got, d1.res, res2)
	}
	if got, want := fmt.Sprint(slow.counts()), "map[a:1 b:1 c:1]"; got != want {
		t.Errorf("messages by rule: got %s, want %s (each once)", got, want)
	}
}

// TestLeaseRunsOutMidSend has a sender whose lease ran out while it was
// sending: another sender takes the item over and sends it too, and the
// first, finding it sent, counts it delivered rather than failed.
func TestLeaseRunsOutMidSend(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	slow := newGated()
	receivers := []alert.Receiver{{Name: "slack", Notifier: slow}}
	enqueueRules(t, st, receivers, lt.T0, "a")
	core, logs := observer.New(zap.DebugLevel)
	first := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers, Lease: time.Minute, Log: zap.New(core)}
	second := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}

	done := drainLater(ctx, first, lt.T0)
	<-slow.arrived
	if res, err := second.Drain(ctx, lt.T0.Add(2*time.Minute)); err != nil || res.Sent != 1 {
		t.Errorf("second sender after the lease: got %+v (%v), want the item sent", res, err)
	}
	close(slow.release)
	if d := <-done; d.err != nil || d.res != (lifecycle.DrainResult{Sent: 1}) {
		t.Errorf("first sender: got %+v (%v), want it sent and no error", d.res, d.err)
	}
	if n := logs.FilterMessage("notification delivered after another sender took it over: it may have gone out twice").Len(); n != 1 {
		t.Errorf("log: got %v, want the double delivery noted once", logs.All())
	}
	if n := logs.FilterMessage("notification not delivered, will retry").Len(); n != 0 {
		t.Errorf("log: got %d 'not delivered' lines about a delivered message, want none", n)
	}
}

// TestCrashedSendersItemsGoOutAgain leaves items claimed by senders that
// are gone: one on another host, whose items wait for the lease to run out,
// and one on this host whose process has ended, whose items go out at once.
func TestCrashedSendersItemsGoOutAgain(t *testing.T) {
	ctx := context.Background()
	gone := proctest.Ended(t)
	elsewhere := proc.Process{Host: gone.Host + "-other", NS: gone.NS, PID: gone.PID}

	for _, tt := range []struct {
		name      string
		owner     proc.Process
		waitLease bool
	}{
		{"on another host", elsewhere, true},
		{"ended on this host", gone, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			rec := &recorder{}
			receivers := []alert.Receiver{{Name: "slack", Notifier: rec}}
			enqueueRules(t, st, receivers, lt.T0, "a")
			if err := st.Update(ctx, func(tx *store.Tx) error {
				got, err := tx.Claim(tt.owner.Name()+" sender 1", []int64{1}, lt.T0, lt.T0.Add(lifecycle.DefaultLease))
				if err == nil && len(got) != 1 {
					err = errors.New("not claimed")
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			s := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}
			res, err := s.Drain(ctx, lt.T0.Add(time.Minute))
			if want := !tt.waitLease; err != nil || (res.Sent == 1) != want || (len(rec.got) == 1) != want {
				t.Errorf("during the lease: got %+v, %d messages (%v), want sent %v", res, len(rec.got), err, want)
			}
			res, err = s.Drain(ctx, lt.T0.Add(lifecycle.DefaultLease))
			if err != nil || len(rec.got) != 1 {
				t.Errorf("once the lease ran out: got %+v, %d messages in all (%v), want the item sent once", res, len(rec.got), err)
			}
		})
	}
}

// timingOut is a receiver whose server never answers: each Send fails when
// its timeout has passed. At each timeout it notes how many messages the
// other receiver had got by then.
type timingOut struct {
	timeout time.Duration
	other   *gated
	seen    []int
}

var _ alert.Notifier = (*timingOut)(nil)

func (r *timingOut) Send(ctx context.Context, _ alert.Notification) (alert.Ref, bool, error) {
	select {
	case <-time.After(r.timeout):
	case <-ctx.Done():
		return alert.Ref{}, true, ctx.Err()
	}
	n := 0
	for _, c := range r.other.counts() {
		n += c
	}
	r.seen = append(r.seen, n)
	return alert.Ref{}, true, errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
}

// TestHangingReceiverDelaysOnlyItsOwn drains an outbox to a receiver that
// hangs until its timeout, listed first, and one that answers at once: the
// second gets all its messages before the first times out. (synctest's
// clock: the timeouts take no real time.)
func TestHangingReceiverDelaysOnlyItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fast := newGated()
		close(fast.release)
		hanging := &timingOut{timeout: 30 * time.Second, other: fast}
		receivers := []alert.Receiver{{Name: "hanging", Notifier: hanging}, {Name: "fast", Notifier: fast}}
		var ns []alert.Notification
		for _, rule := range []string{"a", "b", "c"} {
			f := explain(burst())
			f.Rule, f.At = rule, lt.T0
			ns = append(ns, alert.Notification{Status: alert.StatusFiring, Finding: f, At: lt.T0})
		}
		m := lifecycle.NewMemory()
		if err := m.Update(ctx, func(tx lifecycle.Tx) error { return lifecycle.Enqueue(tx, ns, receivers, lt.T0, lifecycle.Policy{}) }); err != nil {
			t.Fatal(err)
		}
		s := &lifecycle.Sender{Store: m, Receivers: receivers, Dispatcher: &alert.Dispatcher{Attempts: 2}}
		res, err := s.Drain(ctx, lt.T0)
		if len(hanging.seen) == 0 || hanging.seen[0] != 3 {
			t.Errorf("messages the fast receiver had when the hanging one first timed out: got %v, want 3", hanging.seen)
		}
		if got, want := fmt.Sprint(fast.counts()), "map[a:1 b:1 c:1]"; got != want {
			t.Errorf("fast receiver: got %s, want %s", got, want)
		}
		if res != (lifecycle.DrainResult{Sent: 3, Failed: 3}) || err == nil {
			t.Errorf("drain: got %+v (%v), want 3 sent and the hanging receiver's 3 failed", res, err)
		}
	})
}
