package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
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
