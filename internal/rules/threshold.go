package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// RechargeAboveThreshold fires when, within Lookback, auto-recharge charged
// the card although the effective balance was above the configured threshold
// by more than Tolerance. guardd only knows the balance just before a
// recharge up to the spend between it and the next poll, so it uses the
// lowest the balance can have been; in restore-to-target mode the charge
// itself also tells the balance the provider saw (target - credit).
type RechargeAboveThreshold struct {
	// Tolerance: the balance before the recharge must exceed the threshold
	// by more than this.
	Tolerance setting.Amount `yaml:"tolerance"`
	// Lookback is how long an offending recharge keeps the finding active.
	Lookback setting.Duration `yaml:"lookback"`
	burn
}

func defaultRechargeAboveThreshold() *RechargeAboveThreshold {
	return &RechargeAboveThreshold{Tolerance: setting.AmountOf(decimal.New(50, -2)), Lookback: setting.DurationOf(24 * time.Hour)}
}

// History implements Rule.
func (r RechargeAboveThreshold) History() time.Duration { return r.Lookback.Duration }

// PointHistory implements Rule: it reads recharges (with the balance
// noted when each was placed) and the balance at now.
func (RechargeAboveThreshold) PointHistory() time.Duration { return 0 }

// Name implements Rule.
func (RechargeAboveThreshold) Name() string { return "recharge-above-threshold" }

// limit is the balance a recharge must have happened above to offend: the
// threshold plus the tolerance.
func (r RechargeAboveThreshold) limit(ar billing.AutoRecharge) decimal.Decimal {
	return ar.Threshold.Amount().Add(r.Tolerance.Decimal)
}

// before returns the balance a recharge provably happened above limit, and
// how it is known.
func (r RechargeAboveThreshold) before(ar billing.AutoRecharge, limit decimal.Decimal, x *ledger.Recharge) (billing.Money, string, bool) {
	if !countsAsAutoRecharge(x) {
		return billing.Money{}, "", false
	}
	c := ar.Threshold.Currency()
	if x.BeforeKnown && ledger.Compare(x.BalanceBefore, limit) > 0 {
		if x.BeforeDerived {
			return billing.NewMoney(x.BalanceBefore, c), "derived balance before it at least", true
		}
		return billing.NewMoney(x.BalanceBefore, c), "balance before it at least", true
	}
	if ar.Mode == billing.RechargeRestore {
		if seen := ar.Target.Amount().Sub(x.Credit); ledger.Compare(seen, limit) > 0 {
			return billing.NewMoney(seen, c), "restoring to the target means the provider saw", true
		}
	}
	return billing.Money{}, "", false
}

// Check implements Rule.
func (r RechargeAboveThreshold) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	ar := h.Account().AutoRecharge
	if !ar.Enabled {
		return nil
	}
	limit := r.limit(ar)
	offends := func(x *ledger.Recharge) bool { _, _, ok := r.before(ar, limit, x); return ok }
	if h.CountRecharges(now.Add(-r.Lookback.Duration), now, offends) == 0 {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "recharges"}}
}

// Explain implements Rule.
func (r RechargeAboveThreshold) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	ar := h.Account().AutoRecharge
	from := now.Add(-r.Lookback.Duration)
	var ev []billing.Evidence
	n := 0
	var lowest billing.Money
	for _, x := range h.Recharges(from, now) {
		bal, how, ok := r.before(ar, r.limit(ar), &x)
		if !ok {
			continue
		}
		if n == 0 || bal.Amount().LessThan(lowest.Amount()) {
			lowest = bal
		}
		n++
		e := rechargeEvidence(x)
		e.Note = fmt.Sprintf("%s %s; %s", how, bal.Display(), e.Note)
		ev = append(ev, e)
	}
	summary := fmt.Sprintf("%s in the last %s although the balance was above the %s threshold (by at least %s, tolerance %s).",
		plural(n, "auto-recharge", "auto-recharges"), billing.Words(r.Lookback.Duration), ar.Threshold.Display(),
		billing.NewMoney(lowest.Amount().Sub(ar.Threshold.Amount()), lowest.Currency()).Display(),
		billing.NewMoney(r.Tolerance.Decimal, lowest.Currency()).Display())
	f.Summary, f.Evidence, f.Recommendation = summary, ev, disableAdvice(h, now, r.burnWindow)
	return f
}

// Sees implements Rule: recharges and the balance before them are visible.
func (RechargeAboveThreshold) Sees(s billing.Sight) bool { return s.Recharges && s.Effective() }
