package guard

import "github.com/guardd/guardd/internal/ledger"

// Ledger returns the ledger of g's first account as g holds it (thawed
// from its frozen form when frozen, a copy then), for the tests of
// package guard_test.
func Ledger(g *Guard) (*ledger.Ledger, error) {
	w := g.accounts[0]
	if w.ledger != nil {
		return w.ledger, nil
	}
	return w.frozen.Thaw()
}
