package alert_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
)

// fakePoster records what reaches it through Post and Notify.
type fakePoster struct {
	mu    sync.Mutex
	fail  error
	posts []alert.Notification
	n     int
}

func (f *fakePoster) Post(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return alert.Ref{}, true, f.fail
	}
	f.posts = append(f.posts, n)
	f.n++
	return alert.Ref{Channel: "C1", MessageID: fmt.Sprint(f.n)}, false, nil
}

func (f *fakePoster) Notify(ctx context.Context, ns []alert.Notification) (bool, error) {
	for _, n := range ns {
		if _, retry, err := f.Post(ctx, n); err != nil {
			return retry, err
		}
	}
	return false, nil
}

func (f *fakePoster) rules() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.posts {
		out = append(out, n.Finding.Rule)
	}
	return out
}

func burst(k int, account string) []alert.Notification {
	var ns []alert.Notification
	for i := range k {
		n := firing(fmt.Sprintf("rule-%d", i), billing.SeverityWarning)
		n.Finding.Account = account
		ns = append(ns, n)
	}
	return ns
}

// manualClock is a clock the test moves.
type manualClock struct{ t time.Time }

func (c *manualClock) clock() clock.Clock {
	return clock.Clock{NowFunc: func() time.Time { return c.t }}
}

func TestPacedFoldsABurst(t *testing.T) {
	next := &fakePoster{}
	c := &manualClock{t: lt.T0}
	p := &alert.Paced{Next: next, Max: 3, Per: time.Hour, Clock: c.clock()}

	ns := burst(7, "acme")
	ns[5].Finding.Severity = billing.SeverityCritical
	for i, n := range ns {
		ref, retry, err := p.Post(t.Context(), n)
		if err != nil || retry {
			t.Fatalf("Post(%s): got retry %t, error %v; want false, nil", n.Finding.Rule, retry, err)
		}
		if got, want := ref.IsZero(), i >= 3; got != want {
			t.Errorf("Post(%s): got a zero ref %t, want %t (only held ones have none)", n.Finding.Rule, got, want)
		}
	}
	if got, want := fmt.Sprint(next.rules()), "[rule-0 rule-1 rule-2]"; got != want {
		t.Fatalf("before Flush: got %s sent, want %s", got, want)
	}
	if got, want := p.Held(), 4; got != want {
		t.Errorf("got %d held, want %d", got, want)
	}
	if retry, err := p.Flush(t.Context()); err != nil || retry {
		t.Fatalf("Flush: got retry %t, error %v; want false, nil", retry, err)
	}
	if got, want := fmt.Sprint(next.rules()), "[rule-0 rule-1 rule-2 digest]"; got != want {
		t.Fatalf("after Flush: got %s sent, want %s", got, want)
	}
	d := next.posts[3]
	if got, want := d.Finding.Severity, billing.SeverityCritical; got != want {
		t.Errorf("digest severity: got %s, want %s (the highest folded)", got, want)
	}
	if got, want := d.Finding.Account, "acme"; got != want {
		t.Errorf("digest account: got %q, want %q", got, want)
	}
	wantFolded := []string{
		"[WARNING] rule-3 on acme: rule-3 summary",
		"[WARNING] rule-4 on acme: rule-4 summary",
		"[CRITICAL] rule-5 on acme: rule-5 summary",
		"[WARNING] rule-6 on acme: rule-6 summary",
	}
	if got := d.Finding.Folded; fmt.Sprint(got) != fmt.Sprint(wantFolded) {
		t.Errorf("digest folded:\ngot  %q\nwant %q", got, wantFolded)
	}
	if want := "4 more notifications within 60 minutes, folded into this one message: at most 3 messages go out one by one per 60 minutes."; d.Finding.Summary != want {
		t.Errorf("digest summary: got %q, want %q", d.Finding.Summary, want)
	}
	if p.Held() != 0 {
		t.Errorf("got %d held after Flush, want 0", p.Held())
	}
	if retry, err := p.Flush(t.Context()); err != nil || retry || len(next.posts) != 4 {
		t.Errorf("second Flush: got retry %t, error %v, %d posts; want nothing sent", retry, err, len(next.posts))
	}

	// The window slides: an hour after the first sends, there is room again.
	c.t = c.t.Add(time.Hour + time.Second)
	if _, _, err := p.Post(t.Context(), firing("later", billing.SeverityInfo)); err != nil {
		t.Fatal(err)
	}
	if got, want := next.rules()[len(next.posts)-1], "later"; got != want {
		t.Errorf("after the window: got %s sent last, want %s", got, want)
	}
}

func TestPacedLetsThreadsAndEditsThrough(t *testing.T) {
	next := &fakePoster{}
	p := &alert.Paced{Next: next, Max: 1, Per: time.Hour, Clock: clock.Fixed(lt.T0)}
	ns := burst(2, "acme")
	for _, n := range ns {
		if _, _, err := p.Post(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	repeat := ns[0]
	repeat.Repeat, repeat.Ref = true, alert.Ref{Channel: "C1", MessageID: "1"}
	resolved := ns[0]
	resolved.Status, resolved.Ref = alert.StatusResolved, alert.Ref{Channel: "C1", MessageID: "1"}
	for _, n := range []alert.Notification{repeat, resolved} {
		if _, _, err := p.Post(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := len(next.posts), 3; got != want {
		t.Errorf("got %d posts, want %d (the first, its thread reply and its edit)", got, want)
	}
	if got, want := p.Held(), 1; got != want {
		t.Errorf("got %d held, want %d", got, want)
	}
	// A lone held notification goes out as itself, not as a digest.
	if _, err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := next.rules()[3], "rule-1"; got != want {
		t.Errorf("flushed: got %s, want %s", got, want)
	}
}

func TestPacedNotifyAndFailures(t *testing.T) {
	next := &fakeNotifier{NotifyFunc: func(int, []alert.Notification) (bool, error) { return false, nil }}
	p := &alert.Paced{Next: next, Max: 2, Per: time.Hour, Clock: clock.Fixed(lt.T0)}
	ns := burst(4, "acme")
	other := firing("rule-x", billing.SeverityInfo)
	other.Finding.Account = "beta"
	ns = append(ns, other)
	if retry, err := p.Notify(t.Context(), ns); retry || err != nil {
		t.Fatalf("Notify: got retry %t, error %v", retry, err)
	}
	// The same batch again (a caller retrying) holds no duplicates.
	if _, err := p.Notify(t.Context(), ns[2:]); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Held(), 3; got != want {
		t.Errorf("got %d held, want %d", got, want)
	}

	boom := errors.New("HTTP 503")
	next.NotifyFunc = func(int, []alert.Notification) (bool, error) { return true, boom }
	retry, err := p.Flush(t.Context())
	if !retry || !errors.Is(err, boom) || !strings.Contains(err.Error(), "send digest of 3 held notifications") {
		t.Fatalf("failing Flush: got retry %t, error %v; want true and the cause", retry, err)
	}
	if got, want := p.Held(), 3; got != want {
		t.Errorf("after a failed Flush: got %d held, want %d kept", got, want)
	}

	next.NotifyFunc = func(int, []alert.Notification) (bool, error) { return false, nil }
	if err := alert.FlushAll(t.Context(), []alert.Receiver{{Name: "paced", Notifier: p}, {Name: "plain", Notifier: next}}); err != nil {
		t.Fatal(err)
	}
	d := next.got[len(next.got)-1]
	if d.Finding.Rule != alert.DigestRule || d.Finding.Account != "several accounts" || len(d.Finding.Folded) != 3 {
		t.Errorf("got digest %s on %q with %d folded, want digest on \"several accounts\" with 3", d.Finding.Rule, d.Finding.Account, len(d.Finding.Folded))
	}
	if got := alert.Text(d); !strings.Contains(got, "Folded into this alert:\n  - [WARNING] rule-2 on acme: rule-2 summary\n") {
		t.Errorf("digest text lacks the folded lines:\n%s", got)
	}

	// A failed send gives its slot back.
	q := &alert.Paced{Next: next, Max: 1, Per: time.Hour, Clock: clock.Fixed(lt.T0)}
	next.NotifyFunc = func(int, []alert.Notification) (bool, error) { return true, boom }
	if _, err := q.Notify(t.Context(), ns[:1]); err == nil {
		t.Fatal("got no error, want the send's")
	}
	next.NotifyFunc = func(int, []alert.Notification) (bool, error) { return false, nil }
	before := len(next.got)
	if _, err := q.Notify(t.Context(), ns[:1]); err != nil || len(next.got) != before+1 || q.Held() != 0 {
		t.Errorf("retry after a failure: got error %v, %d sent, %d held; want it sent", err, len(next.got)-before, q.Held())
	}
}

func TestPacedOff(t *testing.T) {
	next := &fakePoster{}
	p := &alert.Paced{Next: next}
	for _, n := range burst(10, "acme") {
		ref, _, err := p.Post(t.Context(), n)
		if err != nil || ref.IsZero() {
			t.Fatalf("got ref %+v, error %v; want every message sent", ref, err)
		}
	}
	if p.Held() != 0 || len(next.posts) != 10 {
		t.Errorf("got %d held, %d sent; want 0, 10", p.Held(), len(next.posts))
	}
}

func TestPacedConcurrent(t *testing.T) {
	next := &fakePoster{}
	p := &alert.Paced{Next: next, Max: 5, Per: time.Hour, Clock: clock.Fixed(lt.T0)}
	var wg sync.WaitGroup
	for _, n := range burst(40, "acme") {
		wg.Go(func() { _, _, _ = p.Post(context.Background(), n) })
	}
	wg.Wait()
	if got, held := len(next.posts), p.Held(); got != 5 || held != 35 {
		t.Errorf("got %d sent, %d held; want 5, 35", got, held)
	}
}
