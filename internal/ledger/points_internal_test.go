package ledger

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/shopspring/decimal"
)

// Points that write nothing past a header they repeat (most polls) pack
// in runs, read back the same, and a log restored mid-run goes on packing
// as the log it was read from.
func TestRepeatedHeadersPackInRuns(t *testing.T) {
	exact := func(d decimal.Decimal) string { return d.Coefficient().String() + "e" + fmt.Sprint(d.Exponent()) }
	text := func(pt Point) string {
		return fmt.Sprintln(pt.At, exact(pt.Effective), pt.EffectiveKnown, exact(pt.Shown), pt.ShownKnown, exact(pt.ExpiredRemaining),
			exact(pt.FreeCredit), pt.FreeCreditKnown, exact(pt.Consumed), pt.ConsumedKnown, pt.EffectiveBasis, pt.Source, pt.AsOf)
	}
	points := func(n int) []Point {
		var pts []Point
		at, eff := lt.T0, dec("500.00")
		for i := range n {
			at = at.Add(15 * time.Minute)
			cons := decimal.New(int64(3+i*7%20), -2)
			eff = eff.Sub(cons)
			pt := Point{At: at, Effective: eff, EffectiveKnown: true, EffectiveBasis: basisShown, Shown: eff, ShownKnown: true,
				Consumed: cons, ConsumedKnown: true, Source: lt.Source, AsOf: at}
			switch {
			case i%150 == 149: // a recharge: the balance is written
				eff = eff.Add(dec("100.00"))
				pt.Effective, pt.Shown = eff, eff
			case i == 200: // another source: written, and the flags
				pt.Source = "other"
			case i == 201:
				pt.AsOf = at.Add(-time.Minute)
			}
			pts = append(pts, pt)
		}
		return pts
	}
	const n = 3*blockSize + 9
	pts := points(n + 40)
	var p pointLog
	for _, pt := range pts[:n] {
		p.add(pt)
	}
	for i, pt := range pts[:n] {
		if got, want := text(p.point(i)), text(pt); got != want {
			t.Fatalf("point %d: got %s, want %s", i, got, want)
		}
	}
	// The first block: the first point's header, flags, source and
	// balances (some 45 bytes), the second's header and flags (the source
	// repeats from then on), the third's header, and the run of the other
	// 125 in two bytes (a byte counts at most maxRun): one byte a point
	// would be over 170.
	if b := p.blocks[0]; len(b.rest) > 64 {
		t.Errorf("a block of %d points all drawn down alike: %d bytes of balances, want at most 64", b.n, len(b.rest))
	}

	// A log restored from its blocks packs the next points as the one it
	// was read from, whether it stopped in a run or not.
	for _, stop := range []int{n - 3, n - 1, n} {
		var a pointLog
		for _, pt := range pts[:stop] {
			a.add(pt)
		}
		var b pointLog
		for _, blk := range a.blocks {
			c := *blk
			c.times, c.cons, c.rest = bytes.Clone(blk.times), bytes.Clone(blk.cons), bytes.Clone(blk.rest)
			b.blocks = append(b.blocks, &c)
		}
		if err := b.restore(a.seq); err != nil {
			t.Fatalf("restore after %d points: %v", stop, err)
		}
		for _, pt := range pts[stop:] {
			a.add(pt)
			b.add(pt)
		}
		for k := range a.blocks {
			x, y := a.blocks[k], b.blocks[k]
			if !bytes.Equal(x.rest, y.rest) || !bytes.Equal(x.cons, y.cons) || !bytes.Equal(x.times, y.times) {
				t.Errorf("restored after %d points: block %d packs differently", stop, k)
			}
		}
	}

	// A run of repeated headers where the point before wrote more than its
	// header is damage.
	bad := *p.blocks[0]
	bad.rest = append([]byte(nil), bad.rest...)
	bad.rest[0] = modeMask
	c := bad.cursor(true)
	for c.next() {
	}
	if err := c.err(); err == nil || !strings.Contains(err.Error(), "not bare") {
		t.Errorf("a run first in a block: got %v, want an error", err)
	}
}
