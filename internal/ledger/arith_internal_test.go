package ledger

import (
	"testing"
	"time"

	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/shopspring/decimal"
)

// The sums over grants must give the decimals decimal's own Add and Sub
// give, exponent included: they are packed into points and checkpoints.
func TestArithMatchesDecimal(t *testing.T) {
	vals := []string{"0", "0.00", "500.00", "123.45", "-3.5", "1e3", "12345678901234567", "99999999999999999",
		"-99999999999999999", "123456789012345678901234", "0.000000000000000001", "9223372036854775807", "50"}
	for _, a := range vals {
		for _, b := range vals {
			da, db := decimal.RequireFromString(a), decimal.RequireFromString(b)
			want := da.Sub(db)
			got := subNum(numOf(da), numOf(db))
			if d := got.decimal(); d.Cmp(want) != 0 || d.Exponent() != want.Exponent() {
				t.Errorf("%s - %s: got %s (exponent %d), want %s (exponent %d)", a, b, d, d.Exponent(), want, want.Exponent())
			}
			if c := Compare(da, db); c != da.Cmp(db) {
				t.Errorf("Compare(%s, %s): got %d, want %d", a, b, c, da.Cmp(db))
			}
			if got.sign() != want.Sign() {
				t.Errorf("%s - %s: got sign %d, want %d", a, b, got.sign(), want.Sign())
			}
			if !got.isBig && (got.m >= smallLimit || got.m <= -smallLimit) {
				t.Errorf("%s - %s: coefficient %d held small", a, b, got.m)
			}
		}
	}
	// A sum started at zero has decimal.Zero.Add's exponent.
	for i := range vals {
		s, want := zeroSum(), decimal.Zero
		for _, v := range vals[i:] {
			d := decimal.RequireFromString(v)
			s.add(numOf(d))
			want = want.Add(d)
		}
		if got := s.value(); got.Cmp(want) != 0 || got.Exponent() != want.Exponent() {
			t.Errorf("sum from %s: got %s (exponent %d), want %s (exponent %d)", vals[i], got, got.Exponent(), want, want.Exponent())
		}
	}
}

// cumBefore, which goes on from where earlier lookups stopped, answers as
// counting the points from the start of their block does, for windows
// sliding forward one poll at a time and for lookups out of order.
func TestCumBeforeMatchesCount(t *testing.T) {
	a, obs := lt.Year(1500)
	l := New(a, Options{Keep: 10 * 24 * time.Hour})
	for i, o := range obs {
		if err := l.Append(o); err != nil {
			t.Fatal(err)
		}
		now := o.At
		for _, back := range []time.Duration{0, 90 * time.Minute, 24 * time.Hour, 7 * 24 * time.Hour, 3 * time.Hour, 40 * 24 * time.Hour} {
			from := now.Add(-back)
			if i%97 == 0 {
				from = from.Add(-time.Duration(i%13) * time.Hour) // out of order
			}
			p := &l.points
			lo := max(p.count(from, true)-1, 0)
			wc, wv := p.cum(lo)
			gc, gv := p.cumBefore(from)
			if gc.Cmp(wc) != 0 || gv != wv {
				t.Fatalf("poll %d, from %s: got %s over %s, want %s over %s", i, from, gc, gv, wc, wv)
			}
		}
		// A cursor's sum is the block's plus its own, as decimal adds them.
		if i%50 == 0 {
			for _, b := range l.points.blocks {
				c := b.cursor(false)
				for c.next() {
					got, _ := c.cum()
					want := c.b.cum0.decimal().Add(c.sum.value())
					if got.Cmp(want) != 0 || got.Exponent() != want.Exponent() {
						t.Fatalf("poll %d: cursor sum %s (exponent %d), want %s (exponent %d)", i, got, got.Exponent(), want, want.Exponent())
					}
				}
			}
		}
	}
}

// wholeQuotient answers as decimal's Mul, Div (rounded to 16 places),
// IntPart and Cmp do, rounding up to the next whole included, or says it
// cannot.
func TestWholeQuotientMatchesDecimal(t *testing.T) {
	const limit = 100 * 366 * 24 * 3600
	as := []string{"0.01", "1", "33.05", "500.00", "12345.678", "99999999999999999", "7", "3", "1e5", "2.5e-3"}
	bs := []string{"0.01", "1", "3", "7", "0.03", "1.37", "123.4567", "99999999999999999", "1e4", "3e-20"}
	cs := []int64{1, 3, 3600, 604800, 86399, 1 << 40}
	// 0.99999999999999999 rounded to 16 places is 1: its whole part is 1.
	tricky := [][3]string{{"0.99999999999999999", "1", "1"}, {"0.99999999999999994", "1", "1"}, {"1999999999999999.9", "1", "1"},
		{"2", "3", "3"}, {"5", "9", "9"}}
	check := func(a, b string, c int64) {
		da, db := decimal.RequireFromString(a), decimal.RequireFromString(b)
		secs := da.Mul(decimal.NewFromInt(c)).Div(db)
		wantAbove := secs.Cmp(decimal.NewFromInt(limit)) > 0
		got, above, ok := wholeQuotient(da, c, db, limit)
		if !ok {
			return
		}
		if above != wantAbove || (!above && got != secs.IntPart()) {
			t.Errorf("%s * %d / %s: got %d (above %v), want %s (above %v)", a, c, b, got, above, secs, wantAbove)
		}
	}
	n := 0
	for _, a := range as {
		for _, b := range bs {
			for _, c := range cs {
				check(a, b, c)
				if _, _, ok := wholeQuotient(decimal.RequireFromString(a), c, decimal.RequireFromString(b), limit); ok {
					n++
				}
			}
		}
	}
	for _, tc := range tricky {
		c := decimal.RequireFromString(tc[2]).IntPart()
		if _, _, ok := wholeQuotient(decimal.RequireFromString(tc[0]), c, decimal.RequireFromString(tc[1]), limit); !ok {
			t.Errorf("%s * %d / %s: not computed", tc[0], c, tc[1])
		}
		check(tc[0], tc[1], c)
	}
	if n < 300 {
		t.Errorf("computed %d of %d quotients, want most", n, len(as)*len(bs)*len(cs))
	}
	// The limit itself: above only with a fraction.
	for _, tc := range []struct {
		a    string
		want bool
	}{{"3162240000", false}, {"3162240000.0000000000000001", false}, {"3162240000.5", true}, {"3162240001", true}} {
		if _, above, ok := wholeQuotient(decimal.RequireFromString(tc.a), 1, decimal.NewFromInt(1), limit); ok && above != tc.want {
			t.Errorf("%s against the limit: got above %v, want %v", tc.a, above, tc.want)
		}
		check(tc.a, "1", 1)
	}
}

// quotient16 gives the decimal decimal's Mul and Div give, exponent
// included, or says it cannot.
func TestQuotient16MatchesDecimal(t *testing.T) {
	as := []string{"0", "0.00", "0.01", "1", "33.05", "500.00", "12345.678", "99999999999999999", "1e5", "2.5e-3", "-1"}
	cs := []int64{1, 3, 86400e9, 604800}
	bs := []int64{1, 3, 7, 3600e9, 604800e9, 86399e9 + 1}
	n := 0
	for _, a := range as {
		for _, c := range cs {
			for _, b := range bs {
				da := decimal.RequireFromString(a)
				want := da.Mul(decimal.NewFromInt(c)).Div(decimal.NewFromInt(b))
				got, ok := quotient16(da, c, b)
				if !ok {
					continue
				}
				n++
				if got.Cmp(want) != 0 || got.Exponent() != want.Exponent() {
					t.Errorf("%s * %d / %d: got %s (exponent %d), want %s (exponent %d)", a, c, b, got, got.Exponent(), want, want.Exponent())
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("computed %d quotients, want most", n)
	}
}
