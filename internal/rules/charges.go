package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// ChargeWithoutCredit fires for a charge (invoice or receipt) that no credit
// matched within Window: no grant of the amount excluding tax, to the cent,
// appeared (grants are matched on amount, never on their back-dated date).
// It needs the provider's grant list to see credit land, and only looks at
// charges paid after guardd started watching and within Lookback.
type ChargeWithoutCredit struct {
	// Window is how long credit may take to appear after a charge (and a
	// charge after credit) before the rule fires.
	Window setting.Duration `yaml:"window"`
	// Lookback: charges older than this are not examined.
	Lookback setting.Duration `yaml:"lookback"`
}

func defaultChargeWithoutCredit() *ChargeWithoutCredit {
	return &ChargeWithoutCredit{Window: setting.DurationOf(2 * time.Hour), Lookback: setting.DurationOf(30 * 24 * time.Hour)}
}

// History implements Rule.
func (r ChargeWithoutCredit) History() time.Duration { return r.Lookback.Duration }

// PointHistory implements Rule: it reads charges and recharges, and the
// balance at now (the burn window's).
func (ChargeWithoutCredit) PointHistory() time.Duration { return 0 }

// Name implements Rule.
func (ChargeWithoutCredit) Name() string { return "charge-without-credit" }

func (r ChargeWithoutCredit) offends(h *ledger.Ledger, now time.Time, x *ledger.Recharge) bool {
	if x.Charge.Origin == billing.ChargeInferred || x.GrantID != "" || now.Sub(x.At) < r.Window.Duration {
		return false
	}
	// Credit could only have been seen if grants were read after the wait.
	cur, _ := h.Current()
	first, ok := h.First()
	return ok && cur != nil && cur.Has(billing.PartGrants) && !x.At.Before(first) && !cur.At.Before(x.At.Add(r.Window.Duration))
}

// Check implements Rule. Charges without credit are grouped: one finding
// per account lists them all, so a run of them is one alert, not a flood.
func (r ChargeWithoutCredit) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if !h.AnyRecharge(now.Add(-r.Lookback.Duration), now, func(x *ledger.Recharge) bool { return r.offends(h, now, x) }) {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "charges"}}
}

// Explain implements Rule.
func (r ChargeWithoutCredit) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	var lost []ledger.Recharge
	for _, x := range h.Recharges(now.Add(-r.Lookback.Duration), now) {
		if r.offends(h, now, &x) {
			lost = append(lost, x)
			f.Evidence = append(f.Evidence, rechargeEvidence(x))
		}
	}
	cur := h.Account().Currency
	paid, credit := decimal.Zero, decimal.Zero
	for _, x := range lost {
		paid, credit = paid.Add(x.Charge.Amount.Amount()), credit.Add(x.Charge.Credit().Amount())
	}
	if len(lost) == 1 {
		c := lost[0].Charge
		tax := ""
		if !c.Tax.IsZero() {
			tax = fmt.Sprintf(" (%s of it tax, which never becomes credit)", c.Tax.Display())
		}
		f.Summary = fmt.Sprintf("Charge %s of %s%s paid %s became no credit: no grant of %s appeared within %s.",
			c.ID, c.Amount.Display(), tax, c.PaidAt.UTC().Format("2006-01-02 15:04 UTC"), c.Credit().Display(), billing.Words(r.Window.Duration))
		f.Recommendation = fmt.Sprintf("Ask the provider's support for the %s of credit charge %s paid for, with this evidence.", c.Credit().Display(), c.ID)
		return f
	}
	f.Summary = fmt.Sprintf("%d charges totalling %s in the last %s became no credit: no grant of the amount excluding tax (%s in all) appeared within %s of each.",
		len(lost), billing.NewMoney(paid, cur).Display(), billing.Words(r.Lookback.Duration), billing.NewMoney(credit, cur).Display(), billing.Words(r.Window.Duration))
	f.Recommendation = fmt.Sprintf("Ask the provider's support for the %s of credit these charges paid for, with this evidence.",
		billing.NewMoney(credit, cur).Display())
	return f
}

// CreditWithoutCharge is charge-without-credit's reverse, at info level: a
// purchased grant appeared but no charge for it showed within the window,
// although charges are read. Often a charge guardd cannot see (a receipt not
// imported); worth a look, not a page.
// It takes its window and lookback from charge-without-credit.
type CreditWithoutCharge struct{ *ChargeWithoutCredit }

// Name implements Rule.
func (CreditWithoutCharge) Name() string { return "credit-without-charge" }

func (r CreditWithoutCharge) offends(h *ledger.Ledger, now time.Time, x *ledger.Recharge) bool {
	cur, _ := h.Current()
	return x.Charge.Origin == billing.ChargeInferred && x.GrantID != "" && now.Sub(x.At) >= r.Window.Duration &&
		cur != nil && cur.Has(billing.PartCharges)
}

// Check implements Rule; like charge-without-credit, it groups per account.
func (r CreditWithoutCharge) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if !h.AnyRecharge(now.Add(-r.Lookback.Duration), now, func(x *ledger.Recharge) bool { return r.offends(h, now, x) }) {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityInfo, Entity: "grants"}}
}

// Explain implements Rule.
func (r CreditWithoutCharge) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	var ids []string
	for _, x := range h.Recharges(now.Add(-r.Lookback.Duration), now) {
		if r.offends(h, now, &x) {
			ids = append(ids, fmt.Sprintf("%s of %s at %s", x.GrantID, x.Charge.Amount.Display(), x.At.UTC().Format("2006-01-02 15:04 UTC")))
			f.Evidence = append(f.Evidence, rechargeEvidence(x))
		}
	}
	f.Summary = fmt.Sprintf("Purchased credit appeared with no charge for it within %s: %s.", billing.Words(r.Window.Duration), strings.Join(ids, "; "))
	return f
}

// Sees implements Rule: charges are stated and the grants they become are
// listed.
func (ChargeWithoutCredit) Sees(s billing.Sight) bool { return s.Charges && s.Grants }

// Sees implements Rule, as charge-without-credit.
func (CreditWithoutCharge) Sees(s billing.Sight) bool { return s.Charges && s.Grants }
