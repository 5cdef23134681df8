package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// monthStart is the first instant of t's calendar month, UTC.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// chargedThisMonth adds up what the account's non-manual recharges charged
// (tax included) in now's calendar month, and counts them.
func chargedThisMonth(h *ledger.Ledger, now time.Time) (decimal.Decimal, int) {
	return h.SumRecharges(monthStart(now).Add(-time.Nanosecond), now, func(x *ledger.Recharge) (decimal.Decimal, bool) {
		return x.Charge.Amount.Amount(), countsAsAutoRecharge(x)
	})
}

// nextRecharge estimates the size of the next auto-recharge.
func nextRecharge(ar billing.AutoRecharge) decimal.Decimal {
	if ar.Mode == billing.RechargeRestore {
		return ar.Target.Amount().Sub(ar.Threshold.Amount())
	}
	return ar.Amount.Amount()
}

// limitReached reports whether the provider's own monthly recharge limit
// leaves no room for the next recharge this month.
func limitReached(h *ledger.Ledger, now time.Time) (bool, decimal.Decimal) {
	ar := h.Account().AutoRecharge
	if !ar.Enabled || !ar.HasMonthlyLimit {
		return false, decimal.Zero
	}
	charged, _ := chargedThisMonth(h, now)
	return charged.Add(nextRecharge(ar)).GreaterThan(ar.MonthlyLimit.Amount()), charged
}

// MonthlyRechargeCap fires when the recharges of the current calendar month
// (UTC; manual purchases excluded; tax included, since it is what the card
// paid) exceed the cap the user set in guardd (the account's monthly_cap),
// which is separate from the provider's own monthly limit.
type MonthlyRechargeCap struct{ burn }

// History implements Rule: a calendar month, and margin.
func (MonthlyRechargeCap) History() time.Duration { return 34 * 24 * time.Hour }

// PointHistory implements Rule: it counts recharges; the balance it
// reads is the one at now (the burn window's).
func (MonthlyRechargeCap) PointHistory() time.Duration { return 0 }

// Name implements Rule.
func (MonthlyRechargeCap) Name() string { return "monthly-recharge-cap" }

// Check implements Rule.
func (r MonthlyRechargeCap) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	a := h.Account()
	if !a.HasMonthlyCap {
		return nil
	}
	if total, _ := chargedThisMonth(h, now); !total.GreaterThan(a.MonthlyCap.Amount()) {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "month:" + monthStart(now).Format("2006-01")}}
}

// Explain implements Rule.
func (r MonthlyRechargeCap) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	a := h.Account()
	total, n := chargedThisMonth(h, now)
	f.Summary = fmt.Sprintf("Recharges in %s total %s (%s), above the %s monthly cap set in guardd.",
		monthStart(now).Format("January 2006"), billing.NewMoney(total, a.Currency).Display(),
		plural(n, "charge", "charges"), a.MonthlyCap.Display())
	if ar := a.AutoRecharge; ar.HasMonthlyLimit {
		left := ar.MonthlyLimit.Amount().Sub(total)
		if left.IsNegative() {
			left = decimal.Zero
		}
		f.Summary += fmt.Sprintf(" The provider's own monthly limit of %s leaves %s before it stops recharging.",
			ar.MonthlyLimit.Display(), billing.NewMoney(left, a.Currency).Display())
	}
	for _, x := range h.Recharges(monthStart(now).Add(-time.Nanosecond), now) {
		if countsAsAutoRecharge(&x) {
			f.Evidence = append(f.Evidence, rechargeEvidence(x))
		}
	}
	f.Recommendation = disableAdvice(h, now, r.burnWindow)
	return f
}

// RunwayLow fires when the effective balance runs out within Horizon at the
// recent burn while nothing will top it up: auto-recharge is off, or the
// provider's monthly recharge limit leaves no room for the next recharge. A
// negative balance (a provider's delayed cut-off) has no runway at all.
type RunwayLow struct {
	// Horizon: the rule fires when the effective balance runs out sooner.
	Horizon setting.Duration `yaml:"horizon"`
	burn
}

func defaultRunwayLow() *RunwayLow { return &RunwayLow{Horizon: setting.DurationOf(48 * time.Hour)} }

// History implements Rule: it reads the burn.
func (RunwayLow) History() time.Duration { return 0 }

// Name implements Rule.
func (RunwayLow) Name() string { return "runway-low" }

// why returns why no recharge will come, or "" when one will.
func (r RunwayLow) why(h *ledger.Ledger, now time.Time) string {
	ar := h.Account().AutoRecharge
	if !ar.Enabled {
		return "auto-recharge is off"
	}
	if reached, charged := limitReached(h, now); reached {
		return fmt.Sprintf("the provider's monthly recharge limit of %s is reached (%s charged this month)",
			ar.MonthlyLimit.Display(), billing.NewMoney(charged, h.Account().Currency).Display())
	}
	return ""
}

func (r RunwayLow) low(h *ledger.Ledger, now time.Time) bool {
	pt, ok := h.Latest(now)
	if !ok || !pt.EffectiveKnown {
		return false
	}
	if !pt.Effective.IsPositive() {
		return true
	}
	rw := h.Runway(now, r.burnWindow)
	return rw.Known && !rw.Endless && rw.Lasts <= r.Horizon.Duration
}

// Check implements Rule.
func (r RunwayLow) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if !r.low(h, now) || r.why(h, now) == "" {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityCritical, Entity: "runway"}}
}

// Explain implements Rule.
func (r RunwayLow) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	s := h.State(now, r.burnWindow)
	why := r.why(h, now)
	if !s.Effective.IsPositive() {
		f.Summary = fmt.Sprintf("The effective balance is %s: requests will fail (or already run on credit the provider will take back), and %s.",
			s.Effective.Display(), why)
	} else {
		f.Summary = fmt.Sprintf("The effective balance of %s runs out in about %s (%s) at %s/day, and %s.",
			s.Effective.Display(), billing.Words(s.Runway.Lasts), s.Runway.Until.UTC().Format("2006-01-02 15:04 UTC"),
			s.Runway.BurnPerDay.Display(), why)
	}
	f.Evidence = []billing.Evidence{{What: "effective balance", At: s.ObservedAt, Amount: s.Effective,
		Note: "unexpired credit only"}}
	if h.Account().AutoRecharge.Enabled {
		f.Recommendation = "Top up by hand now, or raise the provider's monthly recharge limit."
	} else {
		f.Recommendation = "Top up now or turn auto-recharge on before the balance runs out."
	}
	return f
}

// Sees implements Rule: recharges are visible.
func (MonthlyRechargeCap) Sees(s billing.Sight) bool { return s.Recharges }

// Sees implements Rule: the balance is known (the provider's, or derived).
func (RunwayLow) Sees(s billing.Sight) bool { return s.Effective() }
