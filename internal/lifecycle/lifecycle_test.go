package lifecycle_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store"
)

var policy = lifecycle.Policy{
	Repeat:       map[billing.Severity]time.Duration{billing.SeverityCritical: 4 * time.Hour, billing.SeverityWarning: 24 * time.Hour},
	ResolveAfter: 2,
}

func burst() billing.Finding {
	return billing.Finding{Rule: "recharge-burst", Severity: billing.SeverityCritical, Account: "acme", Entity: "recharges"}
}

func explain(f billing.Finding) billing.Finding { f.Summary = "3 recharges in 6 hours"; return f }

func all(string) bool { return true }

func clockAt(t time.Time) clock.Clock { return clock.Fixed(t) }

// stores runs a test against the state store and against Memory: both keep
// the same lifecycle.
func stores(t *testing.T, run func(t *testing.T, s lifecycle.Store)) {
	t.Run("store", func(t *testing.T) {
		st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		run(t, st.Lifecycle())
	})
	t.Run("memory", func(t *testing.T) { run(t, lifecycle.NewMemory()) })
}

// decider returns a function deciding on account "acme" in s, judging every
// rule, and naming the notifications due.
func decider(t *testing.T, s lifecycle.Store) func(now time.Time, holding ...billing.Finding) []string {
	return judging(t, s, all)
}

// judging is decider judging only the rules judged says.
func judging(t *testing.T, s lifecycle.Store, judged func(string) bool) func(now time.Time, holding ...billing.Finding) []string {
	return deciding(t, s, judged, func(tx lifecycle.Tx) lifecycle.Book { return tx })
}

// deciding is judging with Decide given book(tx) for each transaction tx.
func deciding(t *testing.T, s lifecycle.Store, judged func(string) bool, book func(lifecycle.Tx) lifecycle.Book) func(now time.Time, holding ...billing.Finding) []string {
	return func(now time.Time, holding ...billing.Finding) []string {
		t.Helper()
		var ns []alert.Notification
		if err := s.Update(context.Background(), func(tx lifecycle.Tx) error {
			var err error
			ns, err = lifecycle.Decide(book(tx), "acme", holding, explain, judged, billing.AccountState{}, now, policy)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return names(ns)
	}
}

// books runs a test against the store and against Memory: both keep the
// same lifecycle.
func books(t *testing.T, run func(t *testing.T, decide func(now time.Time, holding ...billing.Finding) []string)) {
	stores(t, func(t *testing.T, s lifecycle.Store) { run(t, decider(t, s)) })
}

func names(ns []alert.Notification) []string {
	var out []string
	for _, n := range ns {
		s := string(n.Status)
		if n.Repeat {
			s = "repeat"
		}
		out = append(out, s+" "+n.Finding.Rule)
	}
	return out
}

func TestFireRepeatResolve(t *testing.T) {
	at := func(h int) time.Time { return lt.T0.Add(time.Duration(h) * time.Hour) }
	books(t, func(t *testing.T, decide func(time.Time, ...billing.Finding) []string) {
		steps := []struct {
			h       int
			holding []billing.Finding
			want    string
		}{
			{0, []billing.Finding{burst()}, "[firing recharge-burst]"},
			{1, []billing.Finding{burst()}, "[]"},
			{3, []billing.Finding{burst()}, "[]"},
			{4, []billing.Finding{burst()}, "[repeat recharge-burst]"}, // 4 hours after it was sent
			{5, nil, "[]"},                        // absent once: could be a blip
			{6, []billing.Finding{burst()}, "[]"}, // back: no resolve, no re-fire
			{7, nil, "[]"},
			{8, nil, "[resolved recharge-burst]"}, // absent twice
			{9, nil, "[]"},
			{10, []billing.Finding{burst()}, "[firing recharge-burst]"}, // a new episode
		}
		for _, s := range steps {
			if got := fmt.Sprint(decide(at(s.h), s.holding...)); got != s.want && !(s.want == "[]" && got == "[]") {
				t.Errorf("hour %d: got %s, want %s", s.h, got, s.want)
			}
		}
	})
}

func TestSilenceAndAck(t *testing.T) { stores(t, testSilenceAndAck) }

// silenceBurst silences recharge-burst on acme from lt.T0 to end.
func silenceBurst(t *testing.T, s lifecycle.Store, end time.Time) {
	t.Helper()
	if err := s.Update(context.Background(), func(tx lifecycle.Tx) error {
		_, err := tx.AddSilence(lifecycle.Silence{Rule: "recharge-burst", Account: "acme", Start: lt.T0, End: end,
			Comment: "support ticket open", CreatedBy: "ops"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func testSilenceAndAck(t *testing.T, st lifecycle.Store) {
	ctx := context.Background()
	decide := decider(t, st)
	silenceBurst(t, st, lt.T0.Add(24*time.Hour))
	if got := decide(lt.T0, burst()); len(got) != 0 {
		t.Errorf("silenced: got %v, want nothing sent", got)
	}
	st.View(ctx, func(tx lifecycle.Tx) error {
		fs, err := tx.Findings("acme", time.Time{})
		if err != nil || len(fs) != 1 || !fs[0].Silenced {
			t.Errorf("findings log: got %+v (%v), want the finding recorded as silenced", fs, err)
		}
		return nil
	})
	// When the silence ends and it still holds, it fires.
	if got := fmt.Sprint(decide(lt.T0.Add(25*time.Hour), burst())); got != "[firing recharge-burst]" {
		t.Errorf("after the silence: got %s, want it to fire", got)
	}
	// Acknowledged alerts are not repeated.
	st.Update(ctx, func(tx lifecycle.Tx) error {
		a, _, err := tx.Alert(burst().Fingerprint())
		if err != nil {
			return err
		}
		a.AckedBy, a.AckedAt = "ops", lt.T0.Add(26*time.Hour)
		return tx.PutAlert(a)
	})
	if got := decide(lt.T0.Add(40*time.Hour), burst()); len(got) != 0 {
		t.Errorf("acknowledged: got %v, want no repeat", got)
	}
}

func TestBlindPollResolvesNothing(t *testing.T) {
	m := lifecycle.NewMemory()
	onlySource := func(rule string) bool { return rule == "source-blind" }
	decider(t, m)(lt.T0, burst())
	blind := judging(t, m, onlySource)
	for h := 1; h <= 5; h++ {
		if ns := blind(lt.T0.Add(time.Duration(h) * time.Hour)); len(ns) != 0 {
			t.Fatalf("blind poll %d: got %v, want nothing resolved", h, ns)
		}
	}
}

func TestInhibitedWhileInhibitorFires(t *testing.T) {
	m := lifecycle.NewMemory()
	symptom := billing.Finding{Rule: "credits-accumulating", Severity: billing.SeverityWarning, Account: "acme", Entity: "recharges"}
	decide := func(h int, holding ...billing.Finding) string {
		return fmt.Sprint(decider(t, m)(lt.T0.Add(time.Duration(h)*time.Hour), holding...))
	}
	if got := decide(0, burst()); got != "[firing recharge-burst]" {
		t.Fatalf("got %s", got)
	}
	// The burst no longer holds but its alert fires on (hysteresis): the
	// symptom stays folded.
	if got := decide(1, symptom); got != "[]" {
		t.Errorf("during hysteresis: got %s, want the symptom folded", got)
	}
	if got := decide(2, symptom); got != "[resolved recharge-burst firing credits-accumulating]" {
		t.Errorf("after the burst resolved: got %s", got)
	}
}

// lookups is a lifecycle.Tx counting the alerts looked up by fingerprint.
type lookups struct {
	lifecycle.Tx
	n *int
}

func (l lookups) Alert(fp string) (lifecycle.Alert, bool, error) {
	*l.n++
	return l.Tx.Alert(fp)
}

// TestDecideLooksUpNoAlert: Decide finds an account's alerts among its
// firing ones, read once without their findings, and looks one up by
// fingerprint only when it resolves (for its finding), through a silence,
// an inhibition, a resolution and a new episode over a resolved alert. On
// PostgreSQL each look-up is a round trip in the middle of the poll's
// transaction.
func TestDecideLooksUpNoAlert(t *testing.T) {
	symptom := billing.Finding{Rule: "credits-accumulating", Severity: billing.SeverityWarning, Account: "acme", Entity: "recharges"}
	stores(t, func(t *testing.T, s lifecycle.Store) {
		n := 0
		d := deciding(t, s, all, func(tx lifecycle.Tx) lifecycle.Book { return lookups{tx, &n} })
		decide := func(h int, holding ...billing.Finding) string {
			t.Helper()
			return fmt.Sprint(d(lt.T0.Add(time.Duration(h)*time.Hour), holding...))
		}
		silenceBurst(t, s, lt.T0.Add(150*time.Minute))
		steps := []struct {
			h       int
			holding []billing.Finding
			want    string
			lookups int
		}{
			{0, []billing.Finding{burst()}, "[]", 0}, // silenced
			{3, []billing.Finding{burst()}, "[firing recharge-burst]", 0},
			{4, []billing.Finding{burst(), symptom}, "[]", 0}, // the symptom inhibited
			{5, nil, "[]", 0},
			{6, nil, "[resolved recharge-burst]", 1},
			{7, []billing.Finding{symptom}, "[firing credits-accumulating]", 0},
			{8, []billing.Finding{burst(), symptom}, "[firing recharge-burst]", 0}, // over the resolved alert
		}
		for _, st := range steps {
			n = 0
			if got := decide(st.h, st.holding...); got != st.want {
				t.Errorf("hour %d: got %s, want %s", st.h, got, st.want)
			}
			if n != st.lookups {
				t.Errorf("hour %d: Decide looked up %d alerts by fingerprint, want %d", st.h, n, st.lookups)
			}
			if st.h != 6 {
				continue
			}
			// Resolved with the finding it was read without.
			if err := s.View(context.Background(), func(tx lifecycle.Tx) error {
				a, _, err := tx.Alert(billing.Fingerprint("recharge-burst", "acme", "recharges"))
				if err != nil {
					return err
				}
				n, err := lifecycle.DecodePayload(a.Finding)
				if a.State != lifecycle.Resolved || err != nil || n.Finding.Summary != "3 recharges in 6 hours" {
					t.Errorf("the resolved alert: state %s, finding %s (%v); want resolved with its finding", a.State, a.Finding, err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestStoreActions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(ctx, func(tx *store.Tx) error {
		_, err := lifecycle.Decide(tx, "acme", []billing.Finding{burst()}, explain, all, billing.AccountState{}, lt.T0, policy)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a := lifecycle.StoreActions{Store: st.Lifecycle(), Clock: clockAt(lt.T0.Add(time.Hour))}
	if err := a.Ack(ctx, burst().Fingerprint(), "U123"); err != nil {
		t.Fatal(err)
	}
	if err := a.Ack(ctx, "0000000000000000", "U123"); err == nil {
		t.Error("ack of an unknown alert: got no error")
	}
	if err := a.Silence(ctx, "recharge-burst", "acme", 24*time.Hour, "U123", "from Slack"); err != nil {
		t.Fatal(err)
	}
	st.View(ctx, func(tx *store.Tx) error {
		al, _, _ := tx.Alert(burst().Fingerprint())
		if al.AckedBy != "U123" || !al.AckedAt.Equal(lt.T0.Add(time.Hour)) {
			t.Errorf("ack: got %q at %s", al.AckedBy, al.AckedAt)
		}
		if _, ok, _ := tx.Silenced("recharge-burst", "acme", lt.T0.Add(2*time.Hour)); !ok {
			t.Error("silence: not in effect an hour later")
		}
		return nil
	})
}
