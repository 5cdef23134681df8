package ledger

import (
	"fmt"
	"strings"
	"testing"
	"time"

	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/shopspring/decimal"
)

// keep is the horizon the trimming tests keep: the default rules' history.
const keep = 35 * 24 * time.Hour

// views renders what the ledger answers about the window a rule may read
// at now, to compare two ledgers: the position at now and a day before,
// runways and consumption over several windows, idle credit, the first
// observation and the held reading; with all, every recharge and cost
// window since the horizon too.
func views(l *Ledger, now time.Time, all bool) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	point := func(pt Point, ok bool) string {
		return fmt.Sprintf("%v %s eff=%s/%v %q shown=%s/%v exp=%s free=%s/%v cons=%s/%v %s %s", ok, pt.At, pt.Effective, pt.EffectiveKnown,
			pt.EffectiveBasis, pt.Shown, pt.ShownKnown, pt.ExpiredRemaining, pt.FreeCredit, pt.FreeCreditKnown, pt.Consumed,
			pt.ConsumedKnown, pt.Source, pt.AsOf)
	}
	p("latest %s", point(l.Latest(now)))
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, keep - 24*time.Hour, keep} {
		p("at -%s %s", back, point(l.Latest(now.Add(-back))))
		spent, covered := l.Consumption(now.Add(-back), now)
		p("consumption -%s %s over %s, covers %v", back, spent.String(), covered, l.Covers(now.Add(-back), now))
		p("runway %s %s", back, lt.RunwayText(l.Runway(now, back)))
	}
	p("state %s", lt.StateText(l.State(now, 7*24*time.Hour)))
	p("recharges in a day %d, settled costs until %s", l.CountRecharges(now.Add(-24*time.Hour), now, func(*Recharge) bool { return true }),
		l.SettledCostsUntil())
	for _, c := range l.IdleCredits() {
		p("idle %s remaining=%s since %s intervals=%d drawn=%s from=%v", c.GrantID, c.Remaining.String(), c.IdleSince, c.Intervals, c.Drawn.String(), c.DrawnFrom)
	}
	first, ok := l.First()
	why, held := l.Held()
	p("first %s %v held %v %q", first, ok, held, why)
	if cur, _ := l.Current(); cur != nil {
		for _, g := range cur.Grants {
			p("grant %s first seen %s", g.ID, g.FirstSeen)
		}
		if cur.Derived != nil {
			p("derived %s", cur.Derived.Effective.Exact())
		}
	}
	for _, r := range l.RecentPolls(5) {
		p("poll %s %q %v", r.At, r.Err, r.Unavailable)
	}
	for _, g := range l.Grants() {
		if !g.LastSeen.After(now.Add(-keep)) {
			continue // no longer listed: a ledger that keeps its horizon forgets it
		}
		gr := g.Grant
		p("grant history %s %s %s/%s %s-%s %s %q first %s last %s %s", gr.ID, gr.Kind, gr.Used.Exact(), gr.Amount.Exact(), gr.EffectiveAt,
			gr.ExpiresAt, gr.KindGuess, gr.Kind, gr.FirstSeen, g.LastSeen, g.Source)
		for _, back := range []time.Duration{0, time.Hour, 24 * time.Hour, keep - time.Hour, keep} {
			used, ok := g.UsedBy(now.Add(-back))
			p("  used by -%s %s %v", back, used, ok)
		}
	}
	pts := l.Points(now.Add(-24*time.Hour), now)
	p("points in the last day %d", len(pts))
	for _, pt := range pts {
		p("  point %s", point(pt, true))
	}
	if !all {
		return b.String()
	}
	for _, r := range l.Recharges(now.Add(-keep), now) {
		p("recharge %s seen %s credit=%s atleast=%v charge=%s %s amount=%s tax=%s %s %s grant=%s trigger=%s/%v %q basis=%q src=%s before=%s/%v/%v free=%s/%v",
			r.At, r.SeenAt, r.Credit.String(), r.AtLeast, r.Charge.ID, r.Charge.PaidAt, r.Charge.Amount.Exact(), r.Charge.Tax.Exact(),
			r.Charge.Origin, r.Charge.Trigger, r.GrantID, r.Trigger, r.TriggerGuessed, r.TriggerWhy, r.Basis, r.Source,
			r.BalanceBefore.String(), r.BeforeKnown, r.BeforeDerived, r.FreeCreditBefore.String(), r.FreeBeforeKnown)
	}
	for _, c := range l.Costs(now.Add(-keep+24*time.Hour), now) {
		p("cost %s-%s %s settled=%v %s %s", c.Bucket.Start, c.Bucket.End, c.Bucket.Amount.Exact(), c.Bucket.Settled, c.Source, c.AsOf)
	}
	return b.String()
}

// replay feeds one generated poll to l.
func replay(t testing.TB, l *Ledger, p lt.Poll) {
	t.Helper()
	if err := p.Feed(l); err != nil {
		t.Fatal(err)
	}
}

// A ledger that keeps only its horizon answers every question about the
// horizon exactly as one that keeps everything, at every poll of a year,
// and stays small.
func TestTrimmedLedgerAnswersAsTheWhole(t *testing.T) {
	polls := 24 * 365
	if testing.Short() {
		polls = 24 * 80
	}
	for _, shape := range lt.Shapes {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			a, hist := lt.History(shape, time.Hour, polls)
			full := New(a, DefaultOptions())
			opts := DefaultOptions()
			opts.Keep = keep
			trimmed := New(a, opts)
			for i, p := range hist {
				replay(t, full, p)
				replay(t, trimmed, p)
				// Trimmed as far as it goes after every poll, not only
				// every block, so that every answer is at the edge.
				trimmed.trim()
				all := i%7 == 0 || i == len(hist)-1
				if got, want := views(trimmed, p.At, all), views(full, p.At, all); got != want {
					t.Fatalf("poll %d at %s: the trimmed ledger differs:\n%s", i, p.At, lt.Diff(got, want))
				}
			}
			// What it keeps is what the horizon needs, not the year.
			trimmed.trim()
			h, _ := trimmed.horizon()
			if n, limit := trimmed.points.len(), int(keep/time.Hour)+blockSize+1; n > limit || full.points.len() != full.points.seq {
				t.Errorf("the trimmed ledger keeps %d points, want at most %d (the full one keeps %d of %d)", n, limit, full.points.len(), full.points.seq)
			}
			if got, want := len(trimmed.recharges), len(full.recharges.span(h, hist[len(hist)-1].At.Add(time.Hour))); got != want {
				t.Errorf("the trimmed ledger keeps %d recharges, want the %d after %s (of %d)", got, want, h, len(full.recharges))
			}
			after := func(n int, t time.Time) int {
				if t.After(h) {
					return n + 1
				}
				return n
			}
			var costs, charges, grants int
			for _, e := range full.costs.entries {
				costs = after(costs, e.Bucket.End)
			}
			for _, at := range full.charges {
				charges = after(charges, at)
			}
			for _, g := range full.grants {
				grants = after(grants, g.lastAt)
			}
			if got := len(trimmed.costs.entries); got != costs {
				t.Errorf("the trimmed ledger keeps %d cost windows, want %d (of %d)", got, costs, len(full.costs.entries))
			}
			if got := len(trimmed.charges); got != charges {
				t.Errorf("the trimmed ledger keeps %d charge ids, want %d (of %d)", got, charges, len(full.charges))
			}
			if got := len(trimmed.grants); got != grants {
				t.Errorf("the trimmed ledger keeps %d grants, want %d (of %d)", got, grants, len(full.grants))
			}
		})
	}
}

// Points packed into blocks read back as they were appended, with the
// consumption summed to each.
func TestPointLogReadsBack(t *testing.T) {
	var p pointLog
	var want []Point
	at := lt.T0
	for i := range 3*blockSize + 5 {
		at = at.Add(time.Duration(15+i%3) * time.Minute)
		pt := Point{At: at, Effective: dec(fmt.Sprintf("%d.%02d", 100-i/4, i%100)), EffectiveKnown: i%7 != 0,
			EffectiveBasis: bases[i%len(bases)], Shown: dec(fmt.Sprintf("%d", 1000+i)), ShownKnown: i%2 == 0,
			FreeCredit: dec("3.5"), FreeCreditKnown: true, Source: fmt.Sprintf("src%d", i/10), AsOf: at}
		switch i % 5 {
		case 1:
			pt.Consumed, pt.ConsumedKnown = dec("0.25"), true
		case 2:
			pt.Consumed, pt.ConsumedKnown = dec("1234567890123456789.5"), true // beyond an int64
		case 3:
			pt.Consumed, pt.ConsumedKnown = dec("0.125"), true
			pt.AsOf = at.Add(-time.Minute)
		}
		p.add(pt)
		want = append(want, pt)
	}
	cum := dec("0")
	for i, w := range want {
		if i > 0 && w.ConsumedKnown {
			cum = cum.Add(w.Consumed)
		}
		got := p.point(i)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("point %d: got %v, want %v", i, got, w)
		}
		if c, _ := p.cum(i); !c.Equal(cum) {
			t.Fatalf("point %d: consumption summed %s, want %s", i, c, cum)
		}
		if got := p.at(i); !got.Equal(w.At) {
			t.Fatalf("point %d: at %s, want %s", i, got, w.At)
		}
		if n := p.count(w.At, true); n != i+1 {
			t.Fatalf("points at or before %s: %d, want %d", w.At, n, i+1)
		}
		if n := p.count(w.At, false); n != i {
			t.Fatalf("points before %s: %d, want %d", w.At, n, i)
		}
	}
	// Dropping keeps the block with the newest point at or before h.
	h := want[2*blockSize+3].At
	p.dropBefore(h)
	if p.len() != blockSize+5 || !p.at(0).Equal(want[2*blockSize].At) {
		t.Errorf("after dropping: %d points from %s, want %d from %s", p.len(), p.at(0), blockSize+5, want[2*blockSize].At)
	}
	c0, _ := p.cum(0)
	c1, _ := p.cum(p.len() - 1)
	if !c0.IsZero() || !c1.Equal(cum.Sub(sumFrom(want, 2*blockSize))) {
		t.Errorf("after dropping: sums %s to %s, want 0 to %s", c0, c1, cum.Sub(sumFrom(want, 2*blockSize)))
	}
}

// Points read back with every decimal exact, exponent included, however
// they were packed: drawn down by their consumption (in an int64 and past
// it), with trailing zeros (a quotient's exponent), with the exponent
// changing, and beyond an int64.
func TestPointLogKeepsExactDecimals(t *testing.T) {
	exact := func(d decimal.Decimal) string { return d.Coefficient().String() + "e" + fmt.Sprint(d.Exponent()) }
	text := func(pt Point) string {
		return fmt.Sprintln(pt.At, exact(pt.Effective), pt.EffectiveKnown, exact(pt.Shown), exact(pt.ExpiredRemaining),
			exact(pt.FreeCredit), exact(pt.Consumed), pt.ConsumedKnown, pt.EffectiveBasis, pt.Source, pt.AsOf)
	}
	var p pointLog
	var want []Point
	at := lt.T0
	eff, free := dec("117.7900000000000000"), dec("40")
	for i := range 3*blockSize + 7 {
		at = at.Add(15 * time.Minute)
		cons := decimal.New(int64(5+i*7%40), -2)
		switch i % 9 {
		case 1:
			cons = cons.Mul(dec("1.0000000000000000")) // exponent -18, trailing zeros
		case 2:
			cons = dec("12345678901234567890.25") // beyond an int64
		case 3:
			cons = dec("0.2500000000000000000000") // beyond an int64, trailing zeros
		case 4:
			cons = dec("300000")
		}
		pt := Point{At: at, EffectiveKnown: true, EffectiveBasis: basisGrants, ShownKnown: i%4 != 0,
			FreeCreditKnown: true, Source: lt.Source, AsOf: at, ConsumedKnown: i%11 != 5}
		if pt.ConsumedKnown {
			pt.Consumed = cons
		}
		switch {
		case i%13 == 6:
			eff = eff.Add(dec("50.0")) // a recharge: not drawn
		case pt.ConsumedKnown:
			eff = eff.Sub(cons)
		}
		if i%17 == 8 {
			eff = decimal.New(eff.Round(1).CoefficientInt64(), -1) // the exponent changes
		}
		if i%3 == 0 && pt.ConsumedKnown {
			free = free.Sub(cons)
		}
		pt.Effective, pt.FreeCredit = eff, free
		if pt.ShownKnown {
			pt.Shown = eff
		}
		if i%29 == 3 {
			pt.ExpiredRemaining = dec("1.50")
		}
		p.add(pt)
		want = append(want, pt)
	}
	for i, w := range want {
		if got, want := text(p.point(i)), text(w); got != want {
			t.Fatalf("point %d: got %s, want %s", i, got, want)
		}
	}
}

// A poll that changes the balances by what it consumed packs in a few
// bytes: every generated shape's points take at most 6 bytes each.
func TestPointsPackSmall(t *testing.T) {
	for _, shape := range lt.Shapes {
		a, obs := lt.Observations(shape, 15*time.Minute, 8*96)
		l := New(a, DefaultOptions())
		lt.Fill(t, l, obs...)
		size := 0
		for _, b := range l.points.blocks {
			size += len(b.times) + len(b.cons) + len(b.rest)
		}
		if n := l.points.len(); size > 6*n {
			t.Errorf("%s: %d points packed in %d bytes, want at most %d", shape, n, size, 6*n)
		}
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func sumFrom(pts []Point, i int) (s decimal.Decimal) {
	s = dec("0")
	for _, p := range pts[1 : i+1] {
		if p.ConsumedKnown {
			s = s.Add(p.Consumed)
		}
	}
	return s
}

// A ledger that keeps its points and cost windows only as far as
// Options.KeepPoints answers every question about them within that span,
// and every question about recharges and charges within Keep, as one
// that keeps all of it to Keep, and keeps no more points and cost windows
// than that span.
func TestPointsKeptToTheirOwnHorizon(t *testing.T) {
	const span = 8 * 24 * time.Hour
	wholeOpts, thinOpts := DefaultOptions(), DefaultOptions()
	wholeOpts.Keep, thinOpts.Keep, thinOpts.KeepPoints = keep, keep, span
	for _, shape := range lt.Shapes {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			a, hist := lt.History(shape, time.Hour, 24*80)
			whole, thin := New(a, wholeOpts), New(a, thinOpts)
			view := func(l *Ledger, now time.Time) string {
				var b strings.Builder
				p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
				for _, back := range []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, span} {
					pt, ok := l.Latest(now.Add(-back))
					p("at -%s %v %s %s/%v %s", back, ok, pt.At, pt.Effective, pt.EffectiveKnown, pt.Consumed)
					spent, covered := l.Consumption(now.Add(-back), now)
					p("consumption -%s %s over %s, covers %v", back, spent, covered, l.Covers(now.Add(-back), now))
					p("runway %s %s", back, lt.RunwayText(l.Runway(now, back)))
				}
				p("state %s", lt.StateText(l.State(now, 7*24*time.Hour)))
				p("points in the span %d", len(l.Points(now.Add(-span), now)))
				for _, r := range l.Recharges(now.Add(-keep), now) {
					p("recharge %s %s credit=%s trigger=%s/%v before=%s/%v free=%s/%v", r.At, r.Charge.ID, r.Credit, r.Trigger, r.TriggerGuessed,
						r.BalanceBefore, r.BeforeKnown, r.FreeCreditBefore, r.FreeBeforeKnown)
				}
				for _, c := range l.Costs(now.Add(-span), now) {
					p("cost %s-%s %s settled=%v", c.Bucket.Start, c.Bucket.End, c.Bucket.Amount.Exact(), c.Bucket.Settled)
				}
				p("settled costs until %s", l.SettledCostsUntil())
				return b.String()
			}
			for i, p := range hist {
				replay(t, whole, p)
				replay(t, thin, p)
				thin.trim()
				whole.trim()
				if i%5 != 0 && i != len(hist)-1 {
					continue
				}
				if got, want := view(thin, p.At), view(whole, p.At); got != want {
					t.Fatalf("poll %d at %s: the ledger with fewer points differs:\n%s", i, p.At, lt.Diff(got, want))
				}
			}
			if n, limit := thin.points.len(), int(span/time.Hour)+blockSize+1; n > limit {
				t.Errorf("it keeps %d points, want at most %d", n, limit)
			}
			if n, limit := len(thin.costs.entries), int(span/(24*time.Hour))+2; n > limit {
				t.Errorf("it keeps %d cost windows, want at most %d", n, limit)
			}
			if got, want := len(thin.recharges), len(whole.recharges); got != want {
				t.Errorf("it keeps %d recharges, want %d as the ledger keeping its points", got, want)
			}
		})
	}
}
