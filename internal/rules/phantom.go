package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// PhantomBalance fires when the provider's shown total exceeds the effective
// balance by at least MinDifference because expired grants are still counted
// (the "$69 shown, $3.93 real" report). The finding states the real balance.
type PhantomBalance struct {
	// MinDifference is the least gap between shown and effective balance
	// that fires the rule.
	MinDifference setting.Amount `yaml:"min_difference"`
	burn
}

func defaultPhantomBalance() *PhantomBalance {
	return &PhantomBalance{MinDifference: setting.AmountOf(decimal.NewFromInt(1))}
}

// History implements Rule: it reads the latest position only.
func (r PhantomBalance) History() time.Duration { return 0 }

// Name implements Rule.
func (PhantomBalance) Name() string { return "phantom-balance" }

// Check implements Rule.
func (r PhantomBalance) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	pt, ok := h.Latest(now)
	if !ok || !pt.ShownKnown || !pt.EffectiveKnown ||
		ledger.Compare(pt.ExpiredRemaining, r.MinDifference.Decimal) < 0 || ledger.Compare(pt.Shown.Sub(pt.Effective), r.MinDifference.Decimal) < 0 {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "shown-balance"}}
}

// Explain implements Rule.
func (r PhantomBalance) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	pt, _ := h.Latest(now)
	c := h.Account().Currency
	shown, eff := billing.NewMoney(pt.Shown, c), billing.NewMoney(pt.Effective, c)
	obs, _ := h.Current()
	var ev []billing.Evidence
	if obs != nil && obs.At.Equal(pt.At) {
		bst := obs.Parts[billing.PartBalance]
		ev = append(ev, billing.Evidence{What: "shown balance", At: pt.At, Amount: shown,
			Note: "the total the provider displays", Source: bst.Source, AsOf: bst.AsOf})
		gst := obs.Parts[billing.PartGrants]
		for _, g := range obs.Grants {
			if g.ExpiredAt(pt.At) && g.Remaining().IsPositive() {
				ev = append(ev, billing.Evidence{What: "expired credit grant", Ref: g.ID, At: g.ExpiresAt, Amount: g.Remaining(),
					Note: fmt.Sprintf("expired %s with %s of %s unused, still counted in the total",
						billing.Day(g.ExpiresAt), g.Remaining().Display(), g.Amount.Display()),
					Source: gst.Source, AsOf: gst.AsOf})
			}
		}
	}
	f.Summary = fmt.Sprintf("The provider shows %s but only %s is really spendable: %s of expired grants is still counted in the total.",
		shown.Display(), eff.Display(), billing.NewMoney(pt.ExpiredRemaining, c).Display())
	f.Evidence, f.Recommendation = ev, realBalanceAdvice(h, now, r.burnWindow)
	return f
}

// realBalanceAdvice tells the reader to plan with the effective balance.
func realBalanceAdvice(h *ledger.Ledger, now time.Time, burnWindow time.Duration) string {
	s := h.State(now, burnWindow)
	rw := s.Runway
	base := fmt.Sprintf("Plan with the effective balance of %s, not the %s shown", s.Effective.Display(), s.Shown.Display())
	switch {
	case !rw.Known:
		return base + "."
	case rw.Endless:
		return base + fmt.Sprintf("; nothing was consumed over the last %s.", billing.Words(rw.Window))
	case !s.Effective.IsPositive():
		return base + ": it is used up, so top up now or keep auto-recharge on."
	}
	return base + fmt.Sprintf(": at %s/day it lasts about %s (until %s). Keep auto-recharge on or top up before then.",
		rw.BurnPerDay.Display(), billing.Words(rw.Lasts), billing.Day(rw.Until))
}

// Sees implements Rule: the provider shows a balance and lists its grants.
func (PhantomBalance) Sees(s billing.Sight) bool { return s.Balance && s.Grants }
