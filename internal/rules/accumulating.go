package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/shopspring/decimal"
)

// CreditsAccumulating fires when, over Window, at least MinRecharges
// recharges added more credit than the account spent, by MinExcess and by a
// factor of MinRatio: the balance climbs while the card is billed. It needs
// consumption measured over at least half the window.
type CreditsAccumulating struct {
	P          CreditsAccumulatingParams
	BurnWindow time.Duration
}

// Name implements Rule.
func (CreditsAccumulating) Name() string { return "credits-accumulating" }

func (r CreditsAccumulating) measure(h *ledger.Ledger, now time.Time) (added, spent decimal.Decimal, n int, ok bool) {
	from := now.Add(-r.P.Window)
	if h.CountRecharges(from, now, countsAsAutoRecharge) < r.P.MinRecharges {
		return added, spent, 0, false
	}
	added, n = h.SumRecharges(from, now, func(x *ledger.Recharge) (decimal.Decimal, bool) {
		return x.Credit, countsAsAutoRecharge(x)
	})
	spent, covered := h.Consumption(from, now)
	if covered < r.P.Window/2 {
		return added, spent, n, false
	}
	ok = added.Sub(spent).Cmp(r.P.MinExcess) >= 0 && added.Cmp(spent.Mul(r.P.MinRatio)) >= 0
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
		billing.Words(r.P.Window), plural(n, "recharge", "recharges"), billing.NewMoney(added, c).Display(), billing.NewMoney(spent, c).Display())
	for _, x := range h.Recharges(now.Add(-r.P.Window), now) {
		if countsAsAutoRecharge(&x) {
			f.Evidence = append(f.Evidence, rechargeEvidence(x))
		}
	}
	f.Recommendation = disableAdvice(h, now, r.BurnWindow)
	return f
}
