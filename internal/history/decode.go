package history

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Decode reads and validates a history file. On any problem it returns a nil
// File and an error: a *SyntaxError for malformed JSON, otherwise an
// errors.Join of *billing.FieldError values, one per problem and one per
// line, each naming the path and the value (at most 20, then a line counting
// the rest).
func Decode(r io.Reader) (*File, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return newDecoder(data).file()
}

// readAll reads r to the end, sizing the buffer once when r knows its size
// (a file, or a bytes or strings reader): a year of history is tens of
// megabytes.
func readAll(r io.Reader) ([]byte, error) {
	size := 0
	switch v := r.(type) {
	case interface{ Len() int }:
		size = v.Len()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < 1<<40 {
			size = int(fi.Size())
		}
	}
	if size <= 0 {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	buf.Grow(size + bytes.MinRead) // ReadFrom wants MinRead spare to detect the end
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// DecodeObservation reads one observation object in the wire form of a
// history file's observations. account gives the currency of its amounts and
// its Account name. Error paths are relative to the object
// ("grants[0].amount").
func DecodeObservation(data []byte, account billing.Account) (billing.Observation, error) {
	return NewObservationDecoder(account).Decode(data)
}

// ObservationDecoder decodes observations one at a time, as
// DecodeObservation does, keeping its caches of ids, times and amounts
// across calls: the state store reads a month of observations that repeat
// them thousands of times.
type ObservationDecoder struct {
	d       *decoder
	account billing.Account
}

// NewObservationDecoder returns a decoder for account's observations.
func NewObservationDecoder(account billing.Account) *ObservationDecoder {
	return &ObservationDecoder{d: newDecoder(nil), account: account}
}

// Decode decodes one observation object.
func (od *ObservationDecoder) Decode(data []byte) (billing.Observation, error) {
	d := od.d
	d.s = scanner{data: data}
	d.path = d.path[:0]
	d.probs = problems{}
	d.cur = od.account.Currency
	// Check the syntax first so that a syntax error is reported alone.
	d.s.skip()
	d.s.end()
	if d.s.err != nil {
		return billing.Observation{}, d.s.err
	}
	d.s.seek(0)
	o := billing.Observation{Account: od.account.Name}
	if d.object("") {
		d.observation(&o)
	}
	if err := d.probs.err(); err != nil {
		return billing.Observation{}, err
	}
	return o, nil
}

// maxCache bounds each of the decoder's caches.
const maxCache = 1 << 12

// decoder walks one document with a scanner, building domain values and
// collecting every problem.
type decoder struct {
	s     scanner
	cur   billing.Currency // the account's currency, given to every amount
	path  []pathElem       // where the scanner is, for error messages
	probs problems

	// A year of hourly polls repeats the same ids, sources, times and
	// amounts thousands of times; these caches, keyed by the literal text,
	// parse each once.
	strs    map[string]string
	times   map[string]time.Time
	amounts map[string]decimal.Decimal

	// Scratch space reused across observations.
	grantBuf  []billing.Grant
	chargeBuf []billing.Charge
	costBuf   []billing.CostBucket
}

type pathElem struct {
	name  string // an object key, or "" for an array index
	index int
}

func newDecoder(data []byte) *decoder {
	return &decoder{
		s:       scanner{data: data},
		path:    make([]pathElem, 0, 8),
		strs:    make(map[string]string),
		times:   make(map[string]time.Time),
		amounts: make(map[string]decimal.Decimal),
	}
}

// Paths and problems.

func (d *decoder) push(name string) { d.path = append(d.path, pathElem{name: name}) }
func (d *decoder) pushIndex(i int)  { d.path = append(d.path, pathElem{index: i}) }
func (d *decoder) pop()             { d.path = d.path[:len(d.path)-1] }

// pathTo renders the current path followed by field, which may be empty.
func (d *decoder) pathTo(field string) string {
	var b strings.Builder
	for _, e := range d.path {
		if e.name == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	if field != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(field)
	}
	return b.String()
}

// errorf records a problem with field of the current object (or with the
// current value itself when field is empty).
func (d *decoder) errorf(field, format string, args ...any) {
	if d.probs.full() {
		d.probs.n++
		return
	}
	d.probs.add(d.pathTo(field), fmt.Sprintf(format, args...))
}

func fmtTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// literal renders a JSON literal (a number) for an error as it is written,
// or quoted and bounded (billing.Quote) when it is longer than a value
// quoted in an error may be.
func literal(b []byte) string {
	if len(b) > billing.MaxQuoted {
		return billing.Quote(b)
	}
	return string(b)
}

// Object members.

// fields is a set of an object's known keys, one bit each.
type fields uint32

// see marks key as seen and reports whether its value should be read; a
// repeated key is a problem and its value is skipped.
func (d *decoder) see(seen *fields, f fields, key string) bool {
	if *seen&f != 0 {
		d.errorf("", "duplicate field %q", key)
		d.s.skip()
		return false
	}
	*seen |= f
	return true
}

// require reports key as missing unless it was seen.
func (d *decoder) require(seen, f fields, key string) {
	if seen&f == 0 {
		d.errorf("", "missing required field %q", key)
	}
}

func (d *decoder) unknown(key []byte) {
	d.errorf("", "unknown field %s", billing.Quote(key))
	d.s.skip()
}

// Values. Each reader consumes the next value whatever it is; on a problem it
// records it at field and returns false.

// typeError records that field holds a k where want was expected, and skips
// the value.
func (d *decoder) typeError(field, want string, k kind) {
	if k != kindInvalid {
		d.errorf(field, "want %s, got %s", want, k)
	}
	d.s.skip()
}

// object enters the next value if it is an object.
func (d *decoder) object(field string) bool {
	if k := d.s.peek(); k != kindObject {
		d.typeError(field, "an object", k)
		return false
	}
	d.s.enter()
	return true
}

// array enters the next value if it is an array.
func (d *decoder) array(field string) bool {
	if k := d.s.peek(); k != kindArray {
		d.typeError(field, "an array", k)
		return false
	}
	d.s.enter()
	return true
}

// null consumes the next value if it is null, and reports whether it was.
func (d *decoder) null() bool {
	if d.s.peek() == kindNull {
		d.s.literal()
		return true
	}
	return false
}

func (d *decoder) text(field, want string) ([]byte, bool) {
	if k := d.s.peek(); k != kindString {
		d.typeError(field, want, k)
		return nil, false
	}
	return d.s.str(), true
}

// intern returns b as a string, sharing one copy of each repeated value.
func (d *decoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < maxCache {
		d.strs[s] = s
	}
	return s
}

func (d *decoder) str(field string) (string, bool) {
	b, ok := d.text(field, "a string")
	if !ok {
		return "", false
	}
	return d.intern(b), true
}

func (d *decoder) nonEmpty(field string) (string, bool) {
	v, ok := d.str(field)
	if ok && v == "" {
		d.errorf(field, "must not be empty")
		return "", false
	}
	return v, ok
}

func (d *decoder) boolean(field string) (bool, bool) {
	if k := d.s.peek(); k != kindBool {
		d.typeError(field, "true or false", k)
		return false, false
	}
	return d.s.literal() == "true", true
}

// amount reads a decimal from a JSON string or from a JSON number's literal
// text, never through float64.
func (d *decoder) amount(field string) (decimal.Decimal, bool) {
	var b []byte
	switch k := d.s.peek(); k {
	case kindString:
		b = d.s.str()
	case kindNumber:
		b = d.s.number()
	default:
		d.typeError(field, "a decimal string or number", k)
		return decimal.Decimal{}, false
	}
	if v, ok := d.amounts[string(b)]; ok {
		return v, true
	}
	v, err := billing.ParseAmount(string(b))
	if err != nil {
		d.errorf(field, "invalid amount %s", billing.Quote(b))
		return decimal.Decimal{}, false
	}
	if len(d.amounts) < maxCache {
		d.amounts[string(b)] = v
	}
	return v, true
}

func (d *decoder) money(field string) (billing.Money, bool) {
	v, ok := d.amount(field)
	return billing.NewMoney(v, d.cur), ok
}

// time reads an RFC 3339 time and converts it to UTC. cache is false for
// times that are unlikely to repeat, so they do not crowd out those that do.
func (d *decoder) time(field string, cache bool) (time.Time, bool) {
	b, ok := d.text(field, "an RFC 3339 time string")
	if !ok {
		return time.Time{}, false
	}
	if t, ok := d.times[string(b)]; ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		d.errorf(field, "invalid time %s: want RFC 3339 such as 2026-10-01T00:00:00Z", billing.Quote(b))
		return time.Time{}, false
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		// Such a time could not be written back in RFC 3339.
		d.errorf(field, "invalid time %s: year out of range in UTC", billing.Quote(b))
		return time.Time{}, false
	}
	if cache && len(d.times) < maxCache {
		d.times[string(b)] = t
	}
	return t, true
}

// The document.

// file reads the whole document. Format and version are needed before
// anything else is worth reporting, and the account's currency before any
// observation: in the canonical key order they come first and the document
// is read in one pass; otherwise what came too early is skipped (its syntax
// checked) and read once the end is reached.
func (d *decoder) file() (*File, error) {
	if k := d.s.peek(); k != kindObject {
		if k != kindInvalid {
			d.errorf("", "want a JSON object at the top level, got %s", k)
		}
		d.s.skip()
		d.s.end()
		if d.s.err != nil {
			return nil, d.s.err
		}
		return nil, d.probs.err()
	}
	const (
		tFormat fields = 1 << iota
		tVersion
		tAccount
		tObservations
	)
	var (
		f                   File
		seen                fields
		formatOK, versionOK bool
		accountRead         bool
		accountAt, obsAt    = -1, -1 // where a value skipped for later starts
	)
	d.s.enter()
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "format":
			if d.see(&seen, tFormat, "format") {
				formatOK = d.format()
			}
		case "version":
			if d.see(&seen, tVersion, "version") {
				versionOK = d.version()
			}
		case "account":
			if !d.see(&seen, tAccount, "account") {
				continue
			}
			if formatOK && versionOK {
				d.account(&f.Account)
				accountRead = true
			} else {
				accountAt = d.s.offset()
				d.s.skip()
			}
		case "observations":
			if !d.see(&seen, tObservations, "observations") {
				continue
			}
			if accountRead {
				f.Observations = d.observations(f.Account.Name)
			} else {
				obsAt = d.s.offset()
				d.s.skip()
			}
		default:
			d.unknown(key)
		}
	}
	d.s.end()
	d.require(seen, tFormat, "format")
	d.require(seen, tVersion, "version")
	d.require(seen, tAccount, "account")
	d.require(seen, tObservations, "observations")
	if d.s.err != nil {
		return nil, d.s.err
	}
	if !formatOK || !versionOK {
		return nil, d.probs.err()
	}
	if accountAt >= 0 {
		d.s.seek(accountAt)
		d.account(&f.Account)
	}
	if obsAt >= 0 {
		d.s.seek(obsAt)
		f.Observations = d.observations(f.Account.Name)
	}
	if d.s.err != nil {
		return nil, d.s.err
	}
	if err := d.probs.err(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (d *decoder) format() bool {
	v, ok := d.str("format")
	if ok && v != Format {
		d.errorf("format", "%s is not a guardd history file (want %q)", billing.Quote(v), Format)
		return false
	}
	return ok
}

func (d *decoder) version() bool {
	k := d.s.peek()
	if k != kindNumber {
		d.typeError("version", "a number", k)
		return false
	}
	lit := d.s.number()
	if v, err := billing.ParseAmount(string(lit)); err != nil || !v.Equal(decimal.NewFromInt(Version)) {
		d.errorf("version", "unsupported version %s (supported: %d)", literal(lit), Version)
		return false
	}
	return true
}
