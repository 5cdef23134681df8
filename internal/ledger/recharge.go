package ledger

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

func sameAmount(a, b decimal.Decimal) bool {
	return a.Sub(b).Abs().Cmp(Cent) <= 0
}

// insert adds a new recharge; a half of a payment still unpaired (a
// visible charge whose credit is not seen, a credit whose charge is not)
// also goes into its pool.
func (l *Ledger) insert(r *Recharge) {
	l.recharges.add(r)
	switch {
	case r.Charge.Origin == billing.ChargeInferred && r.GrantID != "":
		l.uncharged.add(r)
	case r.Charge.Origin != billing.ChargeInferred && r.GrantID == "":
		l.uncredited.add(r)
	}
}

// move re-sorts r after its At changed.
func (l *Ledger) move(r *Recharge, at time.Time) {
	l.recharges.remove(r)
	r.At = at
	l.recharges.add(r)
}

// firstPollAfter returns the time of the first poll at or after t: a point,
// or next, the observation being appended.
func (l *Ledger) firstPollAfter(t, next time.Time) time.Time {
	if i := l.pointIndex(t); i < l.points.len() {
		return l.points.at(i)
	}
	return next
}

// addCharge records a charge seen for the first time, in observation o. When
// the credit it paid for was already seen as a new grant (the receipt came
// later than the credit), the two are one recharge: the grant's recharge
// takes the charge and moves to its payment time. It returns the recharge
// and whether it is new.
//
// The credit of a payment first shows at the first poll after it, however
// far apart the polls are; the match window around the payment allows for
// credit that lands late or a clock that runs early.
func (l *Ledger) addCharge(c billing.Charge, o *billing.Observation) (*Recharge, bool) {
	credit := c.Credit().Amount()
	src := o.Parts[billing.PartCharges].Source
	hi := c.PaidAt.Add(l.opts.MatchWindow)
	if first := l.firstPollAfter(c.PaidAt, o.At); first.After(hi) {
		hi = first
	}
	cands := l.uncharged.span(c.PaidAt.Add(-l.opts.MatchWindow-time.Nanosecond), hi)
	if r := pair(cands, credit, c.Amount.Amount(), func(r *Recharge) decimal.Decimal { return r.Credit }); r != nil {
		l.uncharged.remove(r)
		l.charges[c.ID] = latest(c.PaidAt, o.At)
		exact := sameAmount(r.Credit, credit)
		r.Charge = c
		r.Basis = fmt.Sprintf("%s %s, credited as grant %s", c.Origin, c.ID, r.GrantID)
		if !exact {
			r.Basis += creditedPart(r.Credit, c)
		}
		r.Source = src
		if c.Trigger != billing.TriggerUnknown {
			r.Trigger, r.TriggerGuessed, r.TriggerWhy = c.Trigger, false, ""
		}
		if !r.At.Equal(c.PaidAt) {
			l.move(r, c.PaidAt.UTC())
		}
		return r, false
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
	l.charges[c.ID] = latest(c.PaidAt, o.At)
	l.insert(r)
	return r, true
}

// pair picks the recharge among cands that is the other half of a payment
// whose credit is credit and which was paid paid: one whose credit (by
// creditOf) matches to the cent; failing that, the only candidate whose
// credit is no more than what was paid (a receipt that declared no tax, or
// less than the provider kept). It returns nil when neither holds: a charge
// and a credit that cannot be told to be one payment stay two.
func pair(cands []*Recharge, credit, paid decimal.Decimal, creditOf func(*Recharge) decimal.Decimal) *Recharge {
	var within []*Recharge
	for _, r := range cands {
		if sameAmount(creditOf(r), credit) {
			return r
		}
		if creditOf(r).Cmp(paid) <= 0 && creditOf(r).IsPositive() {
			within = append(within, r)
		}
	}
	if len(within) == 1 {
		return within[0]
	}
	return nil
}

// creditedPart says, in a recharge's basis, how much of a charge became
// credit when that is not the charge's amount less its tax.
func creditedPart(credit decimal.Decimal, c billing.Charge) string {
	return fmt.Sprintf(" with %s of the %s paid", billing.NewMoney(credit, c.Amount.Currency()).Display(), c.Amount.Display())
}

// addGrantCredit records a purchased grant that appeared after guardd started
// watching, in observation o. A charge paid since the previous poll (or
// within the match window of o) for the same credit is the same recharge;
// when no charge matches to the cent and twins is set, the only charge of
// the interval that paid at least the credit is taken as its payment.
// Otherwise guardd infers the charge, dated when it first saw the grant (a
// grant's effective_at is back-dated and dates nothing). It returns the
// recharge and whether it is new, or nil when twins is false and nothing
// matched.
func (l *Ledger) addGrantCredit(g billing.Grant, o *billing.Observation, twins bool) (*Recharge, bool) {
	st := l.grants[g.ID]
	amount := g.Amount.Amount()
	prev := l.points.last
	lo := o.At.Add(-l.opts.MatchWindow)
	if prev.At.Before(lo) {
		lo = prev.At
	}
	cands := l.uncredited.span(lo.Add(-time.Nanosecond), o.At.Add(l.opts.MatchWindow))
	var r *Recharge
	if twins {
		r = pair(cands, amount, decimal.Zero, func(r *Recharge) decimal.Decimal { return r.Credit })
		if r == nil {
			// Take the only charge that paid at least this credit.
			var within []*Recharge
			for _, c := range cands {
				if amount.Cmp(c.Charge.Amount.Amount()) <= 0 {
					within = append(within, c)
				}
			}
			if len(within) == 1 {
				r = within[0]
			}
		}
	} else {
		for _, c := range cands {
			if sameAmount(c.Credit, amount) {
				r = c
				break
			}
		}
	}
	if r != nil {
		l.uncredited.remove(r)
		r.GrantID = g.ID
		r.Basis += ", credited as grant " + g.ID
		if !sameAmount(r.Credit, amount) {
			r.Basis += creditedPart(amount, r.Charge)
			r.Credit = amount
		}
		st.linked = true
		return r, false
	}
	if !twins {
		return nil, false
	}
	st.linked = true
	basis := "new purchased grant, no invoice seen"
	// points does not hold o yet: its last point is the previous poll, which
	// did not list the grant although the grant claims to predate it.
	if !g.EffectiveAt.IsZero() && g.EffectiveAt.Before(prev.At) {
		basis += fmt.Sprintf("; its effective_at is back-dated to %s", billing.Day(g.EffectiveAt))
	}
	r = &Recharge{
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
	return r, true
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
func (l *Ledger) window(from, to time.Time) []*Recharge { return l.recharges.span(from, to) }

// near returns the recharges within the match window of t.
func (l *Ledger) near(t time.Time) []*Recharge {
	return l.window(t.Add(-l.opts.MatchWindow-time.Nanosecond), t.Add(l.opts.MatchWindow))
}

// pointIndex returns the index of the first point at or after t, or
// the number of points if there is none.
func (l *Ledger) pointIndex(t time.Time) int { return l.points.count(t, false) }

// place works out the balance around a new recharge and, when the provider
// did not say what triggered it, classifies it from the account's settings.
func (l *Ledger) place(r *Recharge) {
	ai := l.pointIndex(r.At)
	if ai == 0 || ai == l.points.len() {
		// Paid before guardd's first observation: nothing to compare with.
		l.classify(r)
		return
	}
	afterPt, beforePt := l.points.point(ai), l.points.point(ai-1)
	after, before := &afterPt, &beforePt
	if after.EffectiveKnown {
		// The credit of this recharge and of those after it, up to the
		// poll: a recharge earlier in the same interval had already landed
		// when this one was made.
		r.BalanceBefore = after.Effective.Sub(l.creditIn(r.At.Add(-time.Nanosecond), after.At))
		r.BeforeKnown, r.BeforeDerived = true, after.EffectiveBasis == derivedBasis
	}
	switch {
	case ai == l.points.len()-1 && l.cur != nil && l.cur.Has(billing.PartGrants):
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
		// Never an auto-recharge, nor answered with "disable auto-recharge",
		// unless the provider says it was one.
		r.Trigger, r.TriggerGuessed, r.TriggerWhy = billing.TriggerManual, true, "auto-recharge is off in guardd's settings for the account"
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
