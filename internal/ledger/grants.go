package ledger

import (
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// GrantHistory is one credit grant as guardd saw it over time: its last
// listing and how its used credit grew, which is how the credit of a
// recharge was drawn.
type GrantHistory struct {
	// Grant is the grant as last listed, FirstSeen filled in.
	Grant billing.Grant
	// LastSeen is the last observation that listed it; Source where that
	// listing came from.
	LastSeen time.Time
	Source   string
	// Used holds its used credit each time it changed, oldest first, from
	// the observation that first listed it.
	Used []UsedAt
}

// UsedAt is a grant's used credit from a time on.
type UsedAt struct {
	At   time.Time
	Used decimal.Decimal
}

// UsedBy returns the grant's used credit as guardd last saw it at or before
// t, and false when t is before guardd first saw the grant.
func (g GrantHistory) UsedBy(t time.Time) (decimal.Decimal, bool) {
	i := sort.Search(len(g.Used), func(i int) bool { return g.Used[i].At.After(t) }) - 1
	if i < 0 {
		return decimal.Zero, false
	}
	return g.Used[i].Used, true
}

// saw records a listing of the grant at at.
func (st *grantState) saw(g billing.Grant, at time.Time, source string) {
	if st.seen == nil {
		st.seen = new(GrantHistory)
	}
	h := st.seen
	used := g.Used.Amount()
	if n := len(h.Used); n == 0 || !h.Used[n-1].Used.Equal(used) {
		h.Used = append(h.Used, UsedAt{At: at, Used: used})
	}
	h.Grant, h.LastSeen, h.Source = g, at, source
}

// Grants returns every grant guardd has seen, in the order it first saw
// them (by id among those first seen together). The Used slices are the
// ledger's: callers must not modify them.
func (l *Ledger) Grants() []GrantHistory {
	out := make([]GrantHistory, 0, len(l.grants))
	for _, st := range l.grants {
		if st.seen != nil && len(st.seen.Used) > 0 {
			out = append(out, *st.seen)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Grant, out[j].Grant
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.ID < b.ID
	})
	return out
}

// Points returns the account's position at each observation with At in
// [from, to], oldest first.
func (l *Ledger) Points(from, to time.Time) []Point {
	p := &l.points
	lo, hi := p.count(from, false), p.count(to, true)
	if lo >= hi {
		return nil
	}
	out := make([]Point, 0, hi-lo)
	// A block at a time, read once; the newest two points are kept whole.
	for i := lo; i < hi && i < p.n-2; {
		b, j := p.blockOf(i)
		c := b.cursor(true)
		before := i
		for i < hi && i < p.n-2 && c.next() {
			if c.j >= j {
				out = append(out, c.point())
				i++
			}
		}
		if i == before {
			break // a damaged block: Points answers what it could read
		}
	}
	for i := max(lo, p.n-2); i < hi; i++ {
		out = append(out, p.point(i))
	}
	return out
}

// dropBefore drops the used credit the grant had before h, keeping what
// it had at h.
func (g *GrantHistory) dropBefore(h time.Time) {
	i := sort.Search(len(g.Used), func(i int) bool { return g.Used[i].At.After(h) }) - 1
	if i > 0 {
		g.Used = g.Used[:copy(g.Used, g.Used[i:])]
	}
}
