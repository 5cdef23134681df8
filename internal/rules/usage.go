package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// SpendWithoutUsage fires when, in a cost window the provider has settled,
// grants were drawn down or charges paid beyond Floor while the provider's
// cost data for the same window says about zero (the "usage page says $0.00
// after $70 was spent" report). Unsettled windows are never judged: cost
// APIs lag by minutes to a day.
type SpendWithoutUsage struct {
	// Floor is the least drawdown or charge in a window that counts.
	Floor setting.Amount `yaml:"floor"`
	// ZeroBelow: reported cost at or below this is "about zero".
	ZeroBelow setting.Amount `yaml:"zero_below"`
	// Lookback: settled windows starting earlier are not examined.
	Lookback setting.Duration `yaml:"lookback"`
}

func defaultSpendWithoutUsage() *SpendWithoutUsage {
	return &SpendWithoutUsage{Floor: setting.AmountOf(decimal.NewFromInt(1)), ZeroBelow: setting.AmountOf(decimal.New(1, -2)),
		Lookback: setting.DurationOf(7 * 24 * time.Hour)}
}

// History implements Rule: a settled window is judged up to two days
// after it ends.
func (r SpendWithoutUsage) History() time.Duration { return r.Lookback.Duration + 48*time.Hour }

// PointHistory implements Rule: the consumption over the settled windows
// starting in the lookback.
func (r SpendWithoutUsage) PointHistory() time.Duration { return r.Lookback.Duration }

// Name implements Rule.
func (SpendWithoutUsage) Name() string { return "spend-without-usage" }

type usageGap struct {
	cost           ledger.CostEntry
	drawn, charged decimal.Decimal
	drawnMeasured  bool
}

func (r SpendWithoutUsage) gaps(h *ledger.Ledger, now time.Time) []usageGap {
	var out []usageGap
	for _, e := range h.Costs(now.Add(-r.Lookback.Duration), now) {
		b := e.Bucket
		if !b.Settled || ledger.Compare(b.Amount.Amount(), r.ZeroBelow.Decimal) > 0 || b.End.After(now) {
			continue
		}
		g := usageGap{cost: e}
		if h.Covers(b.Start, b.End) {
			var covered time.Duration
			g.drawn, covered = h.Consumption(b.Start, b.End)
			g.drawnMeasured = covered >= b.End.Sub(b.Start)*9/10
		}
		g.charged, _ = h.SumRecharges(b.Start.Add(-time.Nanosecond), b.End.Add(-time.Nanosecond),
			func(x *ledger.Recharge) (decimal.Decimal, bool) { return x.Charge.Amount.Amount(), true })
		if (g.drawnMeasured && ledger.Compare(g.drawn, r.Floor.Decimal) >= 0) || ledger.Compare(g.charged, r.Floor.Decimal) >= 0 {
			out = append(out, g)
		}
	}
	return out
}

// Check implements Rule.
func (r SpendWithoutUsage) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if len(r.gaps(h, now)) == 0 {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "usage"}}
}

// Explain implements Rule.
func (r SpendWithoutUsage) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	c := h.Account().Currency
	gaps := r.gaps(h, now)
	drawn, charged := decimal.Zero, decimal.Zero
	for _, g := range gaps {
		b := g.cost.Bucket
		drawn, charged = drawn.Add(g.drawn), charged.Add(g.charged)
		f.Evidence = append(f.Evidence,
			billing.Evidence{What: "reported cost", At: b.Start, Amount: b.Amount,
				Note:   fmt.Sprintf("settled cost for %s", window(b)),
				Source: g.cost.Source, AsOf: g.cost.AsOf},
		)
		if g.drawnMeasured {
			f.Evidence = append(f.Evidence, billing.Evidence{What: "credit drawn", At: b.Start, Amount: billing.NewMoney(g.drawn, c),
				Note: "grant and balance drawdown over the same window"})
		}
		if g.charged.IsPositive() {
			f.Evidence = append(f.Evidence, billing.Evidence{What: "charged", At: b.Start, Amount: billing.NewMoney(g.charged, c),
				Note: "recharges in the same window (invoices, receipts and inferred purchases)"})
		}
	}
	where := "for " + window(gaps[0].cost.Bucket)
	if len(gaps) > 1 {
		where = fmt.Sprintf("for %d settled windows", len(gaps))
	}
	f.Summary = fmt.Sprintf("The provider's settled cost report says about %s %s, yet %s of credit was drawn and %s charged in the same time.",
		billing.NewMoney(decimal.Zero, c).Display(), where, billing.NewMoney(drawn, c).Display(), billing.NewMoney(charged, c).Display())
	f.Recommendation = "Ask the provider where the spend went: the usage or cost page should show it. Check for usage on keys or projects the cost report does not cover."
	return f
}

// window renders a cost bucket's span: a whole UTC day as its date.
func window(b billing.CostBucket) string {
	if b.End.Sub(b.Start) == 24*time.Hour && b.Start.Equal(b.Start.Truncate(24*time.Hour)) {
		return billing.Day(b.Start) + " (UTC)"
	}
	return b.Start.UTC().Format("2006-01-02 15:04") + " to " + b.End.UTC().Format("2006-01-02 15:04 UTC")
}

// Sees implements Rule: costs are reported, and credit drawn or charges seen.
func (SpendWithoutUsage) Sees(s billing.Sight) bool { return s.Costs && (s.Effective() || s.Charges) }
