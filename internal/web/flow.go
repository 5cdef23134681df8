package web

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/shopspring/decimal"
)

// Flow is where the money of a period went: each charge, the credit it
// became (tax apart), how that credit was drawn grant by grant, and what
// expired unused. Amounts are exact; they are rounded only when shown.
type Flow struct {
	From, To time.Time
	Currency billing.Currency
	// Charges are the recharges of the period, oldest first; when there
	// are more than maxFlowRows they are summed by day or by week (Per
	// says which).
	Charges []FlowCharge
	Per     string
	// Grants are the grants listed during the period, those a charge of
	// the period became first; past maxFlowGrants the rest only count in
	// the totals (MoreGrants says how many).
	Grants     []FlowGrant
	MoreGrants int
	// GrantsSeen is false for an account whose provider lists no grants:
	// how credit was drawn cannot be told, only how the balance moved.
	GrantsSeen bool
	Total      FlowTotal
}

// FlowTotal sums a period.
type FlowTotal struct {
	Charges                         int
	Paid, Tax, Credit               decimal.Decimal
	Drawn, Expired, Left, UsedAfter decimal.Decimal
}

// FlowCharge is one recharge (or Count of them, summed) and what became
// of its credit by the end of the period.
type FlowCharge struct {
	// Anchor is the row's id, which the timeline's marker links to.
	Anchor string
	At     time.Time
	// Until is the last recharge's time in a summed row.
	Until time.Time
	Count int
	// Ref is the invoice or receipt number; empty for a recharge guardd
	// inferred.
	Ref     string
	Origin  billing.ChargeOrigin
	Trigger string
	// Paid and Tax are what the card was charged (zero for an inferred
	// recharge, which shows only its credit); Credit what it added.
	Paid, Tax, Credit decimal.Decimal
	AtLeast           bool
	// GrantID is the grant its credit became; Drawn, Expired and Left are
	// that grant's, over the period, when it is listed (DrawnKnown).
	GrantID              string
	Drawn, Expired, Left decimal.Decimal
	DrawnKnown           bool
	Basis, Source        string
	SeenAt               time.Time
}

// FlowGrant is one grant over the period: used before it, drawn during it,
// expired unused in it, and left at its end.
type FlowGrant struct {
	Grant ledger.GrantHistory
	// Charge is the charge it came from, when a recharge of the period
	// became it.
	Charge                       string
	Before, Drawn, Expired, Left decimal.Decimal
}

const (
	maxFlowRows   = 60
	maxFlowGrants = 60
)

// NewFlow follows the money of [from, to] through the ledger.
func NewFlow(l *ledger.Ledger, from, to time.Time) Flow {
	return newFlow(l, l.Recharges(from.Add(-time.Nanosecond), to), from, to)
}

// newFlow is NewFlow given the recharges of the period.
func newFlow(l *ledger.Ledger, rs []ledger.Recharge, from, to time.Time) Flow {
	f := Flow{From: from, To: to, Currency: l.Account().Currency}
	grants := make(map[string]FlowGrant)
	var order []FlowGrant
	for _, g := range l.Grants() {
		if g.LastSeen.Before(from) || g.Grant.FirstSeen.After(to) {
			continue
		}
		f.GrantsSeen = true
		fg := grantFlow(g, from, to)
		grants[g.Grant.ID] = fg
		order = append(order, fg)
		f.Total.Drawn = f.Total.Drawn.Add(fg.Drawn)
		f.Total.Expired = f.Total.Expired.Add(fg.Expired)
		f.Total.Left = f.Total.Left.Add(fg.Left)
	}
	if cur, _ := l.Current(); cur != nil && cur.Has(billing.PartGrants) {
		f.GrantsSeen = true
	}
	rows := make([]FlowCharge, len(rs))
	for i, r := range rs {
		row := FlowCharge{Anchor: fmt.Sprintf("charge-%d", i), At: r.At, Count: 1, Origin: r.Charge.Origin, Trigger: trigger(r),
			Credit: r.Credit, AtLeast: r.AtLeast, GrantID: r.GrantID, Basis: r.Basis, Source: r.Source, SeenAt: r.SeenAt}
		if r.Charge.Origin != billing.ChargeInferred {
			row.Ref, row.Paid, row.Tax = r.Charge.ID, r.Charge.Amount.Amount(), r.Charge.Tax.Amount()
		}
		if g, ok := grants[r.GrantID]; ok && r.GrantID != "" {
			row.Drawn, row.Expired, row.Left, row.DrawnKnown = g.Drawn, g.Expired, g.Left, true
			g.Charge = row.Ref
			if g.Charge == "" {
				g.Charge = "inferred " + fmtTime(r.At)
			}
			grants[r.GrantID] = g
		}
		rows[i] = row
		f.Total.Charges++
		f.Total.Paid = f.Total.Paid.Add(row.Paid)
		f.Total.Tax = f.Total.Tax.Add(row.Tax)
		f.Total.Credit = f.Total.Credit.Add(row.Credit)
	}
	f.Charges, f.Per = sumRows(rows)
	// The grants a charge of the period became come first, in the order
	// of their charges; then the others, as the ledger saw them.
	var first, rest []FlowGrant
	for _, g := range order {
		g = grants[g.Grant.Grant.ID]
		if g.Charge != "" {
			first = append(first, g)
		} else {
			rest = append(rest, g)
		}
	}
	f.Grants = append(first, rest...)
	if len(f.Grants) > maxFlowGrants {
		f.MoreGrants = len(f.Grants) - maxFlowGrants
		f.Grants = f.Grants[:maxFlowGrants]
	}
	return f
}

func trigger(r ledger.Recharge) string {
	s := string(r.Trigger)
	if r.TriggerGuessed {
		s += " (guessed: " + r.TriggerWhy + ")"
	}
	return s
}

// grantFlow works out a grant's credit over [from, to].
func grantFlow(g ledger.GrantHistory, from, to time.Time) FlowGrant {
	amount := g.Grant.Amount.Amount()
	before, _ := g.UsedBy(from)
	end, _ := g.UsedBy(to)
	fg := FlowGrant{Grant: g, Before: before, Drawn: end.Sub(before)}
	if fg.Drawn.IsNegative() {
		fg.Drawn = decimal.Zero
	}
	exp := g.Grant.ExpiresAt
	switch {
	case !exp.IsZero() && !exp.After(to) && exp.After(from):
		// Expired in the period: what was left when it expired.
		at, _ := g.UsedBy(exp)
		if left := amount.Sub(at); left.IsPositive() {
			fg.Expired = left
		}
	case !exp.IsZero() && !exp.After(from):
		// Expired before: nothing of it counts in the period.
	default:
		if left := amount.Sub(end); left.IsPositive() {
			fg.Left = left
		}
	}
	return fg
}

// sumRows sums the rows by day, or by week or 30 days, when there are more
// than maxFlowRows; it says by what.
func sumRows(rows []FlowCharge) ([]FlowCharge, string) {
	if len(rows) <= maxFlowRows {
		return rows, ""
	}
	// The shortest span that leaves few enough rows.
	per := []struct {
		name string
		d    time.Duration
	}{{"day", 24 * time.Hour}, {"week", 7 * 24 * time.Hour}, {"30 days", 30 * 24 * time.Hour}}
	k := 0
	for ; k < len(per)-1; k++ {
		n := 0
		for i, r := range rows {
			if i == 0 || !r.At.Truncate(per[k].d).Equal(rows[i-1].At.Truncate(per[k].d)) {
				n++
			}
		}
		if n <= maxFlowRows {
			break
		}
	}
	d := per[k].d
	var out []FlowCharge
	for _, r := range rows {
		if n := len(out); n > 0 && r.At.Truncate(d).Equal(out[n-1].At.Truncate(d)) {
			o := &out[n-1]
			o.Count++
			o.Until = r.At
			o.Paid, o.Tax, o.Credit = o.Paid.Add(r.Paid), o.Tax.Add(r.Tax), o.Credit.Add(r.Credit)
			o.Drawn, o.Expired, o.Left = o.Drawn.Add(r.Drawn), o.Expired.Add(r.Expired), o.Left.Add(r.Left)
			o.DrawnKnown = o.DrawnKnown && r.DrawnKnown
			o.AtLeast = o.AtLeast || r.AtLeast
			if r.Origin != o.Origin {
				o.Origin = ""
			}
			if r.Trigger != o.Trigger {
				o.Trigger = "mixed"
			}
			continue
		}
		r.Until = r.At
		r.Ref, r.GrantID, r.Basis = "", "", ""
		out = append(out, r)
	}
	return out, per[k].name
}
