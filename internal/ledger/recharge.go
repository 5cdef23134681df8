package ledger

import (
	"fmt"
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

func sameAmount(a, b decimal.Decimal) bool {
	return a.Sub(b).Abs().Cmp(Cent) <= 0
}

// insert puts r into the recharges, keeping them sorted by At.
func (l *Ledger) insert(r *Recharge) {
	i := sort.Search(len(l.recharges), func(i int) bool { return l.recharges[i].At.After(r.At) })
	l.recharges = append(l.recharges, nil)
	copy(l.recharges[i+1:], l.recharges[i:])
	l.recharges[i] = r
}

// move re-sorts r after its At changed.
func (l *Ledger) move(r *Recharge, at time.Time) {
	for i, x := range l.recharges {
		if x == r {
			l.recharges = append(l.recharges[:i], l.recharges[i+1:]...)
			break
		}
	}
	r.At = at
	l.insert(r)
}

// addCharge records a charge seen for the first time. When the credit it paid
// for was already seen as a new grant, the two are one recharge and nil is
// returned after linking them.
func (l *Ledger) addCharge(c billing.Charge, o *billing.Observation) *Recharge {
	credit := c.Credit().Amount()
	src := o.Parts[billing.PartCharges].Source
	for _, r := range l.near(c.PaidAt) {
		if r.Charge.Origin == billing.ChargeInferred && r.GrantID != "" && sameAmount(r.Credit, credit) {
			l.charges[c.ID] = r
			r.Charge = c
			r.Basis = fmt.Sprintf("%s %s, credited as grant %s", c.Origin, c.ID, r.GrantID)
			r.Source = src
			if c.Trigger != billing.TriggerUnknown {
				r.Trigger, r.TriggerGuessed = c.Trigger, false
			}
			if !r.At.Equal(c.PaidAt) {
				l.move(r, c.PaidAt)
			}
			return nil
		}
	}
	r := &Recharge{
		At:      c.PaidAt.UTC(),
		SeenAt:  o.At,
		Credit:  credit,
		Charge:  c,
		Trigger: c.Trigger,
		Basis:   fmt.Sprintf("%s %s", c.Origin, c.ID),
		Source:  src,
	}
	// A charge paid before guardd's first observation bought credit that
	// is already among that observation's grants.
	for _, g := range o.Grants {
		st := l.grants[g.ID]
		if st != nil && st.preexisting && !st.linked && g.Kind != billing.GrantPromotional &&
			!c.PaidAt.After(st.firstSeen) && sameAmount(g.Amount.Amount(), credit) {
			st.linked = true
			r.GrantID = g.ID
			r.Basis += ", credited as grant " + g.ID
			break
		}
	}
	l.charges[c.ID] = r
	l.insert(r)
	return r
}

// addGrantCredit records a purchased grant that appeared after guardd started
// watching. A charge paid within the match window for the same credit is the
// same recharge; otherwise guardd infers the charge, dated when it first saw
// the grant (a grant's effective_at is back-dated and dates nothing).
func (l *Ledger) addGrantCredit(g billing.Grant, o *billing.Observation) *Recharge {
	st := l.grants[g.ID]
	amount := g.Amount.Amount()
	for _, r := range l.near(o.At) {
		if r.GrantID == "" && r.Charge.Origin != billing.ChargeInferred && sameAmount(r.Credit, amount) {
			r.GrantID = g.ID
			r.Basis += ", credited as grant " + g.ID
			st.linked = true
			return nil
		}
	}
	st.linked = true
	basis := "new purchased grant, no invoice seen"
	// points does not hold o yet: its last point is the previous poll, which
	// did not list the grant although the grant claims to predate it.
	if prev := l.points[len(l.points)-1]; !g.EffectiveAt.IsZero() && g.EffectiveAt.Before(prev.At) {
		basis += fmt.Sprintf("; its effective_at is back-dated to %s", billing.Day(g.EffectiveAt))
	}
	r := &Recharge{
		At:     o.At,
		SeenAt: o.At,
		Credit: amount,
		Charge: billing.Charge{
			ID:      "grant:" + g.ID,
			PaidAt:  o.At,
			Amount:  g.Amount,
			Origin:  billing.ChargeInferred,
			Trigger: billing.TriggerUnknown,
		},
		GrantID: g.ID,
		Trigger: billing.TriggerUnknown,
		Basis:   basis,
		Source:  o.Parts[billing.PartGrants].Source,
	}
	l.insert(r)
	return r
}

// inferPaidRise infers a recharge from a rise in paid balance (providers that
// split granted from paid) that no charge seen in the same interval explains.
func (l *Ledger) inferPaidRise(prev *Point, o *billing.Observation, seen []*Recharge) *Recharge {
	if l.cur == nil || !l.cur.Has(billing.PartBalance) || !l.cur.Balance.HasSplit ||
		!o.Has(billing.PartBalance) || !o.Balance.HasSplit {
		return nil
	}
	from, to := l.cur.Balance.Paid, o.Balance.Paid
	rise := to.Amount().Sub(from.Amount())
	for _, r := range seen {
		if r.At.After(prev.At) && !r.At.After(o.At) {
			rise = rise.Sub(r.Credit)
		}
	}
	if rise.Cmp(Cent) <= 0 {
		return nil
	}
	amount := billing.NewMoney(rise, l.account.Currency)
	r := &Recharge{
		At:      o.At,
		SeenAt:  o.At,
		Credit:  rise,
		AtLeast: true,
		Charge: billing.Charge{
			ID:      "paid-rise:" + o.At.Format(time.RFC3339),
			PaidAt:  o.At,
			Amount:  amount,
			Origin:  billing.ChargeInferred,
			Trigger: billing.TriggerUnknown,
		},
		Trigger: billing.TriggerUnknown,
		Basis: fmt.Sprintf("paid balance rose from %s to %s since %s with no charge to explain it: at least %s bought",
			from.Display(), to.Display(), prev.At.Format("15:04 UTC"), amount.Display()),
		Source: o.Parts[billing.PartBalance].Source,
	}
	l.insert(r)
	return r
}

// creditIn sums the credit of recharges with At in (from, to].
func (l *Ledger) creditIn(from, to time.Time) decimal.Decimal {
	sum := decimal.Zero
	for _, r := range l.window(from, to) {
		sum = sum.Add(r.Credit)
	}
	return sum
}

// window returns the recharges with At in (from, to], sharing l's storage.
func (l *Ledger) window(from, to time.Time) []*Recharge {
	lo := sort.Search(len(l.recharges), func(i int) bool { return l.recharges[i].At.After(from) })
	hi := sort.Search(len(l.recharges), func(i int) bool { return l.recharges[i].At.After(to) })
	return l.recharges[lo:hi]
}

// near returns the recharges within the match window of t.
func (l *Ledger) near(t time.Time) []*Recharge {
	return l.window(t.Add(-l.opts.MatchWindow-time.Nanosecond), t.Add(l.opts.MatchWindow))
}

// pointIndex returns the index of the first point at or after t, or
// len(points) if there is none.
func (l *Ledger) pointIndex(t time.Time) int {
	return sort.Search(len(l.points), func(i int) bool { return !l.points[i].At.Before(t) })
}

// place works out the balance around a new recharge and, when the provider
// did not say what triggered it, classifies it from the account's settings.
func (l *Ledger) place(r *Recharge) {
	ai := l.pointIndex(r.At)
	if ai == 0 || ai == len(l.points) {
		// Paid before guardd's first observation: nothing to compare with.
		l.classify(r)
		return
	}
	after, before := &l.points[ai], &l.points[ai-1]
	if after.EffectiveKnown {
		r.BalanceBefore = after.Effective.Sub(l.creditIn(before.At, after.At))
		r.BeforeKnown = true
	}
	switch {
	case ai == len(l.points)-1 && l.cur != nil && l.cur.Has(billing.PartGrants):
		// The common case: the recharge happened since the last poll, whose
		// grants we still hold; count the free credit still unexpired when
		// the recharge happened.
		free := decimal.Zero
		for _, g := range l.cur.Grants {
			if g.Kind != billing.GrantPurchased && !g.ExpiredAt(r.At) {
				free = free.Add(g.Remaining().Amount())
			}
		}
		r.FreeCreditBefore, r.FreeBeforeKnown = free, true
	case before.FreeCreditKnown:
		r.FreeCreditBefore, r.FreeBeforeKnown = before.FreeCredit, true
	}
	l.classify(r)
}

// classify guesses the trigger of a recharge the provider did not label, from
// the account's auto-recharge settings, and records why.
func (l *Ledger) classify(r *Recharge) {
	if r.Trigger != billing.TriggerUnknown {
		return
	}
	ar := l.account.AutoRecharge
	if !ar.Enabled {
		return
	}
	credit := billing.NewMoney(r.Credit, l.account.Currency)
	switch ar.Mode {
	case billing.RechargeAdd:
		switch {
		case !r.AtLeast && sameAmount(r.Credit, ar.Amount.Amount()):
			r.Trigger, r.TriggerWhy = billing.TriggerAutoRecharge, "the amount matches the configured "+ar.Amount.Display()
		case r.AtLeast && r.Credit.Sub(ar.Amount.Amount()).Cmp(Cent) <= 0:
			r.Trigger, r.TriggerWhy = billing.TriggerAutoRecharge, "no more than the configured "+ar.Amount.Display()
		default:
			r.Trigger, r.TriggerWhy = billing.TriggerManual,
				fmt.Sprintf("auto-recharge adds %s, this added %s", ar.Amount.Display(), credit.Display())
		}
	case billing.RechargeRestore:
		if !r.BeforeKnown {
			return
		}
		if r.BalanceBefore.Add(r.Credit).Sub(ar.Target.Amount()).Cmp(Cent) > 0 {
			r.Trigger, r.TriggerWhy = billing.TriggerManual, "the balance rose past the "+ar.Target.Display()+" target"
		} else {
			r.Trigger, r.TriggerWhy = billing.TriggerAutoRecharge, "the balance was restored towards the "+ar.Target.Display()+" target"
		}
	default:
		return
	}
	r.TriggerGuessed = true
}
