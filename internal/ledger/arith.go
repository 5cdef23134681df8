package ledger

import "github.com/shopspring/decimal"

// Exact arithmetic on nums, for the sums the ledger takes over every grant
// of every observation: in an int64 while the values fit (as they do for
// money), so that a sum of twenty grants makes one decimal, not forty. The
// results are the decimals decimal's Add and Sub give, exponent included.

// sign returns -1, 0 or 1 as n is negative, zero or positive.
func (n num) sign() int {
	switch {
	case n.isBig:
		return n.d.Sign()
	case n.m > 0:
		return 1
	case n.m < 0:
		return -1
	}
	return 0
}

// subNum returns a - b, with the smaller exponent of the two.
func subNum(a, b num) num {
	if !a.isBig && !b.isBig {
		am, bm, e := a.m, b.m, a.e
		ok := true
		switch {
		case a.e > b.e:
			am, ok = scale(am, a.e-b.e)
			e = b.e
		case a.e < b.e:
			bm, ok = scale(bm, b.e-a.e)
		}
		if m := am - bm; ok && (bm >= 0) == (m <= am) && m < smallLimit && m > -smallLimit {
			return num{m: m, e: e}
		}
	}
	return numOf(a.decimal().Sub(b.decimal()))
}

// smallLimit bounds the coefficient of a small num: smallDigits digits.
const smallLimit = 1e17

// zeroSum returns an acc holding decimal.Zero, so that the sum it takes
// has the exponent decimal.Zero.Add(x).Add(y)… has.
func zeroSum() acc { return acc{any: true} }

// remainingNum is a grant's amount less its used credit (billing.Grant's
// Remaining), as a num.
func remainingNum(amount, used decimal.Decimal) num { return subNum(numOf(amount), numOf(used)) }

// Compare returns decimal's a.Cmp(b) without the copies Cmp makes of a
// and b when their exponents differ (a balance in cents against a
// threshold in dollars): rules compare after every poll.
func Compare(a, b decimal.Decimal) int {
	if a.Exponent() == b.Exponent() {
		return a.Cmp(b)
	}
	return subNum(numOf(a), numOf(b)).sign()
}
