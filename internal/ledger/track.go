package ledger

import (
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// PollRecord is the outcome of one poll of the account.
type PollRecord struct {
	At time.Time
	// Err is why the poll read nothing; empty when it succeeded.
	Err string
	// Unavailable lists the parts a successful poll tried and could not
	// read, with the reason.
	Unavailable map[billing.Part]string
}

// MaxPolls is how many poll records the ledger keeps.
const MaxPolls = 64

// RecordFailure notes a poll that read nothing usable. The ledger's figures
// are unchanged; rules that watch the source (source-blind) see it.
func (l *Ledger) RecordFailure(at time.Time, err error) {
	if err == nil {
		err = errors.New("poll failed")
	}
	l.logPoll(&billing.Observation{At: at.UTC()}, err)
}

func (l *Ledger) logPoll(o *billing.Observation, err error) {
	rec := PollRecord{At: o.At}
	if err != nil {
		rec.Err = err.Error()
	} else {
		for p, st := range o.Parts {
			if st.Unavailable != "" {
				if rec.Unavailable == nil {
					rec.Unavailable = make(map[billing.Part]string)
				}
				rec.Unavailable[p] = st.Unavailable
			}
		}
	}
	if len(l.polls) == MaxPolls {
		// Dropped from the front: append moves the rest once they reach
		// the end of their array, not at every poll.
		l.polls[0] = PollRecord{}
		l.polls = l.polls[1:]
	}
	l.polls = append(l.polls, rec)
}

// RecentPolls returns up to n of the most recent polls, newest first.
func (l *Ledger) RecentPolls(n int) []PollRecord {
	n = min(n, len(l.polls))
	out := make([]PollRecord, n)
	for i := range n {
		out[i] = l.polls[len(l.polls)-1-i]
	}
	return out
}

// CostEntry is the latest report of one cost window and where it came from.
type CostEntry struct {
	Bucket billing.CostBucket
	Source string
	AsOf   time.Time

	// For the window the account's balance anchor falls in: base is its
	// last report as of the anchor, when there was one.
	base    decimal.Decimal
	hasBase bool
	// since is the part of its cost counted after the anchor.
	since decimal.Decimal
}

// costBook keeps the latest report of each cost window, by start.
type costBook struct {
	entries []CostEntry // sorted by start
	// total sums the entries' since: the costs reported after the account's
	// balance anchor, kept up to date as reports arrive (and kept for the
	// windows dropped).
	anchor    time.Time
	hasAnchor bool
	total     decimal.Decimal
	// earliest is the start of the earliest window ever reported (when
	// any is), settled the end of the latest settled one, and floor the
	// end of the latest window dropped: a window ending by then that is
	// not kept is not taken again.
	earliest    time.Time
	hasEarliest bool
	settled     time.Time
	floor       time.Time
}

func (l *Ledger) recordCosts(o *billing.Observation) {
	if !o.Has(billing.PartCosts) {
		return
	}
	st := o.Parts[billing.PartCosts]
	for _, b := range o.Costs {
		b.Start, b.End = b.Start.UTC(), b.End.UTC()
		e := CostEntry{Bucket: b, Source: st.Source, AsOf: st.AsOf}
		i, ok := l.costs.find(b.Start)
		if !ok && !b.End.After(l.costs.floor) && !l.costs.floor.IsZero() {
			continue // ended before the horizon: dropped, taken as final
		}
		if !l.costs.hasEarliest || b.Start.Before(l.costs.earliest) {
			l.costs.earliest, l.costs.hasEarliest = b.Start, true
		}
		if b.Settled && b.End.After(l.costs.settled) {
			l.costs.settled = b.End
		}
		if ok {
			old := l.costs.entries[i]
			e.base, e.hasBase = old.base, old.hasBase
			l.costs.total = l.costs.total.Sub(old.since)
		}
		l.costs.count(&e)
		if ok {
			l.costs.entries[i] = e
			continue
		}
		l.costs.entries = slices.Insert(l.costs.entries, i, e)
	}
}

// find returns the index of the window starting at start, or where it
// would go, and whether it is there.
func (b *costBook) find(start time.Time) (int, bool) {
	i := sort.Search(len(b.entries), func(i int) bool { return !b.entries[i].Bucket.Start.Before(start) })
	return i, i < len(b.entries) && b.entries[i].Bucket.Start.Equal(start)
}

// SettledCostsUntil returns the end of the latest settled cost window
// reported, zero when none was: a source that reads costs incrementally
// need not read earlier windows again.
func (l *Ledger) SettledCostsUntil() time.Time { return l.costs.settled }

// Costs returns the latest report of every cost window starting in
// [from, to), oldest first.
func (l *Ledger) Costs(from, to time.Time) []CostEntry {
	es := l.costs.entries
	lo := sort.Search(len(es), func(i int) bool { return !es[i].Bucket.Start.Before(from) })
	hi := sort.Search(len(es), func(i int) bool { return !es[i].Bucket.Start.Before(to) })
	return append([]CostEntry(nil), es[lo:hi]...)
}

// Covers reports whether observations bracket [from, to]: one at or before
// from and one at or after to, so consumption over the span is measured.
func (l *Ledger) Covers(from, to time.Time) bool {
	n := l.points.len()
	return n > 0 && !l.points.at(0).After(from) && !l.points.last.At.Before(to)
}

// grantMove is one grant's change since the previous observation.
type grantMove struct {
	st    *grantState // the grant's, as append found it
	known bool
	used  decimal.Decimal // rise in used
	// hadCredit says credit was left in it before: its amount was above
	// its used credit at the previous observation.
	hadCredit bool
}

// idleGrant tracks a grant that the drawdown policy says goes first but that
// did not move while other credit was drawn.
type idleGrant struct {
	since     time.Time                  // when it last moved (or was first seen)
	intervals int                        // polls in which others were drawn instead
	drawn     decimal.Decimal            // credit drawn instead since then
	from      map[string]decimal.Decimal // by grant id
}

// IdleCredit is credit the drawdown policy says should have been used first
// but sat idle while other credit was drawn.
type IdleCredit struct {
	// GrantID is the idle grant, or empty for a provider's granted balance.
	GrantID   string
	Grant     billing.Grant // set when GrantID is
	Remaining decimal.Decimal
	IdleSince time.Time
	// Intervals counts the polls in which other credit was drawn instead.
	Intervals int
	// Drawn is the credit drawn instead, and DrawnFrom by grant id ("paid
	// balance" for a split balance).
	Drawn     decimal.Decimal
	DrawnFrom map[string]decimal.Decimal
	Source    string
	AsOf      time.Time
}

// GoesFirst reports whether, under policy p, grant a should be consumed
// before b: grants-first puts free credit before purchased credit, and
// within a class (or under expiring-first) the grant that expires sooner goes
// first.
func GoesFirst(p billing.DrawdownPolicy, a, b billing.Grant) bool {
	expiresFirst := !a.ExpiresAt.IsZero() && (b.ExpiresAt.IsZero() || a.ExpiresAt.Before(b.ExpiresAt))
	switch p {
	case billing.DrawdownGrantsFirst:
		af, bf := a.Kind != billing.GrantPurchased, b.Kind != billing.GrantPurchased
		if af != bf {
			return af
		}
		return expiresFirst
	case billing.DrawdownExpiringFirst:
		return expiresFirst
	}
	return false
}

func (l *Ledger) trackGrantDrawdown(o *billing.Observation, moves []grantMove) {
	policy := l.account.Drawdown
	// The grants drawn from (one or two a poll, of a score listed).
	var drawnBuf [4]int
	drawn := drawnBuf[:0]
	for j, d := range moves {
		if d.known && d.used.IsPositive() {
			drawn = append(drawn, j)
		}
	}
	for i := range o.Grants {
		g, m := &o.Grants[i], moves[i]
		st := m.st
		if !m.known || m.used.IsPositive() || g.ExpiredAt(o.At) || !m.hadCredit {
			st.idle = idleGrant{since: o.At}
			continue
		}
		drew := false
		for _, j := range drawn {
			d := moves[j]
			if !GoesFirst(policy, *g, o.Grants[j]) {
				continue
			}
			if st.idle.from == nil {
				st.idle.from = make(map[string]decimal.Decimal)
			}
			st.idle.drawn = st.idle.drawn.Add(d.used)
			st.idle.from[o.Grants[j].ID] = st.idle.from[o.Grants[j].ID].Add(d.used)
			drew = true
		}
		if drew {
			st.idle.intervals++
		}
		if st.idle.since.IsZero() {
			st.idle.since = st.firstSeen
		}
	}
}

// splitIdle tracks a granted balance that stays put while paid credit is
// drawn (grants-first providers such as DeepSeek).
type splitIdle struct {
	since     time.Time
	intervals int
	drawn     decimal.Decimal
}

func (l *Ledger) trackSplitDrawdown(prev *Point, o *billing.Observation) {
	if l.account.Drawdown != billing.DrawdownGrantsFirst || l.cur == nil ||
		!l.cur.Has(billing.PartBalance) || !l.cur.Balance.HasSplit || !o.Has(billing.PartBalance) || !o.Balance.HasSplit {
		l.split = splitIdle{}
		return
	}
	before, after := l.cur.Balance, o.Balance
	if !before.Granted.IsPositive() || !after.Granted.Amount().Equal(before.Granted.Amount()) {
		l.split = splitIdle{since: o.At}
		return
	}
	paidDrawn := before.Paid.Amount().Add(l.creditIn(prev.At, o.At)).Sub(after.Paid.Amount())
	if paidDrawn.IsPositive() {
		if l.split.since.IsZero() {
			l.split.since = prev.At
		}
		l.split.drawn = l.split.drawn.Add(paidDrawn)
		l.split.intervals++
	}
}

// IdleCredits lists, at the newest observation, the credit that sat idle
// while credit the policy puts after it was drawn.
func (l *Ledger) IdleCredits() []IdleCredit {
	if l.cur == nil {
		return nil
	}
	var out []IdleCredit
	if l.cur.Has(billing.PartGrants) {
		st := l.cur.Parts[billing.PartGrants]
		for i := range l.cur.Grants {
			g := &l.cur.Grants[i]
			gs := l.grants[g.ID]
			if gs.idle.intervals == 0 {
				continue
			}
			out = append(out, IdleCredit{
				GrantID: g.ID, Grant: *g, Remaining: g.Remaining().Amount(), IdleSince: gs.idle.since,
				Intervals: gs.idle.intervals, Drawn: gs.idle.drawn, DrawnFrom: gs.idle.from,
				Source: st.Source, AsOf: st.AsOf,
			})
		}
		return out
	}
	if l.split.intervals > 0 {
		st := l.cur.Parts[billing.PartBalance]
		out = append(out, IdleCredit{
			Remaining: l.cur.Balance.Granted.Amount(), IdleSince: l.split.since, Intervals: l.split.intervals,
			Drawn: l.split.drawn, DrawnFrom: map[string]decimal.Decimal{"paid balance": l.split.drawn},
			Source: st.Source, AsOf: st.AsOf,
		})
	}
	return out
}

// ReplacePollsAfter keeps the poll log up to t and sets the rest, oldest
// first, as the state store kept it across runs: a ledger from a
// checkpoint at t holds the polls up to it already, and only those stored
// after it are read. The zero t replaces the whole log (a ledger rebuilt
// from stored observations). The most recent MaxPolls are kept.
func (l *Ledger) ReplacePollsAfter(t time.Time, recs []PollRecord) {
	kept := l.polls[:0]
	if !t.IsZero() {
		i := len(l.polls)
		for i > 0 && l.polls[i-1].At.After(t) {
			i--
		}
		kept = l.polls[:i]
	}
	clear(l.polls[len(kept):])
	out := append(kept, recs...)
	if len(out) > MaxPolls {
		out = append(out[:0], out[len(out)-MaxPolls:]...)
	}
	l.polls = out
}
