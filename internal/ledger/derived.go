package ledger

import (
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// derivedBasis is the EffectiveBasis of a balance derived from the
// account's anchor.
const derivedBasis = "derived: the balance_anchor, plus the credit of recharges since, minus the costs reported since"

// derivedState carries a derived balance from one poll to the next, so that
// deriving costs the same at every poll: the credit and costs since the
// last derivation are added, never the whole history again.
type derivedState struct {
	known  bool
	anchor billing.BalanceAnchor
	// eff is the balance at the last derivation; costs the costs since the
	// anchor then (as the cost book summed them).
	eff, costs decimal.Decimal
	// pending is the credit of recharges after the anchor first seen since
	// the last derivation.
	pending decimal.Decimal
	// dropped is the credit of the recharges after the anchor that the
	// ledger no longer keeps (see trim).
	dropped decimal.Decimal
}

// derive works out the balance at o for an account whose provider shows
// none: the anchor, plus the credit of every recharge after it, minus the
// costs reported since it (a cost window the anchor falls in counts in
// proportion to the part after it). added are the recharges first seen at
// o. It also returns the costs reported since the last derivation. o keeps
// the result (o.Derived), so that a history rebuilt from storage continues
// from it. Nothing is derived before the anchor, without costs at o, or
// when the costs since the anchor are not all known.
func (l *Ledger) derive(o *billing.Observation, added []*Recharge) (eff, spent decimal.Decimal, ok bool) {
	a := l.account.Anchor
	st := &l.derived
	for _, r := range added {
		if r.At.After(a.At) {
			st.pending = st.pending.Add(r.Credit)
		}
	}
	if !l.account.HasAnchor || o.At.Before(a.At) || !o.Has(billing.PartCosts) {
		return decimal.Zero, decimal.Zero, false
	}
	costs := l.costs.total
	same := st.known && st.anchor.At.Equal(a.At) && st.anchor.Amount.Amount().Equal(a.Amount.Amount())
	switch d := o.Derived; {
	case d != nil && d.Anchor.At.Equal(a.At) && d.Anchor.Amount.Amount().Equal(a.Amount.Amount()):
		// Stored at an earlier run, when the history since the anchor
		// was at hand.
		eff = d.Effective.Amount()
	case same:
		eff = st.eff.Add(st.pending).Sub(costs.Sub(st.costs))
	case l.costs.covers(a.At):
		// The first derivation from this anchor: every recharge since it.
		eff = a.Amount.Amount().Sub(costs).Add(st.dropped)
		for _, r := range l.window(a.At, o.At) {
			eff = eff.Add(r.Credit)
		}
	default:
		return decimal.Zero, decimal.Zero, false
	}
	if same {
		spent = costs.Sub(st.costs)
	}
	*st = derivedState{known: true, anchor: a, eff: eff, costs: costs, dropped: st.dropped}
	o.Derived = &billing.DerivedBalance{Effective: billing.NewMoney(eff, l.account.Currency), Anchor: a}
	return eff, spent, true
}

// count works out the part of e's cost after the balance anchor and adds
// it to the total: all of a window that starts after the anchor, none of one
// that ends before it; of the window the anchor falls in, what was reported
// beyond its last report as of the anchor, or, when it was first reported
// after the anchor, its cost then in proportion to the time after the
// anchor (of the part of the window it covers so far), and all it grew by
// since.
func (b *costBook) count(e *CostEntry) {
	if !b.hasAnchor {
		return
	}
	c, t := e.Bucket, b.anchor
	amount := c.Amount.Amount()
	switch {
	case !c.End.After(t):
		e.since = decimal.Zero
	case !c.Start.Before(t):
		e.since = amount
	default:
		switch {
		case !e.AsOf.After(t):
			e.base, e.hasBase = amount, true
		case !e.hasBase:
			// First seen after the anchor: split what it reports so far in
			// proportion to the time it covers before and after the
			// anchor, and count all it grows by from now on.
			until := c.End
			if e.AsOf.Before(until) {
				until = e.AsOf
			}
			after := decimal.NewFromInt(int64(until.Sub(t))).Div(decimal.NewFromInt(int64(until.Sub(c.Start)))).Mul(amount)
			e.base, e.hasBase = amount.Sub(after), true
		}
		e.since = decimal.Max(amount.Sub(e.base), decimal.Zero)
	}
	b.total = b.total.Add(e.since)
}

// covers reports whether a window starting at or before t was reported.
func (b *costBook) covers(t time.Time) bool {
	return b.hasEarliest && !b.earliest.After(t)
}
