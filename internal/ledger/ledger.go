// Package ledger derives an account's money position from its observations:
// the effective balance (what is really spendable), the expired credit a
// provider still shows, the recharges that happened (seen as charges or
// inferred from new credit), consumption, burn rate and runway.
//
// A Ledger is built incrementally: Append costs the same whether the account
// has a day or a year of history, so rules can be evaluated after every poll.
// Rules read it through its methods and never change it.
package ledger

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Cent is the rounding tolerance used when matching amounts.
var Cent = decimal.New(1, -2)

// Options tune how the ledger matches charges to credit and how much of
// the past it keeps.
type Options struct {
	// MatchWindow is how far apart a charge's payment time and the time its
	// credit was first seen may be and still be the same recharge.
	MatchWindow time.Duration
	// Keep is how far back from its newest observation the ledger must
	// answer (the rules' rules.Engine.History); what is older is dropped,
	// so memory stays flat however long the ledger runs. Zero keeps
	// everything. Every answer about a time at or after the newest
	// observation less Keep is the same as with everything kept, as long
	// as a charge or a grant does not first show (or show again after
	// Keep unlisted) more than Keep after it was paid, and a cost window
	// is not reported again more than Keep after it ended (it is then
	// taken as final and the report ignored).
	Keep time.Duration
	// KeepPoints is how far back from its newest observation the balance
	// points and the cost windows are kept, when less than Keep: what
	// reads them (Latest, Consumption, Covers, Points, Costs, Runway and
	// State, and the placing of a recharge paid before the newest
	// observation) answers the same about any time at or after the
	// newest observation less KeepPoints, as long as a charge or its
	// credit does not first show more than KeepPoints after it was paid,
	// and a cost window is not reported again more than KeepPoints after
	// it ended (it is then taken as final and the report ignored). The
	// guard sets it to the span its rules and the burn window read points
	// and cost windows over (rules.Engine.PointHistory), shorter than
	// Keep, which recharges, charges and grants keep. Zero keeps them as
	// far as Keep.
	KeepPoints time.Duration
	// NoGrantHistory leaves out each grant's used credit over time
	// (Grants), which only the web pages read, from a ledger that grows
	// an entry with every change of a grant's used credit: the guard's
	// ledgers, which the rules read, set it.
	NoGrantHistory bool
}

// DefaultOptions are the documented defaults.
func DefaultOptions() Options { return Options{MatchWindow: 2 * time.Hour} }

// Point is the account's position at one observation.
type Point struct {
	At time.Time
	// Effective is unexpired grants' remaining credit plus paid credit; only
	// meaningful when EffectiveKnown. EffectiveBasis says how it was derived.
	Effective      decimal.Decimal
	EffectiveKnown bool
	EffectiveBasis string
	// Shown is the provider's headline balance.
	Shown      decimal.Decimal
	ShownKnown bool
	// ExpiredRemaining is unused credit in expired grants (which a provider
	// may still count in Shown). Only meaningful when grants were read.
	ExpiredRemaining decimal.Decimal
	// FreeCredit is unexpired credit that is not purchased: promotional or
	// unknown-kind grants, or a provider's granted balance.
	FreeCredit      decimal.Decimal
	FreeCreditKnown bool
	// Consumed is the credit consumed since the previous point.
	Consumed      decimal.Decimal
	ConsumedKnown bool
	// Source and AsOf say where Effective came from and how fresh it is.
	Source string
	AsOf   time.Time
}

// Recharge is one purchase of credit: a charge, the credit it became, or both.
type Recharge struct {
	// At is when the money moved: the charge's payment time, or, when only
	// the credit is visible, when guardd first saw it.
	At time.Time
	// SeenAt is the observation in which guardd first saw it.
	SeenAt time.Time
	// Credit is the credit it added (tax excluded). When AtLeast is true it
	// is a lower bound: the recharge was inferred from a balance rise, and
	// usage between the polls hides part of it.
	Credit  decimal.Decimal
	AtLeast bool
	// Charge is the charge; Charge.Origin is ChargeInferred when no invoice or
	// receipt was visible and guardd deduced it.
	Charge billing.Charge
	// GrantID is the grant the credit landed as, if one matched.
	GrantID string
	// Trigger is the charge's trigger, or guardd's classification when the
	// provider did not say; TriggerGuessed is true in that case and
	// TriggerWhy gives the reason.
	Trigger        billing.ChargeTrigger
	TriggerGuessed bool
	TriggerWhy     string
	// Basis says in a few words how guardd knows about it, for evidence.
	Basis string
	// Source names where the evidence came from.
	Source string

	// BalanceBefore is the lowest the effective balance can have been just
	// before the recharge (the balance after, minus the credit added since
	// the previous poll): a recharge is only called "above threshold" when
	// even this lower bound is above it. Known only when BeforeKnown.
	BalanceBefore decimal.Decimal
	BeforeKnown   bool
	// BeforeDerived says BalanceBefore comes from a balance derived from
	// the account's anchor, not one the provider showed.
	BeforeDerived bool
	// FreeCreditBefore is the unexpired non-purchased credit left just
	// before the recharge. Known only when FreeBeforeKnown.
	FreeCreditBefore decimal.Decimal
	FreeBeforeKnown  bool
}

type grantState struct {
	firstSeen   time.Time
	preexisting bool // present in the first observation: bought before guardd watched
	linked      bool // its credit is accounted to a recharge
	// lastUsed is Used at the observation with sequence number lastObs,
	// the last that listed the grant, at lastAt.
	lastUsed decimal.Decimal
	lastObs  int
	lastAt   time.Time
	idle     idleGrant
	// seen is the grant's history as GrantHistory returns it; nil when
	// none is kept (Options.NoGrantHistory).
	seen *GrantHistory
}

// Ledger is an account's derived history.
type Ledger struct {
	account billing.Account
	opts    Options
	// fingerprint is Fingerprint(account, opts), once asked for.
	fingerprint string

	// points holds the position at each observation from the oldest kept,
	// with consumption summed over them; first is the time of the first
	// observation ever appended.
	points pointLog
	first  time.Time

	// recharges holds every recharge kept; uncharged the credits seen
	// without their charge, uncredited the charges seen without their
	// credit.
	recharges, uncharged, uncredited byAt
	grants                           map[string]*grantState
	// charges holds the id of every charge seen, with the later of its
	// payment and the last observation that listed it.
	charges map[string]time.Time

	polls []PollRecord    // the most recent polls, oldest first
	ids   map[string]bool // scratch for check: grant ids seen in one observation

	runwayMemo struct {
		key runwayKey
		rw  billing.Runway
		ok  bool
	}
	costs   costBook
	derived derivedState
	split   splitIdle // granted balance idle while paid is drawn
	// held is a suspect observation waiting for the next one to confirm it.
	held *heldObs

	prev, cur *billing.Observation
	// curGrants and prevGrants are the grant lists the ledger made for cur
	// and prev (nil where it made none): prev's is written over for the
	// next observation's, so a ledger appending a poll a minute makes no
	// garbage of them. So are the lists of charges and of cost windows:
	// the source's own, new at each poll, would each be held for two
	// polls among the garbage of the polls of every other account, each
	// keeping the room around it in use. moves is append's scratch.
	curGrants, prevGrants   []billing.Grant
	curCharges, prevCharges []billing.Charge
	curCosts, prevCosts     []billing.CostBucket
	moves                   []grantMove
}

// New returns an empty ledger for account.
func New(account billing.Account, opts Options) *Ledger {
	if opts.MatchWindow <= 0 {
		opts.MatchWindow = DefaultOptions().MatchWindow
	}
	return &Ledger{
		account: account,
		opts:    opts,
		costs:   costBook{anchor: account.Anchor.At, hasAnchor: account.HasAnchor},
		grants:  make(map[string]*grantState),
		charges: make(map[string]time.Time),
		ids:     make(map[string]bool),
	}
}

// Account returns the account the ledger is for.
func (l *Ledger) Account() billing.Account { return l.account }

// Len returns the number of observations appended.
func (l *Ledger) Len() int { return l.points.seq }

// Append adds the next observation. Observations must come in strictly
// increasing time and in the account's currency; anything else is an error
// and leaves the ledger unchanged. Append fills in each grant's FirstSeen.
//
// A reading that departs implausibly from the last one (see suspect) is
// held, not taken: Held reports it, and the next observation decides. If
// it departs the same way, the held one was true and both are taken; if it
// does not (a glitch: a balance of 0 for one poll), the held one is taken
// without the parts that departed, which are marked unavailable with why.
func (l *Ledger) Append(o billing.Observation) error {
	if err := l.check(&o); err != nil {
		return err
	}
	o.At = o.At.UTC()
	h := l.held
	if h != nil && !o.At.After(h.o.At) {
		return fmt.Errorf("observation at %s is not after the held one at %s", o.At.Format(time.RFC3339), h.o.At.Format(time.RFC3339))
	}
	l.held = nil
	if h != nil {
		held := h.o
		if l.suspect(&o).why == "" {
			held = h.strip()
		}
		l.append(held)
	}
	if s := l.suspect(&o); s.why != "" {
		l.held = &heldObs{o: o, suspicion: s}
		return nil
	}
	l.append(o)
	return nil
}

// append takes a checked observation.
func (l *Ledger) append(o billing.Observation) {
	first := l.points.len() == 0

	l.recordCosts(&o)
	idx := l.points.seq
	var prevPt *Point
	if !first {
		prev := l.points.last
		prevPt = &prev
	}
	pt := l.point(&o)

	// First-seen times, new credit, and consumption as the rise in each
	// grant's used amount since the previous observation.
	var newGrants []int
	grantUse, grantUseKnown := decimal.Zero, !first && l.cur.Has(billing.PartGrants)
	var moves, made = []grantMove(nil), []billing.Grant(nil)
	if o.Has(billing.PartGrants) {
		if cap(l.moves) < len(o.Grants) {
			l.moves = make([]grantMove, len(o.Grants))
		}
		moves = l.moves[:len(o.Grants)]
		clear(moves)
		made = reuse(l.prevGrants, len(o.Grants), o.Grants)
		copy(made, o.Grants)
		o.Grants = made
		for i := range o.Grants {
			g := &o.Grants[i]
			used := g.Used.Amount()
			st, ok := l.grants[g.ID]
			if !ok {
				st = &grantState{firstSeen: o.At, preexisting: first && l.points.seq == 0, lastObs: -1}
				l.grants[g.ID] = st
				if !first && g.Kind == billing.GrantPurchased {
					newGrants = append(newGrants, i)
				}
			}
			g.FirstSeen = st.firstSeen
			d := used
			if st.lastObs == idx-1 {
				// Most grants did not move since the previous poll.
				d = decimal.Zero
				if used.Cmp(st.lastUsed) != 0 {
					d = used.Sub(st.lastUsed)
				}
				moves[i] = grantMove{known: true, used: d, hadCredit: g.Amount.Amount().Cmp(st.lastUsed) > 0}
			}
			moves[i].st = st
			if d.IsPositive() {
				grantUse = grantUse.Add(d)
			}
			st.lastUsed, st.lastObs, st.lastAt = used, idx, o.At
			if !l.opts.NoGrantHistory {
				st.saw(*g, o.At, o.Parts[billing.PartGrants].Source)
			}
		}
	} else {
		grantUseKnown = false
	}

	// Recharges first seen in this observation, or moved by it (a receipt
	// that came after its credit): each is placed once the point is in.
	added := make([]*Recharge, 0, 2)
	if o.Has(billing.PartCharges) {
		for i := range o.Charges {
			c := &o.Charges[i]
			if _, seen := l.charges[c.ID]; seen {
				l.charges[c.ID] = latest(c.PaidAt, o.At)
				continue
			}
			r, _ := l.addCharge(*c, &o)
			added = append(added, r)
		}
	}
	// New grants: those matching a charge to the cent first, so that a grant
	// of another amount does not take their charge; then the rest.
	var unmatched []int
	for _, i := range newGrants {
		if r, _ := l.addGrantCredit(o.Grants[i], &o, false); r == nil {
			unmatched = append(unmatched, i)
		}
	}
	for _, i := range unmatched {
		if r, isNew := l.addGrantCredit(o.Grants[i], &o, true); isNew {
			added = append(added, r)
		}
	}
	if prevPt != nil {
		if r := l.inferPaidRise(prevPt, &o, added); r != nil {
			added = append(added, r)
		}
	}

	// A balance derived from the account's anchor, where the provider shows
	// none: its consumption is the costs reported meanwhile.
	if !pt.EffectiveKnown {
		if eff, spent, ok := l.derive(&o, added); ok {
			pt.Effective, pt.EffectiveKnown = eff, true
			pt.EffectiveBasis = derivedBasis
			pt.Source, pt.AsOf = "guardd:balance_anchor", o.Parts[billing.PartCosts].AsOf
			if prevPt != nil && prevPt.EffectiveBasis == derivedBasis {
				pt.Consumed, pt.ConsumedKnown = spent, true
			}
		}
	} else {
		l.derived.pending = decimal.Zero
	}

	// Consumption since the previous point.
	if prevPt != nil && !pt.ConsumedKnown {
		switch {
		case grantUseKnown:
			pt.Consumed, pt.ConsumedKnown = grantUse, true
		case prevPt.EffectiveKnown && pt.EffectiveKnown && prevPt.EffectiveBasis == pt.EffectiveBasis:
			d := prevPt.Effective.Add(l.creditIn(prevPt.At, o.At)).Sub(pt.Effective)
			if d.IsNegative() {
				d = decimal.Zero
			}
			pt.Consumed, pt.ConsumedKnown = d, true
		}
	}

	if first {
		l.first = o.At
	}
	l.points.add(pt)

	for _, r := range added {
		l.place(r)
	}
	if grantUseKnown {
		l.trackGrantDrawdown(&o, moves)
	} else if prevPt != nil {
		l.trackSplitDrawdown(prevPt, &o)
	}
	l.logPoll(&o, nil)
	charges, costs := ownCopy(l.prevCharges, &o.Charges), ownCopy(l.prevCosts, &o.Costs)
	l.prev, l.cur = l.cur, &o
	l.prevGrants, l.curGrants = l.curGrants, made
	l.prevCharges, l.curCharges = l.curCharges, charges
	l.prevCosts, l.curCosts = l.curCosts, costs
	if (l.opts.Keep > 0 || l.opts.KeepPoints > 0) && l.points.seq%trimEvery == 0 {
		l.trim()
	}
}

// trimEvery is how many observations the ledger takes between trims.
const trimEvery = 64

// reuse returns buf with length n when it has room and is not from,
// else a new slice.
func reuse[T any](buf []T, n int, from []T) []T {
	if cap(buf) < n || n == 0 || &buf[:1][0] == &from[:1][0] {
		return make([]T, n)
	}
	return buf[:n]
}

// ownCopy copies the list *list into buf (see reuse) and points *list at
// the copy, which it returns; nil, leaving *list as it is, when the list
// is empty.
func ownCopy[T any](buf []T, list *[]T) []T {
	if len(*list) == 0 {
		return nil
	}
	c := reuse(buf, len(*list), *list)
	copy(c, *list)
	*list = c
	return c
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// check validates o against the ledger without changing anything.
func (l *Ledger) check(o *billing.Observation) error {
	if o.At.IsZero() {
		return fmt.Errorf("observation has no time")
	}
	if l.points.len() > 0 && !o.At.After(l.points.last.At) {
		return fmt.Errorf("observation at %s is not after the previous one at %s",
			o.At.UTC().Format(time.RFC3339), l.points.last.At.Format(time.RFC3339))
	}
	want := l.account.Currency
	ok := func(m billing.Money) bool { c := m.Currency(); return c == want || (c == "" && m.IsZero()) }
	bad := func(what string, m billing.Money) error {
		return fmt.Errorf("%s is in %s, account %q is in %s", what, m.Currency(), l.account.Name, want)
	}
	// pair checks the two amounts of a grant or charge, named kind and id.
	pair := func(kind, id string, a, b billing.Money) error {
		for _, m := range [...]billing.Money{a, b} {
			if !ok(m) {
				return bad(kind+" "+id, m)
			}
		}
		return nil
	}
	if o.Has(billing.PartBalance) {
		for _, m := range []billing.Money{o.Balance.Shown, o.Balance.Granted, o.Balance.Paid} {
			if !ok(m) {
				return bad("balance", m)
			}
		}
	}
	if o.Has(billing.PartGrants) {
		// The ids need no checking when they are the newest observation's.
		same := l.sameGrantIDs(o.Grants)
		if !same {
			clear(l.ids)
		}
		// Grants are walked by index here and below, not copied: a poll
		// lists a score of them.
		for i := range o.Grants {
			g := &o.Grants[i]
			if err := pair("grant", g.ID, g.Amount, g.Used); err != nil {
				return err
			}
			if same {
				continue
			}
			if l.ids[g.ID] {
				return fmt.Errorf("grant %s listed twice", billing.Quote(g.ID))
			}
			l.ids[g.ID] = true
		}
	}
	if o.Has(billing.PartCharges) {
		for i := range o.Charges {
			c := &o.Charges[i]
			if err := pair("charge", c.ID, c.Amount, c.Tax); err != nil {
				return err
			}
		}
	}
	if o.Has(billing.PartCosts) {
		for _, c := range o.Costs {
			if !ok(c.Amount) {
				return bad("cost bucket", c.Amount)
			}
		}
	}
	return nil
}

// sameGrantIDs reports whether gs lists the grants of the newest
// observation, in the same order: most polls do, and those ids were found
// distinct when it was appended.
func (l *Ledger) sameGrantIDs(gs []billing.Grant) bool {
	if l.cur == nil || !l.cur.Has(billing.PartGrants) || len(l.cur.Grants) != len(gs) {
		return false
	}
	for i := range gs {
		if l.cur.Grants[i].ID != gs[i].ID {
			return false
		}
	}
	return true
}

// point computes the position an observation shows.
func (l *Ledger) point(o *billing.Observation) Point {
	pt := Point{At: o.At}
	if st, ok := o.Status(billing.PartBalance); ok && st.Unavailable == "" {
		pt.Shown, pt.ShownKnown = o.Balance.Shown.Amount(), true
	}
	switch {
	case o.Has(billing.PartGrants):
		eff, free, expired := zeroSum(), zeroSum(), zeroSum()
		for i := range o.Grants {
			g := &o.Grants[i]
			rem := remainingNum(g.Amount.Amount(), g.Used.Amount())
			if g.ExpiredAt(o.At) {
				if rem.sign() > 0 {
					expired.add(rem)
				}
				continue
			}
			eff.add(rem)
			if g.Kind != billing.GrantPurchased {
				free.add(rem)
			}
		}
		pt.Effective, pt.EffectiveKnown = eff.value(), true
		pt.EffectiveBasis = basisGrants
		pt.FreeCredit, pt.FreeCreditKnown = free.value(), true
		pt.ExpiredRemaining = expired.value()
		pt.Source, pt.AsOf = o.Parts[billing.PartGrants].Source, o.Parts[billing.PartGrants].AsOf
	case o.Has(billing.PartBalance) && o.Balance.HasSplit:
		pt.Effective, pt.EffectiveKnown = o.Balance.Granted.Amount().Add(o.Balance.Paid.Amount()), true
		pt.EffectiveBasis = basisSplit
		pt.FreeCredit, pt.FreeCreditKnown = o.Balance.Granted.Amount(), true
		pt.Source, pt.AsOf = o.Parts[billing.PartBalance].Source, o.Parts[billing.PartBalance].AsOf
	case o.Has(billing.PartBalance):
		pt.Effective, pt.EffectiveKnown = o.Balance.Shown.Amount(), true
		pt.EffectiveBasis = basisShown
		pt.Source, pt.AsOf = o.Parts[billing.PartBalance].Source, o.Parts[billing.PartBalance].AsOf
	}
	if pt.AsOf.IsZero() {
		pt.AsOf = o.At
	}
	return pt
}
