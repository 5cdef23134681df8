package ledger

import (
	"sort"
	"time"
)

// horizon is the oldest time the ledger must still answer about: its
// newest observation less Options.Keep. ok is false when it keeps
// everything.
func (l *Ledger) horizon() (time.Time, bool) {
	if l.opts.Keep <= 0 || l.points.len() == 0 {
		return time.Time{}, false
	}
	return l.points.last.At.Add(-l.opts.Keep), true
}

// pointsHorizon is the oldest time the points must still answer about:
// the newest observation less Options.KeepPoints, or the horizon when
// that is nearer or KeepPoints is zero. ok is false when it keeps every
// point.
func (l *Ledger) pointsHorizon() (time.Time, bool) {
	h, ok := l.horizon()
	if l.opts.KeepPoints <= 0 || l.points.len() == 0 {
		return h, ok
	}
	ph := l.points.last.At.Add(-l.opts.KeepPoints)
	if ok && h.After(ph) {
		return h, true
	}
	return ph, true
}

// trim drops what no answer about the horizon or later reads: points
// older than the newest at or before the points' horizon (a block at a
// time) and cost windows that ended by that horizon, recharges
// paid at or before the horizon, grants no
// observation since listed, the used credit of the others before it, and
// charges neither paid nor listed since.
// What a dropped part still counts for is kept as a sum: the credit of
// recharges after the balance anchor, the earliest cost window (whether
// costs cover the anchor), and where settled costs end.
func (l *Ledger) trim() {
	if ph, ok := l.pointsHorizon(); ok {
		l.points.dropBefore(ph)
		l.costs.dropThrough(ph)
	}
	h, ok := l.horizon()
	if !ok {
		return
	}
	a := l.account.Anchor
	for _, r := range l.recharges.dropThrough(h) {
		if l.account.HasAnchor && r.At.After(a.At) {
			l.derived.dropped = l.derived.dropped.Add(r.Credit)
		}
	}
	l.uncharged.dropThrough(h)
	l.uncredited.dropThrough(h)
	for id, st := range l.grants {
		if !st.lastAt.After(h) {
			delete(l.grants, id)
			continue
		}
		if st.seen != nil {
			st.seen.dropBefore(h)
		}
	}
	for id, t := range l.charges {
		if !t.After(h) {
			delete(l.charges, id)
		}
	}
}

// dropThrough removes the recharges with At at or before h and returns
// them.
func (s *byAt) dropThrough(h time.Time) []*Recharge {
	rs := *s
	k := sort.Search(len(rs), func(i int) bool { return rs[i].At.After(h) })
	if k == 0 {
		return nil
	}
	dropped := append([]*Recharge(nil), rs[:k]...)
	clear(rs[:k])
	*s = rs[k:]
	return dropped
}

// dropThrough removes the cost windows that ended at or before h, oldest
// first, and remembers the latest end dropped: a later report of a window
// ending by then is not taken.
func (b *costBook) dropThrough(h time.Time) {
	k := 0
	for k < len(b.entries) && !b.entries[k].Bucket.End.After(h) {
		if end := b.entries[k].Bucket.End; end.After(b.floor) {
			b.floor = end
		}
		k++
	}
	if k == 0 {
		return
	}
	b.entries = append(b.entries[:0:0], b.entries[k:]...)
}
