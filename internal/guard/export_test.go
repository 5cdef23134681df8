package guard

import "github.com/guardd/guardd/internal/ledger"

// PollLog returns the poll log of the ledger of g's first account as g
// holds it, newest first (thawed from its frozen form when frozen), for
// the tests of package guard_test.
func PollLog(g *Guard) ([]ledger.PollRecord, error) {
	w := g.accounts[0]
	l := w.ledger
	if l == nil {
		var err error
		if l, err = w.frozen.Thaw(); err != nil {
			return nil, err
		}
	}
	return l.RecentPolls(ledger.MaxPolls), nil
}
