package ledger

import (
	"encoding/binary"
	"math"
	"math/big"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// The point log keeps the ledger's positions packed: a rule reads a week
// of them to measure a burn, and the ledger a month to place a receipt that
// comes late, but Point is some 400 bytes in memory. Points are written to
// blocks of blockSize, each two to four bytes a point (times as runs of
// an unchanged poll interval, consumption as its change, the balances as
// how they follow from the point before: unchanged, drawn down by the
// consumption, or changed by so much, with runs of points that follow
// alike counted in a byte), read back
// when asked for, and dropped a block at a time when older than the
// ledger's horizon. The newest two points are kept unpacked as well:
// nearly every read is of them.

// blockSize is how many points one block packs: each block is two
// allocations and a header of some 180 bytes, kept for as long as its
// points, so a block holds more than a day of 15-minute polls.
const blockSize = 128

// maxRun is the longest run of unchanged intervals one byte counts (see
// pack): a longer run is counted in more.
const maxRun = 64

const _ uint = 127 - 2*(maxRun-1)

// The EffectiveBasis values, by their index in a packed point.
const (
	basisGrants = "unexpired grants' remaining credit"
	basisSplit  = "granted plus paid balance"
	basisShown  = "the provider's shown balance (no grant detail to check it against)"
)

var bases = [...]string{"", basisGrants, basisSplit, basisShown, derivedBasis}

func basisIndex(s string) (byte, bool) {
	for i, b := range bases {
		if b == s {
			return byte(i), true
		}
	}
	return 0, false
}

// num is a decimal as its coefficient and exponent, when the coefficient
// is small enough to take differences in an int64; big otherwise.
type num struct {
	m     int64
	e     int32
	isBig bool
	d     decimal.Decimal // when isBig
}

// smallDigits is the most digits a coefficient held in num.m has: the
// difference of two, shifted by four bits, still fits a uint64.
const smallDigits = 17

func numOf(d decimal.Decimal) num {
	if d.NumDigits() <= smallDigits {
		return num{m: d.CoefficientInt64(), e: d.Exponent()}
	}
	return num{isBig: true, e: d.Exponent(), d: d}
}

func (n num) decimal() decimal.Decimal {
	if n.isBig {
		return n.d
	}
	return newDec(n.m, n.e)
}

// same reports whether n and o are the same decimal, exponent included.
func (n num) same(o num) bool {
	if n.isBig || o.isBig {
		return n.isBig && o.isBig && n.e == o.e && n.d.Cmp(o.d) == 0
	}
	return n.m == o.m && n.e == o.e
}

// trailingZeros splits c into m·10^z with m a small coefficient, when it
// is one.
func trailingZeros(c *big.Int) (m int64, z int, ok bool) {
	var q, r big.Int
	ten := big.NewInt(10)
	q.Set(c)
	for ; q.Sign() != 0; z++ {
		if v := q.Int64(); q.IsInt64() && v < 1e17 && v > -1e17 {
			return v, z, true
		}
		q.QuoRem(&q, ten, &r)
		if r.Sign() != 0 {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// putNum writes n as its change from prev. A header whose low bit is
// clear is the whole of the common case: a small coefficient with prev's
// exponent and fewer than three trailing zeros, written as its change
// (zigzagged, shifted by one), so that a change of up to 31 either way
// takes one byte. Otherwise the header's next bits say whether the
// coefficient is big (written whole), whether the exponent changed (its
// change follows) and whether the coefficient is written scaled (without
// its trailing zeros, their count following); the rest is the
// coefficient's change, or the scaled coefficient. The header is written
// plus add, so that a caller can keep small values for itself.
func (w *wbuf) putNum(prev, n num, add uint64) {
	var expChanged uint64
	if n.e != prev.e {
		expChanged = 2
	}
	if n.isBig {
		// A coefficient that is a small one and trailing zeros (a
		// quotient's exponent, as a derived balance has) is written as
		// the two.
		c := n.d.Coefficient()
		m, z, small := trailingZeros(c)
		var scaled uint64
		if small {
			scaled = 4
		}
		w.uvarint((1|expChanged|scaled)<<1 | 1 + add)
		if expChanged != 0 {
			w.varint(int64(n.e) - int64(prev.e))
		}
		if small {
			w.uvarint(uint64(z))
			w.varint(m)
			return
		}
		w.bool(c.Sign() < 0)
		w.bytes(c.Abs(c).Bytes())
		return
	}
	// A coefficient with three or more trailing zeros is written as the
	// rest and their count; any other as its change from prev's.
	m, z := n.m, 0
	for m != 0 && m%10 == 0 {
		m, z = m/10, z+1
	}
	base := prev.m
	if prev.isBig {
		base = 0
	}
	switch {
	case z >= 3:
		w.uvarint((zigzag(m)<<3|4|expChanged)<<1 | 1 + add)
	case expChanged == 0:
		w.uvarint(zigzag(n.m-base)<<1 + add)
		return
	default:
		w.uvarint((zigzag(n.m-base)<<3|expChanged)<<1 | 1 + add)
	}
	if expChanged != 0 {
		w.varint(int64(n.e) - int64(prev.e))
	}
	if z >= 3 {
		w.uvarint(uint64(z))
	}
}

// getNum reads what putNum wrote after prev; header is the header, read
// by the caller.
func (r *rbuf) getNum(prev num, header uint64) num {
	base := prev.m
	if prev.isBig {
		base = 0
	}
	if header&1 == 0 {
		m := base + unzigzag(header>>1)
		if (m > 0 && m >= 1e17) || (m < 0 && m <= -1e17) {
			r.fail("coefficient out of range")
			return num{}
		}
		return num{m: m, e: prev.e}
	}
	header >>= 1
	e := prev.e
	if header&2 != 0 {
		d := r.varint()
		ne := int64(prev.e) + d
		if r.err == nil && (ne > maxExp || ne < -maxExp) {
			r.fail("exponent %d out of range", ne)
			return num{}
		}
		e = int32(ne)
	}
	if header&1 != 0 && header&4 != 0 {
		z, m := r.uvarint(), r.varint()
		if r.err == nil && z > maxExp {
			r.fail("%d trailing zeros", z)
		}
		if r.err != nil {
			return num{}
		}
		c := big.NewInt(m)
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(z)), nil))
		return numOf(decimal.NewFromBigInt(c, e))
	}
	if header&1 != 0 {
		neg := r.bool()
		b := r.raw()
		if r.err != nil {
			return num{}
		}
		c := new(big.Int).SetBytes(b)
		if neg {
			c.Neg(c)
		}
		return numOf(decimal.NewFromBigInt(c, e))
	}
	var m int64
	if header&4 != 0 {
		z := r.uvarint()
		ok := z <= smallDigits
		if ok {
			m, ok = scale(unzigzag(header>>3), int32(z))
		}
		if !ok {
			r.fail("coefficient out of range")
			return num{}
		}
	} else {
		m = base + unzigzag(header>>3)
	}
	if (m > 0 && m >= 1e17) || (m < 0 && m <= -1e17) {
		r.fail("coefficient out of range")
		return num{}
	}
	return num{m: m, e: e}
}

// Decimal fields of a packed point, by their bit in its change mask.
const (
	fEffective = iota
	fShown
	fExpired
	fFree
	nFields
)

// The header byte of a packed point's rest: for Effective, Shown and
// FreeCredit two bits each (at fieldShift) say how the value follows from
// the point before, one bit says ExpiredRemaining is written, and one that
// the flags are. Most polls change a balance by exactly what they consumed,
// so most points are this one byte.
const (
	modeSame  = 0 // the value of the point before
	modeDrawn = 1 // the value of the point before less this point's consumption
	modeNew   = 2 // written, as its change from the value before
	modeMask  = 3

	hdrExpired = 0x40 // ExpiredRemaining changed and is written
	hdrFlags   = 0x80 // the flags changed and are written

	// A byte whose Effective mode is modeMask, never a header's, counts
	// a run of points each bare with the header of the bare point before
	// it: the run's length less one, at hdrRunShift. A bare point writes
	// nothing past its header: most polls are one, with the same header.
	hdrRunShift = 2
)

// fieldShift is where a field's mode sits in the header; fExpired has
// hdrExpired instead.
var fieldShift = [nFields]uint{fEffective: 0, fShown: 2, fExpired: 0, fFree: 4}

// drawn returns prev less consumption c, exactly as decimal subtraction
// gives it (the smaller exponent), in an int64 while it fits.
func drawn(prev, c num) num { return prev.minus(c) }

// minus returns prev less c, exactly as decimal subtraction gives it (the
// smaller exponent), in an int64 while it fits.
func (prev num) minus(c num) num {
	if !prev.isBig && !c.isBig {
		pm, cm, e := prev.m, c.m, prev.e
		ok := true
		switch {
		case c.e > e:
			cm, ok = scale(cm, c.e-e)
		case c.e < e:
			pm, ok = scale(pm, e-c.e)
			e = c.e
		}
		if d := pm - cm; ok && (cm >= 0) == (d <= pm) && d < 1e17 && d > -1e17 {
			return num{m: d, e: e}
		}
	}
	return numOf(prev.decimal().Sub(c.decimal()))
}

// Flag bits of a packed point.
const (
	flagBasis        = 0x07 // the basis's index
	flagEffKnown     = 0x08
	flagShownKnown   = 0x10
	flagFreeKnown    = 0x20
	flagAsOfIsAt     = 0x40
	flagSourceRepeat = 0x80
)

// pstate is what packing or unpacking a block knows after one of its
// points: the values the next point is written as a change from.
type pstate struct {
	at    time.Time
	delta time.Duration // since the point before
	// run counts the points of the run of unchanged intervals the newest
	// one ends (0 when its interval changed); left, when reading, how many
	// more the run holds.
	run, left int
	// header is the header of the newest point, bare whether it wrote
	// nothing past it; hrun counts the points of the run of repeated
	// headers it ends (0 when its header was written), hleft, when
	// reading, how many more the run holds.
	header      byte
	bare        bool
	hrun, hleft int
	cons        num  // the last known consumption
	known       bool // this point's consumption is known
	fields      [nFields]num
	flags       byte
	asOf        time.Time
	source      string
}

// block is blockSize points (fewer while it is the newest), packed in
// three columns: times, consumption and the rest.
type block struct {
	seq0        int // the sequence number of its first point
	n           int
	first, last time.Time
	// cum0 and cov0 are the consumption summed, and the time it covers,
	// up to its first point (from the first point kept); cum0 in an int64
	// while it fits, so that a block holds no decimal of its own.
	cum0              num
	cov0              time.Duration
	times, cons, rest []byte
}

// pointLog holds the ledger's points from the oldest kept.
type pointLog struct {
	blocks []*block // oldest first
	n      int      // points kept
	seq    int      // points ever added
	// last and prev are the newest two points unpacked, with the
	// consumption summed up to them and the time it covers.
	last, prev       Point
	lastCum, prevCum decimal.Decimal
	lastCov, prevCov time.Duration
	w                pstate // after the newest point, for packing the next
	// walkers are cursors left where the last lookups of cumBefore
	// stopped, and next the one to reuse: the windows rules measure
	// slide forward a poll at a time, so the next lookup of each goes on
	// from where it stopped rather than from the start of its block.
	walkers [4]cursor
	next    int
}

func (p *pointLog) len() int { return p.n }

// add appends pt. Consumption is summed over the points with their
// consumption known; the first point's does not count.
func (p *pointLog) add(pt Point) {
	cum, cov := decimal.Zero, time.Duration(0)
	if p.n > 0 {
		cum, cov = p.lastCum, p.lastCov
		if pt.ConsumedKnown {
			cum = cum.Add(pt.Consumed)
			cov += pt.At.Sub(p.last.At)
		}
	}
	var b *block
	if k := len(p.blocks); k > 0 && p.blocks[k-1].n < blockSize {
		b = p.blocks[k-1]
	} else {
		b = &block{seq0: p.seq, first: pt.At, cum0: numOf(cum), cov0: cov}
		p.blocks = append(p.blocks, b)
		p.w = pstate{}
	}
	p.w.pack(b, pt)
	b.n++
	b.last = pt.At
	if b.n == blockSize {
		// Sealed: give back what appending reserved.
		b.seal()
	}
	p.prev, p.prevCum, p.prevCov = p.last, p.lastCum, p.lastCov
	p.last, p.lastCum, p.lastCov = pt, cum, cov
	p.n++
	p.seq++
}

// seal moves a full block's columns into one allocation of their size,
// giving back what appending reserved.
func (b *block) seal() {
	buf := make([]byte, 0, len(b.times)+len(b.cons)+len(b.rest))
	buf = append(buf, b.times...)
	t := len(buf)
	buf = append(buf, b.cons...)
	c := len(buf)
	buf = append(buf, b.rest...)
	b.times, b.cons, b.rest = buf[:t:t], buf[t:c:c], buf[c:]
}

// pack appends pt to b's columns as the point after s.
func (s *pstate) pack(b *block, pt Point) {
	times, cons, rest := (*wbuf)(&b.times), (*wbuf)(&b.cons), (*wbuf)(&b.rest)
	if b.n > 0 {
		d := pt.At.Sub(s.at)
		// Runs of polls at an unchanged interval take a byte each run
		// (an even byte: the run's length less one, doubled); a change of
		// interval is an odd varint (the change, zigzagged and doubled,
		// plus one). A run is at most maxRun long, so that its byte never
		// outgrows one byte: a longer one goes on as the next run.
		switch {
		case d != s.delta:
			times.uvarint(zigzag(int64(d-s.delta))<<1 | 1)
			s.run = 0
		case s.run > 0 && s.run < maxRun:
			s.run++
			(*times)[len(*times)-1] = byte(s.run-1) << 1
		default:
			times.byte(0)
			s.run = 1
		}
		s.delta = d
	}
	s.at = pt.At
	if s.known = pt.ConsumedKnown; s.known {
		c := numOf(pt.Consumed)
		cons.putNum(s.cons, c, 1) // 0 is "unknown"
		s.cons = c
	} else {
		cons.uvarint(0)
	}
	idx, ok := basisIndex(pt.EffectiveBasis)
	if !ok {
		panic("ledger: unknown effective basis " + pt.EffectiveBasis)
	}
	flags := idx
	if pt.EffectiveKnown {
		flags |= flagEffKnown
	}
	if pt.ShownKnown {
		flags |= flagShownKnown
	}
	if pt.FreeCreditKnown {
		flags |= flagFreeKnown
	}
	if pt.AsOf.Equal(pt.At) {
		flags |= flagAsOfIsAt
	}
	if b.n > 0 && pt.Source == s.source {
		flags |= flagSourceRepeat
	}
	vals := [nFields]num{numOf(pt.Effective), numOf(pt.Shown), numOf(pt.ExpiredRemaining), numOf(pt.FreeCredit)}
	var header byte
	for i, v := range vals {
		if v.same(s.fields[i]) {
			continue
		}
		if i == fExpired {
			header |= hdrExpired
			continue
		}
		mode := byte(modeNew)
		if s.known && v.same(drawn(s.fields[i], s.cons)) {
			mode = modeDrawn
		}
		header |= mode << fieldShift[i]
	}
	if flags != s.flags {
		header |= hdrFlags
	}
	bare := isBare(header, flags)
	switch {
	case !bare || !s.bare || header != s.header:
		rest.byte(header)
		s.hrun = 0
	case s.hrun > 0 && s.hrun < maxRun:
		s.hrun++
		(*rest)[len(*rest)-1] = byte(s.hrun-1)<<hdrRunShift | modeMask
	default:
		rest.byte(modeMask)
		s.hrun = 1
	}
	s.header, s.bare = header, bare
	if header&hdrFlags != 0 {
		rest.byte(flags)
	}
	if flags&flagAsOfIsAt == 0 {
		rest.time(pt.AsOf)
	}
	if flags&flagSourceRepeat == 0 {
		rest.str(pt.Source)
	}
	for i, v := range vals {
		if written(header, i) {
			rest.putNum(s.fields[i], v, 0)
		}
	}
	s.fields, s.flags, s.asOf, s.source = vals, flags, pt.AsOf, pt.Source
}

// written reports whether field i of a point with header is written out.
// isBare says whether a point with header and flags writes nothing past
// its header (the flags unchanged, no field written, its as-of its time and
// its source the one before): only such points make runs of repeated
// headers, for pack and next alike.
func isBare(header, flags byte) bool {
	if flags&(flagAsOfIsAt|flagSourceRepeat) != flagAsOfIsAt|flagSourceRepeat || header&hdrFlags != 0 {
		return false
	}
	for i := range nFields {
		if written(header, i) {
			return false
		}
	}
	return true
}

func written(header byte, i int) bool {
	if i == fExpired {
		return header&hdrExpired != 0
	}
	return header>>fieldShift[i]&modeMask == modeNew
}

// cursor reads a block's points in order.
type cursor struct {
	b          *block
	j          int // the point read last; -1 before the first
	s          pstate
	times      rbuf
	cons, rest rbuf
	full       bool // read the rest column too
	sum        acc  // consumption summed after the first point
	cov        time.Duration
}

func (b *block) cursor(full bool) *cursor {
	return &cursor{b: b, j: -1, times: rbuf{b: b.times}, cons: rbuf{b: b.cons}, rest: rbuf{b: b.rest}, full: full}
}

// next reads the next point; false at the end or on damage (err).
func (c *cursor) next() bool {
	if c.j+1 >= c.b.n || c.err() != nil {
		return false
	}
	c.j++
	s := &c.s
	if c.j == 0 {
		s.at = c.b.first
	} else {
		switch {
		case s.left > 0:
			s.left--
			s.run++
		default:
			u := c.times.uvarint()
			if u&1 != 0 {
				s.delta += time.Duration(unzigzag(u >> 1))
				s.run = 0
				break
			}
			s.run, s.left = 1, int(u>>1)
		}
		s.at = s.at.Add(s.delta)
	}
	h := c.cons.uvarint()
	s.known = h != 0
	if s.known {
		s.cons = c.cons.getNum(s.cons, h-1)
		if c.j > 0 {
			c.sum.add(s.cons)
			c.cov += s.delta
		}
	}
	if c.full {
		r := &c.rest
		var header byte
		switch {
		case s.hleft > 0:
			s.hleft--
			s.hrun++
			header = s.header
		default:
			header = r.byte()
			s.hrun = 0
			if header&modeMask != modeMask {
				break
			}
			// A run of repeated headers.
			if !s.bare {
				r.fail("a header repeated after a point that is not bare")
			}
			s.hrun, s.hleft = 1, int(header>>hdrRunShift)
			header = s.header
		}
		flags := s.flags
		if header&hdrFlags != 0 {
			flags = r.byte()
		}
		if int(flags&flagBasis) >= len(bases) {
			r.fail("bad basis %d", flags&flagBasis)
		}
		if flags&flagSourceRepeat != 0 && c.j == 0 {
			r.fail("the first point repeats a source")
		}
		s.asOf = s.at
		if flags&flagAsOfIsAt == 0 {
			s.asOf = r.time()
		}
		if flags&flagSourceRepeat == 0 {
			s.source = r.str()
		}
		for i := range nFields {
			switch {
			case written(header, i):
				s.fields[i] = r.getNum(s.fields[i], r.uvarint())
			case i != fExpired && header>>fieldShift[i]&modeMask == modeDrawn:
				if !s.known {
					r.fail("a point drawn with no consumption")
				}
				s.fields[i] = drawn(s.fields[i], s.cons)
			case i != fExpired && header>>fieldShift[i]&modeMask != modeSame:
				r.fail("bad header %#x", header)
			}
		}
		s.flags, s.header, s.bare = flags, header, isBare(header, flags)
	}
	return c.err() == nil
}

// nextAt is the time of the point next reads, without reading it; false
// at the end of the block or where next would fail on the times.
func (c *cursor) nextAt() (time.Time, bool) {
	switch {
	case c.j+1 >= c.b.n || c.err() != nil:
		return time.Time{}, false
	case c.j < 0:
		return c.b.first, true
	case c.s.left > 0:
		return c.s.at.Add(c.s.delta), true
	}
	u, n := binary.Uvarint(c.times.b[c.times.off:])
	if n <= 0 {
		return time.Time{}, false
	}
	d := c.s.delta
	if u&1 != 0 {
		d += time.Duration(unzigzag(u >> 1))
	}
	return c.s.at.Add(d), true
}

func (c *cursor) err() error {
	for _, r := range []*rbuf{&c.times, &c.cons, &c.rest} {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// point is the point read last (read with full).
func (c *cursor) point() Point {
	s := &c.s
	basis := ""
	if i := int(s.flags & flagBasis); i < len(bases) {
		basis = bases[i]
	}
	pt := Point{
		At:               s.at,
		Effective:        s.fields[fEffective].decimal(),
		EffectiveKnown:   s.flags&flagEffKnown != 0,
		EffectiveBasis:   basis,
		Shown:            s.fields[fShown].decimal(),
		ShownKnown:       s.flags&flagShownKnown != 0,
		ExpiredRemaining: s.fields[fExpired].decimal(),
		FreeCredit:       s.fields[fFree].decimal(),
		FreeCreditKnown:  s.flags&flagFreeKnown != 0,
		ConsumedKnown:    s.known,
		Source:           s.source,
		AsOf:             s.asOf,
	}
	if s.known {
		pt.Consumed = s.cons.decimal()
	}
	return pt
}

// cum is the consumption summed up to the point read last, and the time
// it covers.
func (c *cursor) cum() (decimal.Decimal, time.Duration) {
	// cum0 plus the sum, as decimal's Add gives it, in an int64 while it
	// fits.
	a := acc{}
	a.add(c.b.cum0)
	a.add(c.sum.num())
	return a.value(), c.b.cov0 + c.cov
}

// acc sums nums, in an int64 while the sum fits, as a decimal after.
type acc struct {
	m    int64
	e    int32
	any  bool
	slow bool
	d    decimal.Decimal
}

func (a *acc) add(n num) {
	if !a.slow && !n.isBig {
		if !a.any {
			a.m, a.e, a.any = n.m, n.e, true
			return
		}
		m, e, am := n.m, n.e, a.m
		ok := true
		switch {
		case e > a.e:
			m, ok = scale(m, e-a.e)
			e = a.e
		case e < a.e:
			am, ok = scale(am, a.e-e)
		}
		if s := am + m; ok && (m >= 0) == (s >= am) {
			a.m, a.e = s, e
			return
		}
	}
	if !a.slow {
		a.slow, a.d = true, a.value()
	}
	a.d = a.d.Add(n.decimal())
}

// scale multiplies m by 10^k, reporting whether it fits.
func scale(m int64, k int32) (int64, bool) {
	for ; k > 0; k-- {
		if m > math.MaxInt64/10 || m < math.MinInt64/10 {
			return 0, false
		}
		m *= 10
	}
	return m, true
}

// num is the sum as a num.
func (a *acc) num() num {
	switch {
	case a.slow:
		return numOf(a.d)
	case !a.any:
		return num{}
	case a.m >= smallLimit || a.m <= -smallLimit:
		return numOf(decimal.New(a.m, a.e))
	}
	return num{m: a.m, e: a.e}
}

func (a *acc) value() decimal.Decimal {
	switch {
	case a.slow:
		return a.d
	case !a.any:
		return decimal.Zero
	}
	return decimal.New(a.m, a.e)
}

// blockOf returns the block holding the i-th point kept and its index
// there. Blocks are dropped whole and every block but the newest is full.
func (p *pointLog) blockOf(i int) (*block, int) {
	return p.blocks[i/blockSize], i % blockSize
}

// at returns the time of the i-th point.
func (p *pointLog) at(i int) time.Time {
	switch i {
	case p.n - 1:
		return p.last.At
	case p.n - 2:
		return p.prev.At
	case 0:
		return p.blocks[0].first
	}
	b, j := p.blockOf(i)
	c := b.cursor(false)
	for c.j < j && c.next() {
	}
	return c.s.at
}

// point returns the i-th point.
func (p *pointLog) point(i int) Point {
	switch i {
	case p.n - 1:
		return p.last
	case p.n - 2:
		return p.prev
	}
	b, j := p.blockOf(i)
	c := b.cursor(true)
	for c.j < j && c.next() {
	}
	return c.point()
}

// cum returns the consumption summed up to the i-th point and the time it
// covers.
func (p *pointLog) cum(i int) (decimal.Decimal, time.Duration) {
	switch i {
	case p.n - 1:
		return p.lastCum, p.lastCov
	case p.n - 2:
		return p.prevCum, p.prevCov
	}
	b, j := p.blockOf(i)
	c := b.cursor(false)
	for c.j < j && c.next() {
	}
	return c.cum()
}

// count returns how many points are before t (at or before t when
// orAt).
func (p *pointLog) count(t time.Time, orAt bool) int {
	before := func(u time.Time) bool { return u.Before(t) || (orAt && u.Equal(t)) }
	switch {
	case p.n == 0:
		return 0
	case before(p.last.At):
		return p.n
	case p.n >= 2 && before(p.prev.At):
		return p.n - 1
	}
	// The last block whose first point is before t.
	k := sort.Search(len(p.blocks), func(k int) bool { return !before(p.blocks[k].first) }) - 1
	if k < 0 {
		return 0
	}
	b := p.blocks[k]
	n := b.seq0 - p.blocks[0].seq0
	c := b.cursor(false)
	for c.next() && before(c.s.at) {
		n++
	}
	return n
}

// cumBefore returns the consumption summed up to the newest point at or
// before t (the first point kept when none is), and the time it covers:
// cum(count(t, true)-1), or cum(0), without reading again the points a
// lookup of an earlier time in the same block read.
func (p *pointLog) cumBefore(t time.Time) (decimal.Decimal, time.Duration) {
	switch {
	case p.n == 0:
		return decimal.Zero, 0
	case !p.last.At.After(t):
		return p.lastCum, p.lastCov
	case p.n >= 2 && !p.prev.At.After(t):
		return p.prevCum, p.prevCov
	}
	// The last block whose first point is at or before t.
	k := sort.Search(len(p.blocks), func(k int) bool { return p.blocks[k].first.After(t) }) - 1
	if k < 0 {
		return p.cum(0)
	}
	b := p.blocks[k]
	c := p.walker(b, t)
	for {
		if at, ok := c.nextAt(); !ok || at.After(t) || !c.next() {
			break
		}
	}
	return c.cum()
}

// walker returns the walker on b that stopped furthest along at or before
// t, or a new one at b's start. A walker goes on with b's columns as they
// are now, and the run of intervals it stopped in counted again: while b
// is the newest block, appending may move its columns, and a run's byte
// grows in place as the run goes on (pack).
func (p *pointLog) walker(b *block, t time.Time) *cursor {
	var best *cursor
	for i := range p.walkers {
		w := &p.walkers[i]
		if w.b == b && w.j >= 0 && !w.s.at.After(t) && (best == nil || w.j > best.j) {
			best = w
		}
	}
	if best == nil {
		best = &p.walkers[p.next]
		p.next = (p.next + 1) % len(p.walkers)
		*best = *b.cursor(false)
		return best
	}
	best.times.b, best.cons.b = b.times, b.cons
	if best.s.run > 0 && best.times.err == nil {
		best.s.left = int(b.times[best.times.off-1]>>1) + 1 - best.s.run
	}
	return best
}

// dropBefore drops the blocks older than the one holding the newest
// point at or before h: what the ledger reads from h on stays.
func (p *pointLog) dropBefore(h time.Time) {
	k := 0
	for k+1 < len(p.blocks) && !p.blocks[k+1].first.After(h) {
		k++
	}
	if k == 0 {
		return
	}
	for _, b := range p.blocks[:k] {
		p.n -= b.n
	}
	clear(p.blocks[:k])
	p.blocks = p.blocks[k:]
	// Rebase the sums on the oldest point kept.
	base, cov0 := p.blocks[0].cum0, p.blocks[0].cov0
	for _, b := range p.blocks {
		b.cum0, b.cov0 = b.cum0.minus(base), b.cov0-cov0
	}
	cum0 := base.decimal()
	p.lastCum, p.lastCov = p.lastCum.Sub(cum0), p.lastCov-cov0
	p.prevCum, p.prevCov = p.prevCum.Sub(cum0), p.prevCov-cov0
}
