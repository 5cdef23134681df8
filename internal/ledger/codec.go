package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/shopspring/decimal"
)

// The binary primitives of the point log and the checkpoint: varints,
// strings, exact times and exact decimals.

// wbuf is a buffer being written.
type wbuf []byte

func (w *wbuf) uvarint(v uint64) { *w = binary.AppendUvarint(*w, v) }
func (w *wbuf) varint(v int64)   { *w = binary.AppendVarint(*w, v) }
func (w *wbuf) byte(c byte)      { *w = append(*w, c) }

func (w *wbuf) bool(v bool) {
	if v {
		w.byte(1)
		return
	}
	w.byte(0)
}

func (w *wbuf) str(s string) {
	w.uvarint(uint64(len(s)))
	*w = append(*w, s...)
}

func (w *wbuf) bytes(b []byte) {
	w.uvarint(uint64(len(b)))
	*w = append(*w, b...)
}

// time writes t exactly (to the nanosecond; its location is not kept: times
// read back are UTC).
func (w *wbuf) time(t time.Time) {
	if t.IsZero() {
		w.byte(0)
		return
	}
	w.byte(1)
	w.varint(t.Unix())
	w.uvarint(uint64(t.Nanosecond()))
}

func (w *wbuf) dur(d time.Duration) { w.varint(int64(d)) }

// dec writes d exactly: its exponent and its coefficient.
func (w *wbuf) dec(d decimal.Decimal) {
	e := int64(d.Exponent())
	if d.NumDigits() <= 18 {
		w.varint(e << 1)
		w.varint(d.CoefficientInt64())
		return
	}
	w.varint(e<<1 | 1)
	c := d.Coefficient()
	w.bool(c.Sign() < 0)
	w.bytes(c.Abs(c).Bytes())
}

// maxText bounds a string or byte slice read back: a corrupt length must
// not allocate gigabytes.
const maxText = 1 << 24

// rbuf reads what a wbuf wrote. The first error sticks: every later read
// returns zero values, and err says what went wrong first.
type rbuf struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("truncated")

func (r *rbuf) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *rbuf) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *rbuf) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *rbuf) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("%v", errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *rbuf) bool() bool {
	switch c := r.byte(); c {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("bad boolean %d", c)
		return false
	}
}

// count reads a number of things, each at least one byte long: more than
// the bytes left is corrupt.
func (r *rbuf) count(what string) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)-r.off) {
		r.fail("%d %s, more than the %d bytes left", n, what, len(r.b)-r.off)
		return 0
	}
	return int(n)
}

func (r *rbuf) raw() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > maxText || n > uint64(len(r.b)-r.off) {
		r.fail("length %d beyond the %d bytes left", n, len(r.b)-r.off)
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *rbuf) str() string { return string(r.raw()) }

func (r *rbuf) bytes() []byte { return append([]byte(nil), r.raw()...) }

func (r *rbuf) time() time.Time {
	switch c := r.byte(); c {
	case 0:
		return time.Time{}
	case 1:
		sec, nsec := r.varint(), r.uvarint()
		if nsec >= 1e9 {
			r.fail("bad nanoseconds %d", nsec)
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	default:
		r.fail("bad time tag %d", c)
		return time.Time{}
	}
}

func (r *rbuf) dur() time.Duration { return time.Duration(r.varint()) }

// maxExp bounds a decimal's exponent read back.
const maxExp = 1 << 16

func (r *rbuf) dec() decimal.Decimal {
	h := r.varint()
	e := h >> 1
	if r.err == nil && (e > maxExp || e < -maxExp) {
		r.fail("exponent %d out of range", e)
	}
	if r.err != nil {
		return decimal.Decimal{}
	}
	if h&1 == 0 {
		return newDec(r.varint(), int32(e))
	}
	neg := r.bool()
	b := r.raw()
	if r.err != nil {
		return decimal.Decimal{}
	}
	c := new(big.Int).SetBytes(b)
	if neg {
		c.Neg(c)
	}
	return decimal.NewFromBigInt(c, int32(e))
}

// newDec is decimal.New, with a zero of exponent 0 as the zero value.
func newDec(m int64, e int32) decimal.Decimal {
	if m == 0 && e == 0 {
		return decimal.Decimal{}
	}
	return decimal.New(m, e)
}

// done fails when bytes are left over.
func (r *rbuf) done() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d bytes left over", len(r.b)-r.off)
	}
	return r.err
}
