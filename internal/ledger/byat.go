package ledger

import (
	"sort"
	"time"
)

// byAt is a set of recharges kept sorted by At: adding one in time order
// costs O(1), finding those of a span O(log n), and removing one O(log n)
// plus the shift. The ledger keeps every recharge in one, and the halves of
// payments still unpaired (a charge without its credit, a credit without
// its charge) in two more, so that pairing never scans the whole history.
type byAt []*Recharge

// add inserts r after any recharge at the same time.
func (s *byAt) add(r *Recharge) {
	rs := *s
	i := sort.Search(len(rs), func(i int) bool { return rs[i].At.After(r.At) })
	rs = append(rs, nil)
	copy(rs[i+1:], rs[i:])
	rs[i] = r
	*s = rs
}

// remove takes r out, if it is there.
func (s *byAt) remove(r *Recharge) {
	rs := *s
	for i := sort.Search(len(rs), func(i int) bool { return !rs[i].At.Before(r.At) }); i < len(rs) && rs[i].At.Equal(r.At); i++ {
		if rs[i] == r {
			*s = append(rs[:i], rs[i+1:]...)
			return
		}
	}
}

// span returns the recharges with At in (from, to], sharing s's storage.
func (s byAt) span(from, to time.Time) []*Recharge {
	lo := sort.Search(len(s), func(i int) bool { return s[i].At.After(from) })
	hi := sort.Search(len(s), func(i int) bool { return s[i].At.After(to) })
	return s[lo:hi]
}
