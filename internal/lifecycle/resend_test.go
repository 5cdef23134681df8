package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
)

// resender records what Resend was given.
type resender struct {
	every time.Duration
	fail  error
	got   [][]string
}

func (r *resender) Send(context.Context, alert.Notification) (alert.Ref, bool, error) {
	return alert.Ref{}, false, nil
}

func (r *resender) Resend(_ context.Context, firing []alert.Notification) error {
	var rules []string
	for _, n := range firing {
		if n.Status != alert.StatusFiring || n.Finding.Summary == "" {
			rules = append(rules, "bad:"+n.Finding.Rule)
			continue
		}
		rules = append(rules, n.Finding.Rule+"@"+n.Finding.Account)
	}
	r.got = append(r.got, rules)
	return r.fail
}

func (r *resender) ResendEvery() time.Duration { return r.every }

// TestResend: the alerts firing now go to every Resender, each the ones it
// wants, as last notified; silenced and info alerts stay out (they are
// not notified one by one), acknowledged and resolved ones do as they
// would; other receivers get nothing.
func TestResend(t *testing.T) {
	stores(t, func(t *testing.T, s lifecycle.Store) {
		t0 := time.Date(2026, 10, 14, 3, 0, 0, 0, time.UTC)
		decide := func(account string, now time.Time, holding ...billing.Finding) {
			t.Helper()
			if err := s.Update(context.Background(), func(tx lifecycle.Tx) error {
				_, err := lifecycle.Decide(tx, account, holding, explain, all, billing.AccountState{}, now, policy)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		runway := billing.Finding{Rule: "runway-low", Severity: billing.SeverityCritical, Account: "beta", Entity: "runway"}
		phantom := billing.Finding{Rule: "phantom-balance", Severity: billing.SeverityWarning, Account: "acme", Entity: "g1"}
		info := billing.Finding{Rule: "credit-without-charge", Severity: billing.SeverityInfo, Account: "acme", Entity: "grants"}
		gone := billing.Finding{Rule: "drawdown-order", Severity: billing.SeverityWarning, Account: "gamma", Entity: "granted"}
		decide("acme", t0, burst(), phantom, info)
		decide("beta", t0, runway)
		decide("gamma", t0, gone)
		decide("gamma", t0.Add(time.Hour))
		decide("gamma", t0.Add(2*time.Hour)) // resolved after two misses
		if err := s.Update(context.Background(), func(tx lifecycle.Tx) error {
			a, _, err := tx.Alert(burst().Fingerprint())
			if err != nil {
				return err
			}
			a.AckedBy, a.AckedAt = "alice", t0
			if err := tx.PutAlert(a); err != nil {
				return err
			}
			_, err = tx.AddSilence(lifecycle.Silence{Rule: "phantom-balance", Start: t0, End: t0.Add(24 * time.Hour), Comment: "known"})
			return err
		}); err != nil {
			t.Fatal(err)
		}

		all, onlyBeta, plain := &resender{every: time.Minute}, &resender{every: 30 * time.Second}, &resender{}
		receivers := []alert.Receiver{
			{Name: "am", Notifier: all},
			{Name: "am-beta", Notifier: onlyBeta, Accounts: []string{"beta"}},
			{Name: "stdout", Notifier: alert.NewWriter(nil, alert.FormatText)},
		}
		now := t0.Add(3 * time.Hour)
		if err := lifecycle.Resend(context.Background(), s, receivers, now, policy); err != nil {
			t.Fatal(err)
		}
		// In the order they fired, then by fingerprint.
		if want := [][]string{{"runway-low@beta", "recharge-burst@acme"}}; !slices.EqualFunc(all.got, want, slices.Equal) {
			t.Errorf("am: got %v, want %v", all.got, want)
		}
		if want := [][]string{{"runway-low@beta"}}; !slices.EqualFunc(onlyBeta.got, want, slices.Equal) {
			t.Errorf("am-beta: got %v, want %v", onlyBeta.got, want)
		}
		if got := lifecycle.ResendEvery(receivers); got != 30*time.Second {
			t.Errorf("ResendEvery: got %s, want the shortest, 30s", got)
		}
		if got := lifecycle.ResendEvery([]alert.Receiver{{Name: "x", Notifier: plain}}); got != 0 {
			t.Errorf("ResendEvery without a Resender: got %s, want 0", got)
		}

		// Immediate (a dry run, a replay) sends info findings one by one:
		// so does a resend. A failure at one receiver is reported, the
		// other is still served.
		all.got, onlyBeta.got, onlyBeta.fail = nil, nil, errors.New("refused")
		err := lifecycle.Resend(context.Background(), s, receivers, now, lifecycle.Policy{Immediate: true})
		if err == nil || err.Error() != "receiver am-beta: resend 1 firing alerts: refused" {
			t.Errorf("got error %v, want am-beta's", err)
		}
		if want := [][]string{{"runway-low@beta", "credit-without-charge@acme", "recharge-burst@acme"}}; !slices.EqualFunc(all.got, want, slices.Equal) {
			t.Errorf("am, immediate: got %v, want %v", all.got, want)
		}
	})
}
