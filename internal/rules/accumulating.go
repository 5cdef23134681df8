package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// CreditsAccumulating fires when, over Window, at least MinRecharges
// recharges added more credit than the account spent, by MinExcess and by a
// factor of MinRatio: the balance climbs while the card is billed. It needs
// consumption measured over at least half the window.
type CreditsAccumulating struct {
	Window       setting.Duration `yaml:"window"`
	MinRecharges setting.Count    `yaml:"min_recharges" min:"1"`
	// MinExcess is the least credit added beyond what was spent, and
	// MinRatio the least ratio of added to spent; both must hold.
	MinExcess setting.Amount `yaml:"min_excess"`
	MinRatio  setting.Amount `yaml:"min_ratio"`
	burn
}

func defaultCreditsAccumulating() *CreditsAccumulating {
	return &CreditsAccumulating{Window: setting.DurationOf(24 * time.Hour), MinRecharges: setting.CountOf(2),
		MinExcess: setting.AmountOf(decimal.NewFromInt(10)), MinRatio: setting.AmountOf(decimal.NewFromInt(2))}
}

// History implements Rule.
func (r CreditsAccumulating) History() time.Duration { return r.Window.Duration }

// Name implements Rule.
func (CreditsAccumulating) Name() string { return "credits-accumulating" }

func (r CreditsAccumulating) measure(h *ledger.Ledger, now time.Time) (added, spent decimal.Decimal, n int, ok bool) {
	from := now.Add(-r.Window.Duration)
	if h.CountRecharges(from, now, countsAsAutoRecharge) < r.MinRecharges.N {
		return added, spent, 0, false
	}
	added, n = h.SumRecharges(from, now, func(x *ledger.Recharge) (decimal.Decimal, bool) {
		return x.Credit, countsAsAutoRecharge(x)
	})
	spent, covered := h.Consumption(from, now)
	if covered < r.Window.Duration/2 {
		return added, spent, n, false
	}
	ok = ledger.Compare(added.Sub(spent), r.MinExcess.Decimal) >= 0 && ledger.Compare(added, spent.Mul(r.MinRatio.Decimal)) >= 0
	return added, spent, n, ok
}

// Check implements Rule.
func (r CreditsAccumulating) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if _, _, _, ok := r.measure(h, now); !ok {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "recharges"}}
}

// Explain implements Rule.
func (r CreditsAccumulating) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	added, spent, n, _ := r.measure(h, now)
	c := h.Account().Currency
	f.Summary = fmt.Sprintf("In the last %s, %s added %s of credit but the account used only %s: the balance climbs while the card is billed.",
		billing.Words(r.Window.Duration), plural(n, "recharge", "recharges"), billing.NewMoney(added, c).Display(), billing.NewMoney(spent, c).Display())
	for _, x := range h.Recharges(now.Add(-r.Window.Duration), now) {
		if countsAsAutoRecharge(&x) {
			f.Evidence = append(f.Evidence, rechargeEvidence(x))
		}
	}
	f.Recommendation = disableAdvice(h, now, r.burnWindow)
	return f
}

// Sees implements Rule: recharges and the balance are visible.
func (CreditsAccumulating) Sees(s billing.Sight) bool { return s.Recharges && s.Effective() }
