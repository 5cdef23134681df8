package ledger

import (
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// MinBurnCoverage is the least history a burn rate is measured over; with
// less, the runway is reported as unknown rather than guessed.
const MinBurnCoverage = time.Hour

// MinCostCoverage is the least span of settled cost windows a burn is
// measured over when guardd's own history is too short: a whole day.
const MinCostCoverage = 24 * time.Hour

// Latest returns the position at the newest observation at or before now.
func (l *Ledger) Latest(now time.Time) (Point, bool) {
	i := l.before(now)
	if i < 0 {
		return Point{}, false
	}
	return l.points.point(i), true
}

// before returns the index of the newest point at or before t, or -1.
func (l *Ledger) before(t time.Time) int { return l.points.count(t, true) - 1 }

// Current returns the newest observation (with grants' FirstSeen filled in)
// and the one before it; either may be nil. Callers must not modify them,
// nor keep prev's grants, charges or cost windows past the next Append, or
// cur's past the one after: the ledger writes each new observation's lists
// over those it dropped.
func (l *Ledger) Current() (cur, prev *billing.Observation) { return l.cur, l.prev }

// Unseen returns the ids of o's grants and of its charges that the ledger
// has not seen (or no longer keeps): those whose first sight an Append of
// o would be. Asked before the Append, it lets the caller record first
// sights once, not every id at every poll. Both are nil when there are
// none, as at most polls.
func (l *Ledger) Unseen(o *billing.Observation) (grants, charges []string) {
	if o.Has(billing.PartGrants) {
		for _, g := range o.Grants {
			if _, ok := l.grants[g.ID]; !ok {
				grants = append(grants, g.ID)
			}
		}
	}
	if o.Has(billing.PartCharges) {
		for _, c := range o.Charges {
			if _, ok := l.charges[c.ID]; !ok {
				charges = append(charges, c.ID)
			}
		}
	}
	return grants, charges
}

// Recharges returns the recharges with At in (from, to], oldest first.
func (l *Ledger) Recharges(from, to time.Time) []Recharge {
	w := l.window(from, to)
	out := make([]Recharge, len(w))
	for i, r := range w {
		out[i] = *r
	}
	return out
}

// CountRecharges counts the recharges with At in (from, to] for which keep
// returns true, without copying them.
func (l *Ledger) CountRecharges(from, to time.Time, keep func(*Recharge) bool) int {
	n := 0
	for _, r := range l.window(from, to) {
		if keep(r) {
			n++
		}
	}
	return n
}

// AnyRecharge reports whether a recharge with At in (from, to] satisfies
// match, newest first, stopping at the first; it copies nothing, so rules
// can call it after every poll. match must not modify the recharge.
func (l *Ledger) AnyRecharge(from, to time.Time, match func(*Recharge) bool) bool {
	w := l.window(from, to)
	for i := len(w) - 1; i >= 0; i-- {
		if match(w[i]) {
			return true
		}
	}
	return false
}

// SumRecharges adds up f over the recharges with At in (from, to] without
// copying them, and counts them.
func (l *Ledger) SumRecharges(from, to time.Time, f func(*Recharge) (decimal.Decimal, bool)) (decimal.Decimal, int) {
	sum, n := zeroSum(), 0
	for _, r := range l.window(from, to) {
		if v, ok := f(r); ok {
			sum.add(numOf(v))
			n++
		}
	}
	return sum.value(), n
}

// Consumption returns the credit consumed over observations in (from, to]
// and how much of that span the measurements cover.
func (l *Ledger) Consumption(from, to time.Time) (decimal.Decimal, time.Duration) {
	hi := l.before(to)
	if hi < 0 {
		return decimal.Zero, 0
	}
	hc, hv := l.points.cum(hi)
	lc, lv := l.points.cumBefore(from)
	return hc.Sub(lc), hv - lv
}

// Runway measures the burn over the window ending at now and says how long
// the effective balance at now lasts at that burn.
func (l *Ledger) Runway(now time.Time, window time.Duration) billing.Runway {
	// Several rules ask for the same runway in one evaluation; it depends
	// only on the points, now and the window, so the last answer is kept.
	key := runwayKey{points: l.points.seq, now: now, window: window}
	if l.runwayMemo.ok && l.runwayMemo.key == key {
		return l.runwayMemo.rw
	}
	rw := l.runway(now, window)
	l.runwayMemo.key, l.runwayMemo.rw, l.runwayMemo.ok = key, rw, true
	return rw
}

type runwayKey struct {
	points int
	now    time.Time
	window time.Duration
}

func (l *Ledger) runway(now time.Time, window time.Duration) billing.Runway {
	pt, ok := l.Latest(now)
	if !ok || !pt.EffectiveKnown {
		return billing.Runway{}
	}
	spent, covered := l.Consumption(now.Add(-window), now)
	fromCosts := false
	if covered < MinBurnCoverage {
		// Too little of guardd's own history: the provider's settled
		// cost days, read back on the first poll, measure the burn.
		if spent, covered = l.settledCosts(now.Add(-window), now); covered < MinCostCoverage {
			return billing.Runway{}
		}
		fromCosts = true
	}
	perDay, ok := quotient16(spent, int64(24*time.Hour), int64(covered))
	if !ok {
		day := decimal.NewFromInt(int64(24 * time.Hour))
		perDay = spent.Mul(day).Div(decimal.NewFromInt(int64(covered)))
	}
	rw := billing.Runway{
		Known:      true,
		BurnPerDay: billing.NewMoney(perDay, l.account.Currency),
		Window:     covered,
		FromCosts:  fromCosts,
	}
	switch {
	case !pt.Effective.IsPositive():
		rw.Until = pt.At
	case !spent.IsPositive():
		rw.Endless = true
	default:
		// lasts = effective / spent * covered, in whole seconds.
		whole, above, ok := wholeQuotient(pt.Effective, int64(covered/time.Second), spent, maxSeconds)
		if !ok {
			secs := pt.Effective.Mul(decimal.NewFromInt(int64(covered / time.Second))).Div(spent)
			whole, above = secs.IntPart(), secs.Cmp(decimal.NewFromInt(maxSeconds)) > 0
		}
		if above {
			rw.Endless = true
			return rw
		}
		rw.Lasts = time.Duration(whole) * time.Second
		rw.Until = pt.At.Add(rw.Lasts)
	}
	return rw
}

// settledCosts sums the settled cost windows inside [from, to] and the time
// they cover.
func (l *Ledger) settledCosts(from, to time.Time) (decimal.Decimal, time.Duration) {
	es := l.costs.entries
	lo := sort.Search(len(es), func(i int) bool { return !es[i].Bucket.Start.Before(from) })
	spent, covered := decimal.Zero, time.Duration(0)
	for _, e := range es[lo:] {
		b := e.Bucket
		if b.End.After(to) {
			break
		}
		if b.Settled {
			spent, covered = spent.Add(b.Amount.Amount()), covered+b.End.Sub(b.Start)
		}
	}
	return spent, covered
}

// maxSeconds caps a runway at a century; beyond that it is endless.
const maxSeconds = 100 * 366 * 24 * 3600

// State summarises the account at now for a finding.
func (l *Ledger) State(now time.Time, burnWindow time.Duration) billing.AccountState {
	pt, ok := l.Latest(now)
	if !ok {
		return billing.AccountState{}
	}
	cur := l.account.Currency
	s := billing.AccountState{
		Effective:      billing.NewMoney(pt.Effective, cur),
		EffectiveKnown: pt.EffectiveKnown,
		Shown:          billing.NewMoney(pt.Shown, cur),
		ShownKnown:     pt.ShownKnown,
		Runway:         l.Runway(now, burnWindow),
		ObservedAt:     pt.At,
	}
	if pt.EffectiveKnown && pt.EffectiveBasis == derivedBasis {
		a := l.account.Anchor
		s.DerivedFrom = &a
	}
	return s
}

// First returns the time of the first observation.
func (l *Ledger) First() (time.Time, bool) {
	if l.points.len() == 0 {
		return time.Time{}, false
	}
	return l.first, true
}
