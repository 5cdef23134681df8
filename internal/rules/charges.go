package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
)

// ChargeWithoutCredit fires for a charge (invoice or receipt) that no credit
// matched within Window: no grant of the amount excluding tax, to the cent,
// appeared (grants are matched on amount, never on their back-dated date).
// It needs the provider's grant list to see credit land, and only looks at
// charges paid after guardd started watching and within Lookback.
type ChargeWithoutCredit struct{ P ChargeWithoutCreditParams }

// Name implements Rule.
func (ChargeWithoutCredit) Name() string { return "charge-without-credit" }

func (r ChargeWithoutCredit) offends(h *ledger.Ledger, now time.Time, x *ledger.Recharge) bool {
	if x.Charge.Origin == billing.ChargeInferred || x.GrantID != "" || now.Sub(x.At) < r.P.Window {
		return false
	}
	// Credit could only have been seen if grants were read after the wait.
	cur, _ := h.Current()
	first, ok := h.First()
	return ok && cur != nil && cur.Has(billing.PartGrants) && !x.At.Before(first) && !cur.At.Before(x.At.Add(r.P.Window))
}

// Check implements Rule.
func (r ChargeWithoutCredit) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	var out []billing.Finding
	for _, x := range h.Recharges(now.Add(-r.P.Lookback), now) {
		if r.offends(h, now, &x) {
			out = append(out, billing.Finding{Severity: billing.SeverityWarning, Entity: "charge:" + x.Charge.ID})
		}
	}
	return out
}

// Explain implements Rule.
func (r ChargeWithoutCredit) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	for _, x := range h.Recharges(now.Add(-r.P.Lookback), now) {
		if "charge:"+x.Charge.ID != f.Entity {
			continue
		}
		c := x.Charge
		tax := ""
		if !c.Tax.IsZero() {
			tax = fmt.Sprintf(" (%s of it tax, which never becomes credit)", c.Tax.Display())
		}
		f.Summary = fmt.Sprintf("Charge %s of %s%s paid %s became no credit: no grant of %s appeared within %s.",
			c.ID, c.Amount.Display(), tax, c.PaidAt.UTC().Format("2006-01-02 15:04 UTC"), c.Credit().Display(), billing.Words(r.P.Window))
		f.Evidence = []billing.Evidence{rechargeEvidence(x)}
		f.Recommendation = fmt.Sprintf("Ask the provider's support for the %s of credit charge %s paid for, with this evidence.", c.Credit().Display(), c.ID)
	}
	return f
}

// CreditWithoutCharge is charge-without-credit's reverse, at info level: a
// purchased grant appeared but no charge for it showed within the window,
// although charges are read. Often a charge guardd cannot see (a receipt not
// imported); worth a look, not a page.
type CreditWithoutCharge struct{ P ChargeWithoutCreditParams }

// Name implements Rule.
func (CreditWithoutCharge) Name() string { return "credit-without-charge" }

func (r CreditWithoutCharge) offends(h *ledger.Ledger, now time.Time, x *ledger.Recharge) bool {
	cur, _ := h.Current()
	return x.Charge.Origin == billing.ChargeInferred && x.GrantID != "" && now.Sub(x.At) >= r.P.Window &&
		cur != nil && cur.Has(billing.PartCharges)
}

// Check implements Rule.
func (r CreditWithoutCharge) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	var out []billing.Finding
	for _, x := range h.Recharges(now.Add(-r.P.Lookback), now) {
		if r.offends(h, now, &x) {
			out = append(out, billing.Finding{Severity: billing.SeverityInfo, Entity: "grant:" + x.GrantID})
		}
	}
	return out
}

// Explain implements Rule.
func (r CreditWithoutCharge) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	for _, x := range h.Recharges(now.Add(-r.P.Lookback), now) {
		if "grant:"+x.GrantID != f.Entity {
			continue
		}
		f.Summary = fmt.Sprintf("Purchased grant %s of %s appeared at %s, but no charge for it showed within %s.",
			x.GrantID, x.Charge.Amount.Display(), x.At.UTC().Format("2006-01-02 15:04 UTC"), billing.Words(r.P.Window))
		f.Evidence = []billing.Evidence{rechargeEvidence(x)}
	}
	return f
}
