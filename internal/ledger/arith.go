package ledger

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

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

// pow10s are the powers of ten a uint64 holds.
var pow10s = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// mulPow10 returns m * 10^k, and whether it fits a uint64.
func mulPow10(m uint64, k int64) (uint64, bool) {
	if k < 0 || k >= int64(len(pow10s)) {
		return 0, false
	}
	hi, lo := bits.Mul64(m, pow10s[k])
	return lo, hi == 0
}

// divRound returns decimal's a.Mul(decimal.NewFromInt(c)).Div(b), which
// rounds the quotient to decimal.DivisionPrecision places (16), as its
// whole part and its 16 places, for a >= 0 and positive b and c, when the
// arithmetic fits 64-bit words (ok); without the big integers and their
// copies. The runway divides twice after every poll.
func divRound(a num, c int64, b num) (whole, places uint64, ok bool) {
	const n16 = 16
	if decimal.DivisionPrecision != n16 || a.isBig || b.isBig || a.m < 0 || b.m <= 0 || c <= 0 {
		return 0, 0, false
	}
	hi, p := bits.Mul64(uint64(a.m), uint64(c))
	if hi != 0 {
		return 0, 0, false
	}
	// a*c/b = n/d, n and d integers.
	e := int64(a.e) - int64(b.e)
	n, okN := mulPow10(p, max(e, 0))
	d, okD := mulPow10(uint64(b.m), max(-e, 0))
	if !okN || !okD {
		return 0, 0, false
	}
	w, r := n/d, n%d
	// The first 16 places of the fraction, and what is left: r < d, so
	// the quotient fits.
	fh, fl := bits.Mul64(r, pow10s[n16])
	f, rest := bits.Div64(fh, fl, d)
	if rest >= d-rest { // half or more: decimal rounds up
		f++
	}
	if f == pow10s[n16] {
		w, f = w+1, 0
	}
	return w, f, true
}

// wholeQuotient returns the integer part of decimal's
// a.Mul(decimal.NewFromInt(c)).Div(b), and whether that quotient is above
// limit, for positive a, b and c, when divRound can.
func wholeQuotient(a decimal.Decimal, c int64, b decimal.Decimal, limit int64) (whole int64, above, ok bool) {
	na := numOf(a)
	w, f, ok := divRound(na, c, numOf(b))
	if !ok || na.m <= 0 || w > math.MaxInt64 {
		return 0, false, false
	}
	return int64(w), int64(w) > limit || (int64(w) == limit && f > 0), true
}

// quotient16 returns decimal's a.Mul(decimal.NewFromInt(c)).Div(b), for
// a >= 0 and positive b and c, when divRound can and the result's
// coefficient fits an int64: the same decimal, exponent -16 included.
func quotient16(a decimal.Decimal, c int64, b int64) (decimal.Decimal, bool) {
	w, f, ok := divRound(numOf(a), c, num{m: b})
	if !ok || w > (math.MaxInt64-f)/pow10s[16] {
		return decimal.Decimal{}, false
	}
	return decimal.New(int64(w*pow10s[16]+f), -16), true
}
