package ledger

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/klauspost/compress/s2"
	"github.com/shopspring/decimal"
)

// A checkpoint is a ledger's whole state, trimmed to its horizon, in a
// compact binary form, so that a new process (guardd check, a restarted
// daemon) continues the ledger instead of rebuilding it from stored
// observations. Its size follows the rules' windows, not the history:
// the points of the points' horizon (Options.KeepPoints), packed as in memory (a few bytes each), the
// recharges, cost windows, grants (with their used credit since the
// horizon) and charge ids of the horizon, the newest two observations and
// a held one.
//
// Layout: the magic "GLCP", the version (uvarint), the payload (the
// fingerprint, a string, then the state) as one S2 block
// (github.com/klauspost/compress/s2), and the CRC-32C of everything before
// it (4 bytes, little endian). A checkpoint of another version or
// fingerprint, or damaged, is refused with an error, never half read.
//
// The payload is compressed because guardd run holds every account's
// ledger as its checkpoint between polls (Frozen), and what a ledger
// holds grows with the rules' windows until they are full (35 days).
// Compressed, a checkpoint of 35 days of 15-minute polls of the grants
// shape is 3,589 bytes instead of 6,348, and a daemon's heap grows 9%
// over its first month instead of 14% (BenchmarkLedgerMemory), for 10 to
// 15 µs more a poll to freeze and thaw it (BenchmarkFreezeThaw). zstd,
// from the same module, made checkpoints 14% smaller again and the heap's
// growth the same, but took 30 µs more a poll and held 300 KB of tables:
// an idle daemon's RSS grew 1.9 MiB with it, and with S2 no more than the
// runs' noise (BenchmarkRunIdle).

// CheckpointVersion is the version of the checkpoint encoding. A change to
// what a checkpoint holds or how is a new version: older checkpoints are
// then refused and the ledger is rebuilt from history once. Version 5
// compresses the payload.
const CheckpointVersion = 5

var checkpointMagic = []byte("GLCP")

// ErrCheckpointVersion is wrapped by the error for a checkpoint of another
// version.
var ErrCheckpointVersion = errors.New("checkpoint of another version")

// ErrCheckpointFingerprint is wrapped by the error for a checkpoint of a
// ledger with other account settings or options.
var ErrCheckpointFingerprint = errors.New("checkpoint of other account settings")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Fingerprint identifies what a ledger's state depends on besides its
// observations: every setting of the account and the options (the match
// window and the horizon the rules need). A checkpoint is used only by a
// ledger with the same fingerprint.
func Fingerprint(a billing.Account, o Options) string {
	if o.MatchWindow <= 0 {
		o.MatchWindow = DefaultOptions().MatchWindow
	}
	var b strings.Builder
	canonical(&b, "account", reflect.ValueOf(a))
	canonical(&b, "options", reflect.ValueOf(o))
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

var (
	moneyType = reflect.TypeFor[billing.Money]()
	timeType  = reflect.TypeFor[time.Time]()
)

// canonical writes v as text, every field named, amounts and times exact.
// A kind it does not know is a programming error (a new field of a new
// type in billing.Account) that the tests meet first.
func canonical(b *strings.Builder, path string, v reflect.Value) {
	switch {
	case v.Type() == moneyType:
		m := v.Interface().(billing.Money)
		fmt.Fprintf(b, "%s=%s %s\n", path, m.Exact(), m.Currency())
		return
	case v.Type() == timeType:
		fmt.Fprintf(b, "%s=%s\n", path, v.Interface().(time.Time).UTC().Format(time.RFC3339Nano))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			canonical(b, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		fmt.Fprintf(b, "%s=%v\n", path, v.Interface())
	default:
		panic(fmt.Sprintf("ledger: fingerprint: %s is a %s", path, v.Kind()))
	}
}

// Fingerprint returns the ledger's fingerprint (see Fingerprint).
func (l *Ledger) Fingerprint() string {
	if l.fingerprint == "" {
		l.fingerprint = Fingerprint(l.account, l.opts)
	}
	return l.fingerprint
}

// Newest returns the time of the newest observation appended, a held one
// included: what a checkpoint taken now covers.
func (l *Ledger) Newest() (time.Time, bool) {
	if l.held != nil {
		return l.held.o.At, true
	}
	if l.points.len() == 0 {
		return time.Time{}, false
	}
	return l.points.last.At, true
}

// Checkpoint returns the ledger's state in the checkpoint encoding. It
// first drops what is past the ledger's horizon, which changes no answer.
func (l *Ledger) Checkpoint() []byte { return l.appendCheckpoint(nil) }

// appendCheckpoint writes the checkpoint into dst[:0] when it has the
// room, and not a quarter more; into a new block of its size (up to the
// allocator's size class) otherwise.
func (l *Ledger) appendCheckpoint(dst []byte) []byte {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.raw = l.appendPayload(s.raw[:0])
	return s.seal(dst, s.raw)
}

// checkpointHeader is what a checkpoint starts with: the magic and the
// version.
var checkpointHeader = binary.AppendUvarint(slices.Clone(checkpointMagic), CheckpointVersion)

// maxPayload bounds the payload a checkpoint may unpack to: the largest
// ledger's is some tens of kilobytes.
const maxPayload = 64 << 20

// scratch holds the buffers a checkpoint is written or read in, reused
// (scratchPool) so that a freeze and a thaw allocate nothing past the
// ledger itself.
type scratch struct{ raw, packed []byte }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// seal writes the checkpoint of payload into dst[:0] or a new block (see
// appendCheckpoint).
func (s *scratch) seal(dst, payload []byte) []byte {
	if n := s2.MaxEncodedLen(len(payload)); cap(s.packed) < n {
		s.packed = make([]byte, n)
	}
	packed := s2.EncodeBetter(s.packed[:cap(s.packed)], payload)
	// dst is written over when it has the room and not a quarter more
	// (a checkpoint shrinks when the oldest points or recharges leave
	// the horizon).
	if need := len(checkpointHeader) + len(packed) + 4; cap(dst) < need || cap(dst) > need+need/4 {
		dst = slices.Grow([]byte(nil), need)
	}
	dst = append(append(dst[:0], checkpointHeader...), packed...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst, castagnoli))
}

// unpack returns the payload packed holds, in s.raw.
func (s *scratch) unpack(packed []byte) ([]byte, error) {
	n, err := s2.DecodedLen(packed)
	switch {
	case err != nil:
		return nil, fmt.Errorf("compressed payload: %w", err)
	case n > maxPayload:
		return nil, fmt.Errorf("compressed payload: it unpacks to %d bytes, more than a checkpoint may hold (%d bytes)", n, maxPayload)
	}
	if cap(s.raw) < n {
		s.raw = make([]byte, n)
	}
	raw, err := s2.Decode(s.raw[:cap(s.raw)], packed)
	if err != nil {
		return nil, fmt.Errorf("compressed payload: %w", err)
	}
	return raw, nil
}

// appendPayload writes the checkpoint's payload (the fingerprint and the
// state) into dst[:0], which it grows when short.
func (l *Ledger) appendPayload(dst []byte) []byte {
	l.trim()
	e := cpWriter{w: wbuf(dst[:0]), syms: make(map[string]int)}
	w := &e.w
	w.str(l.Fingerprint())

	// The points.
	w.time(l.first)
	w.uvarint(uint64(l.points.seq))
	w.uvarint(uint64(len(l.points.blocks)))
	for _, b := range l.points.blocks {
		w.uvarint(uint64(b.seq0))
		w.uvarint(uint64(b.n))
		w.time(b.first)
		w.time(b.last)
		w.dec(b.cum0.decimal())
		w.dur(b.cov0)
		w.bytes(b.times)
		w.bytes(b.cons)
		w.bytes(b.rest)
	}

	// The recharges, in order; the pools of unpaired halves follow from
	// them.
	w.uvarint(uint64(len(l.recharges)))
	for _, r := range l.recharges {
		e.recharge(r)
	}

	// Not in e.keys: decMap sorts in it inside the loop.
	ids := sortedKeys(nil, l.grants)
	w.uvarint(uint64(len(ids)))
	for _, id := range ids {
		st := l.grants[id]
		w.str(id)
		w.time(st.firstSeen)
		w.bool(st.preexisting)
		w.bool(st.linked)
		w.dec(st.lastUsed)
		w.varint(int64(st.lastObs))
		w.time(st.lastAt)
		w.time(st.idle.since)
		w.uvarint(uint64(st.idle.intervals))
		w.dec(st.idle.drawn)
		e.decMap(st.idle.from)
		h := st.seen
		if h == nil {
			h = new(GrantHistory)
		}
		e.grantHistory(h)
	}

	ids = sortedKeys(ids, l.charges)
	w.uvarint(uint64(len(ids)))
	for _, id := range ids {
		w.str(id)
		w.time(l.charges[id])
	}

	w.uvarint(uint64(len(l.polls)))
	for _, p := range l.polls {
		w.time(p.At)
		w.str(p.Err)
		e.reasons(p.Unavailable)
	}

	c := &l.costs
	w.uvarint(uint64(len(c.entries)))
	for _, ce := range c.entries {
		e.bucket(ce.Bucket)
		e.sym(ce.Source)
		w.time(ce.AsOf)
		w.dec(ce.base)
		w.bool(ce.hasBase)
		w.dec(ce.since)
	}
	w.dec(c.total)
	w.time(c.earliest)
	w.bool(c.hasEarliest)
	w.time(c.settled)
	w.time(c.floor)

	d := &l.derived
	w.bool(d.known)
	e.money(d.anchor.Amount)
	w.time(d.anchor.At)
	w.dec(d.eff)
	w.dec(d.costs)
	w.dec(d.pending)
	w.dec(d.dropped)

	w.time(l.split.since)
	w.uvarint(uint64(l.split.intervals))
	w.dec(l.split.drawn)

	w.bool(l.held != nil)
	if h := l.held; h != nil {
		e.observation(&h.o)
		w.str(h.why)
		w.uvarint(uint64(len(h.parts)))
		for _, p := range h.parts {
			e.sym(string(p))
		}
	}
	for _, o := range []*billing.Observation{l.cur, l.prev} {
		w.bool(o != nil)
		if o != nil {
			e.observation(o)
		}
	}
	return *w
}

// cpWriter writes a checkpoint; repeated strings (sources, reasons,
// kinds) are written once and referred to by number after.
type cpWriter struct {
	w    wbuf
	syms map[string]int
	// keys and parts are room for the sorted keys of one map at a time.
	keys  []string
	parts []billing.Part
}

func (e *cpWriter) sym(s string) {
	if i, ok := e.syms[s]; ok {
		e.w.uvarint(uint64(i) + 1)
		return
	}
	e.syms[s] = len(e.syms)
	e.w.uvarint(0)
	e.w.str(s)
}

func (e *cpWriter) money(m billing.Money) {
	e.w.dec(m.Amount())
	e.sym(string(m.Currency()))
}

func (e *cpWriter) decMap(m map[string]decimal.Decimal) {
	e.w.bool(m != nil)
	e.keys = sortedKeys(e.keys, m)
	e.w.uvarint(uint64(len(e.keys)))
	for _, k := range e.keys {
		e.w.str(k)
		e.w.dec(m[k])
	}
}

func (e *cpWriter) reasons(m map[billing.Part]string) {
	e.w.bool(m != nil)
	e.parts = sortedKeys(e.parts, m)
	e.w.uvarint(uint64(len(e.parts)))
	for _, k := range e.parts {
		e.sym(string(k))
		e.w.str(m[k])
	}
}

// sortedKeys returns m's keys in order, in buf's room. A checkpoint writes
// a map of reasons for each of its polls, most of them empty, and a map
// of the credit each idle grant was drawn from: slices.Sorted(maps.Keys)
// made an iterator and a slice for each, a twentieth of the objects a
// replica allocated in BenchmarkReplicaCycle.
func sortedKeys[K cmp.Ordered, V any](buf []K, m map[K]V) []K {
	buf = buf[:0]
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

func (e *cpWriter) charge(c billing.Charge) {
	e.w.str(c.ID)
	e.w.time(c.PaidAt)
	e.money(c.Amount)
	e.money(c.Tax)
	e.sym(string(c.Origin))
	e.sym(string(c.Trigger))
}

func (e *cpWriter) grant(g billing.Grant) {
	w := &e.w
	w.str(g.ID)
	e.money(g.Amount)
	e.money(g.Used)
	w.time(g.EffectiveAt)
	w.time(g.ExpiresAt)
	e.sym(string(g.Kind))
	e.sym(g.KindGuess)
	w.time(g.FirstSeen)
}

func (e *cpWriter) grantHistory(h *GrantHistory) {
	e.grant(h.Grant)
	e.w.time(h.LastSeen)
	e.sym(h.Source)
	e.w.uvarint(uint64(len(h.Used)))
	for _, u := range h.Used {
		e.w.time(u.At)
		e.w.dec(u.Used)
	}
}

func (e *cpWriter) recharge(r *Recharge) {
	w := &e.w
	w.time(r.At)
	w.time(r.SeenAt)
	w.dec(r.Credit)
	w.bool(r.AtLeast)
	e.charge(r.Charge)
	w.str(r.GrantID)
	e.sym(string(r.Trigger))
	w.bool(r.TriggerGuessed)
	e.sym(r.TriggerWhy)
	w.str(r.Basis)
	e.sym(r.Source)
	w.dec(r.BalanceBefore)
	w.bool(r.BeforeKnown)
	w.bool(r.BeforeDerived)
	w.dec(r.FreeCreditBefore)
	w.bool(r.FreeBeforeKnown)
}

func (e *cpWriter) bucket(b billing.CostBucket) {
	e.w.time(b.Start)
	e.w.time(b.End)
	e.money(b.Amount)
	e.w.bool(b.Settled)
}

func (e *cpWriter) observation(o *billing.Observation) {
	w := &e.w
	w.str(o.Account)
	w.time(o.At)
	w.bool(o.Parts != nil)
	w.uvarint(uint64(len(o.Parts)))
	for _, p := range sortedParts(o.Parts) {
		st := o.Parts[p]
		e.sym(string(p))
		e.sym(st.Source)
		w.time(st.AsOf)
		e.sym(st.Unavailable)
	}
	b := o.Balance
	e.money(b.Shown)
	w.bool(b.HasSplit)
	e.money(b.Granted)
	e.money(b.Paid)
	w.bool(o.Grants != nil)
	w.uvarint(uint64(len(o.Grants)))
	for _, g := range o.Grants {
		e.grant(g)
	}
	w.bool(o.Charges != nil)
	w.uvarint(uint64(len(o.Charges)))
	for _, c := range o.Charges {
		e.charge(c)
	}
	w.bool(o.Costs != nil)
	w.uvarint(uint64(len(o.Costs)))
	for _, c := range o.Costs {
		e.bucket(c)
	}
	w.bool(o.Derived != nil)
	if d := o.Derived; d != nil {
		e.money(d.Effective)
		e.money(d.Anchor.Amount)
		w.time(d.Anchor.At)
	}
}

// sortedParts returns the parts of m in a fixed order: billing.Parts', then
// any other by name.
func sortedParts(m map[billing.Part]billing.PartStatus) []billing.Part {
	out := make([]billing.Part, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	rank := func(p billing.Part) int {
		if i := slices.Index(billing.Parts, p); i >= 0 {
			return i
		}
		return len(billing.Parts)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

// FromCheckpoint returns the ledger a checkpoint holds, for account a with
// options o. It fails, naming what is wrong, for a checkpoint that is
// damaged (ErrCheckpointVersion and ErrCheckpointFingerprint are wrapped
// when it is of another version or for other settings); the caller then
// rebuilds the ledger from history.
func FromCheckpoint(a billing.Account, o Options, data []byte) (*Ledger, error) {
	l, err := fromCheckpoint(a, o, data)
	if err != nil {
		return nil, fmt.Errorf("read ledger checkpoint of account %q: %w", a.Name, err)
	}
	return l, nil
}

// Frozen is a ledger held as its checkpoint between uses: a few
// kilobytes in one block the garbage collector neither scans nor
// fragments, in place of the ledger's thousands of objects that grow with
// its windows. guardd run holds each account's ledger frozen between its
// polls, so that its memory follows the checkpoints' size, not the
// ledgers'.
type Frozen struct {
	account     billing.Account
	opts        Options
	fingerprint string
	data        []byte
}

// Freeze returns l frozen: its checkpoint, taken now. l stays usable for
// reading; a change to it after is not in the frozen ledger.
//
// spare, when not nil, is the checkpoint of a frozen ledger that is no
// longer used (the one l was thawed from): it is written over when it has
// the room, and not a quarter more. A ledger frozen after every poll then
// keeps one block for many polls, instead of a new one each time among
// the other ledgers' (freed blocks of every size between held ones kept
// the heap in use twice the size of the data). A new block is of the
// checkpoint's size up to the allocator's size class (a few percent),
// room kept for the next freezes: a checkpoint grows a few bytes a poll
// until the rules' windows are full.
func (l *Ledger) Freeze(spare []byte) Frozen {
	return Frozen{account: l.account, opts: l.opts, fingerprint: l.Fingerprint(), data: l.appendCheckpoint(spare)}
}

// Holds says whether f holds a ledger (the zero Frozen holds none).
func (f Frozen) Holds() bool { return f.data != nil }

// Checkpoint returns f's checkpoint; it must not be changed.
func (f Frozen) Checkpoint() []byte { return f.data }

// Thaw returns the ledger f holds, as it was when frozen.
func (f Frozen) Thaw() (*Ledger, error) {
	if f.data == nil {
		return nil, fmt.Errorf("thaw ledger of account %q: none was frozen", f.account.Name)
	}
	l := New(f.account, f.opts)
	l.fingerprint = f.fingerprint
	if err := readCheckpoint(l, f.data); err != nil {
		return nil, fmt.Errorf("thaw ledger of account %q: %w", f.account.Name, err)
	}
	return l, nil
}

func fromCheckpoint(a billing.Account, o Options, data []byte) (*Ledger, error) {
	l := New(a, o)
	if err := readCheckpoint(l, data); err != nil {
		return nil, err
	}
	return l, nil
}

// readCheckpoint reads data into l, a new ledger.
func readCheckpoint(l *Ledger, data []byte) error {
	if len(data) < len(checkpointMagic)+4 || !bytes.Equal(data[:len(checkpointMagic)], checkpointMagic) {
		return errors.New("not a ledger checkpoint")
	}
	body := data[:len(data)-4]
	r := rbuf{b: body, off: len(checkpointMagic)}
	if v := r.uvarint(); r.err == nil && v != CheckpointVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrCheckpointVersion, v, CheckpointVersion)
	}
	if got := binary.LittleEndian.Uint32(data[len(body):]); got != crc32.Checksum(body, castagnoli) {
		return errors.New("damaged: checksum mismatch")
	}
	if r.err != nil {
		return fmt.Errorf("damaged: %w", r.err)
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	payload, err := s.unpack(body[r.off:])
	if err != nil {
		return fmt.Errorf("damaged: %w", err)
	}
	d := &cpReader{r: rbuf{b: payload}}
	if fp := d.r.str(); d.r.err == nil && fp != l.Fingerprint() {
		return fmt.Errorf("%w (%s, want %s)", ErrCheckpointFingerprint, billing.Quote(fp), l.Fingerprint())
	}
	if err := d.ledger(l); err != nil {
		return fmt.Errorf("damaged: %w", err)
	}
	return nil
}

// cpReader reads a checkpoint.
type cpReader struct {
	r    rbuf
	syms []string
}

func (d *cpReader) sym() string {
	i := d.r.uvarint()
	if i == 0 {
		s := d.r.str()
		d.syms = append(d.syms, s)
		return s
	}
	if i > uint64(len(d.syms)) {
		d.r.fail("unknown string %d", i)
		return ""
	}
	return d.syms[i-1]
}

func (d *cpReader) money() billing.Money {
	amount := d.r.dec()
	return billing.NewMoney(amount, billing.Currency(d.sym()))
}

// list reads whether a list or map is there and how many things it holds:
// none when it is not.
func (d *cpReader) list(what string) (bool, int) {
	there, n := d.r.bool(), d.r.count(what)
	if !there && n != 0 {
		d.r.fail("%d %s in none", n, what)
		return false, 0
	}
	return there, n
}

func (d *cpReader) decMap() map[string]decimal.Decimal {
	isMap, n := d.list("amounts")
	if !isMap {
		return nil
	}
	m := make(map[string]decimal.Decimal, n)
	for range n {
		k := d.r.str()
		m[k] = d.r.dec()
	}
	return m
}

func (d *cpReader) reasons() map[billing.Part]string {
	isMap, n := d.list("reasons")
	if !isMap {
		return nil
	}
	m := make(map[billing.Part]string, n)
	for range n {
		k := d.sym()
		m[billing.Part(k)] = d.r.str()
	}
	return m
}

func (d *cpReader) charge() billing.Charge {
	return billing.Charge{ID: d.r.str(), PaidAt: d.r.time(), Amount: d.money(), Tax: d.money(),
		Origin: billing.ChargeOrigin(d.sym()), Trigger: billing.ChargeTrigger(d.sym())}
}

func (d *cpReader) recharge() *Recharge {
	r := &d.r
	x := &Recharge{At: r.time(), SeenAt: r.time(), Credit: r.dec(), AtLeast: r.bool(), Charge: d.charge(), GrantID: r.str()}
	x.Trigger = billing.ChargeTrigger(d.sym())
	x.TriggerGuessed = r.bool()
	x.TriggerWhy = d.sym()
	x.Basis = r.str()
	x.Source = d.sym()
	x.BalanceBefore, x.BeforeKnown, x.BeforeDerived = r.dec(), r.bool(), r.bool()
	x.FreeCreditBefore, x.FreeBeforeKnown = r.dec(), r.bool()
	return x
}

func (d *cpReader) grant() billing.Grant {
	r := &d.r
	return billing.Grant{ID: r.str(), Amount: d.money(), Used: d.money(), EffectiveAt: r.time(), ExpiresAt: r.time(),
		Kind: billing.GrantKind(d.sym()), KindGuess: d.sym(), FirstSeen: r.time()}
}

func (d *cpReader) grantHistory() GrantHistory {
	h := GrantHistory{Grant: d.grant(), LastSeen: d.r.time(), Source: d.sym()}
	n := d.r.count("used credits")
	if n > 0 {
		h.Used = make([]UsedAt, 0, n)
	}
	for range n {
		u := UsedAt{At: d.r.time(), Used: d.r.dec()}
		if k := len(h.Used); k > 0 && u.At.Before(h.Used[k-1].At) {
			d.r.fail("used credit of grant %s out of order", billing.Quote(h.Grant.ID))
		}
		h.Used = append(h.Used, u)
	}
	return h
}

func (d *cpReader) bucket() billing.CostBucket {
	return billing.CostBucket{Start: d.r.time(), End: d.r.time(), Amount: d.money(), Settled: d.r.bool()}
}

func (d *cpReader) observation() *billing.Observation {
	r := &d.r
	o := &billing.Observation{Account: r.str(), At: r.time()}
	hasParts, n := d.list("parts")
	if hasParts {
		o.Parts = make(map[billing.Part]billing.PartStatus, n)
	}
	for range n {
		p := billing.Part(d.sym())
		o.Parts[p] = billing.PartStatus{Source: d.sym(), AsOf: r.time(), Unavailable: d.sym()}
	}
	o.Balance = billing.Balance{Shown: d.money(), HasSplit: r.bool(), Granted: d.money(), Paid: d.money()}
	if hasGrants, n := d.list("grants"); hasGrants {
		o.Grants = make([]billing.Grant, n)
		for i := range o.Grants {
			o.Grants[i] = d.grant()
		}
	}
	if hasCharges, n := d.list("charges"); hasCharges {
		o.Charges = make([]billing.Charge, n)
		for i := range o.Charges {
			o.Charges[i] = d.charge()
		}
	}
	if hasCosts, n := d.list("cost windows"); hasCosts {
		o.Costs = make([]billing.CostBucket, n)
		for i := range o.Costs {
			o.Costs[i] = d.bucket()
		}
	}
	if r.bool() {
		o.Derived = &billing.DerivedBalance{Effective: d.money(), Anchor: billing.BalanceAnchor{Amount: d.money(), At: r.time()}}
	}
	return o
}

// ledger reads the payload into l, a new ledger.
func (d *cpReader) ledger(l *Ledger) error {
	r := &d.r
	l.first = r.time()
	seq := int(r.uvarint())
	nb := r.count("blocks")
	for range nb {
		b := &block{seq0: int(r.uvarint()), n: int(r.uvarint()), first: r.time(), last: r.time(), cum0: numOf(r.dec()), cov0: r.dur(),
			times: r.bytes(), cons: r.bytes(), rest: r.bytes()}
		if b.n == blockSize {
			b.seal()
		}
		l.points.blocks = append(l.points.blocks, b)
	}
	if r.err != nil {
		return r.err
	}
	if err := l.points.restore(seq); err != nil {
		return err
	}

	n := r.count("recharges")
	for range n {
		x := d.recharge()
		if r.err != nil {
			return r.err
		}
		if len(l.recharges) > 0 && x.At.Before(l.recharges[len(l.recharges)-1].At) {
			return fmt.Errorf("recharge at %s after one at %s", x.At, l.recharges[len(l.recharges)-1].At)
		}
		l.recharges = append(l.recharges, x)
		switch {
		case x.Charge.Origin == billing.ChargeInferred && x.GrantID != "":
			l.uncharged = append(l.uncharged, x)
		case x.Charge.Origin != billing.ChargeInferred && x.GrantID == "":
			l.uncredited = append(l.uncredited, x)
		}
	}

	n = r.count("grants")
	for range n {
		id := r.str()
		st := &grantState{firstSeen: r.time(), preexisting: r.bool(), linked: r.bool(), lastUsed: r.dec(), lastObs: int(r.varint()),
			lastAt: r.time()}
		st.idle = idleGrant{since: r.time(), intervals: int(r.uvarint()), drawn: r.dec(), from: d.decMap()}
		if h := d.grantHistory(); len(h.Used) > 0 {
			st.seen = &h
		}
		l.grants[id] = st
	}
	n = r.count("charges")
	for range n {
		id := r.str()
		l.charges[id] = r.time()
	}
	n = r.count("polls")
	for range n {
		l.polls = append(l.polls, PollRecord{At: r.time(), Err: r.str(), Unavailable: d.reasons()})
	}
	if len(l.polls) > MaxPolls {
		return fmt.Errorf("%d polls, more than %d", len(l.polls), MaxPolls)
	}

	c := &l.costs
	n = r.count("cost windows")
	for i := range n {
		ce := CostEntry{Bucket: d.bucket(), Source: d.sym(), AsOf: r.time(), base: r.dec(), hasBase: r.bool(), since: r.dec()}
		if i > 0 && !ce.Bucket.Start.After(c.entries[i-1].Bucket.Start) {
			r.fail("cost windows out of order")
		}
		c.entries = append(c.entries, ce)
	}
	c.total, c.earliest, c.hasEarliest, c.settled, c.floor = r.dec(), r.time(), r.bool(), r.time(), r.time()

	l.derived = derivedState{known: r.bool(), anchor: billing.BalanceAnchor{Amount: d.money(), At: r.time()},
		eff: r.dec(), costs: r.dec(), pending: r.dec(), dropped: r.dec()}
	l.split = splitIdle{since: r.time(), intervals: int(r.uvarint()), drawn: r.dec()}

	if r.bool() {
		h := &heldObs{o: *d.observation(), suspicion: suspicion{why: r.str()}}
		n := r.count("parts")
		for range n {
			h.parts = append(h.parts, billing.Part(d.sym()))
		}
		l.held = h
	}
	if r.bool() {
		l.cur = d.observation()
	}
	if r.bool() {
		l.prev = d.observation()
	}
	if err := r.done(); err != nil {
		return err
	}
	// What the rest of the ledger assumes of its parts.
	switch {
	case l.points.len() > 0 && l.cur == nil:
		return errors.New("points without an observation")
	case l.points.len() > 0 && !l.cur.At.Equal(l.points.last.At):
		return fmt.Errorf("the newest observation at %s is not the newest point at %s", l.cur.At, l.points.last.At)
	case l.held != nil && l.points.len() > 0 && !l.held.o.At.After(l.points.last.At):
		return errors.New("the held observation is not the newest")
	}
	if l.cur != nil && l.cur.Has(billing.PartGrants) {
		for _, g := range l.cur.Grants {
			if l.grants[g.ID] == nil {
				return fmt.Errorf("grant %s of the newest observation is not tracked", billing.Quote(g.ID))
			}
		}
	}
	return nil
}

// restore checks the blocks read back from a checkpoint and sets up what
// the log keeps unpacked: the newest two points, the sums at them and the
// state for packing the next. The checksum has vouched for the bytes; the
// structure is checked here, and the newest block read whole.
func (p *pointLog) restore(seq int) error {
	p.seq, p.n = seq, 0
	for k, b := range p.blocks {
		switch {
		case b.n <= 0 || b.n > blockSize || (k < len(p.blocks)-1 && b.n != blockSize):
			return fmt.Errorf("block %d of %d points", k, b.n)
		case k > 0 && b.seq0 != p.blocks[k-1].seq0+blockSize:
			return fmt.Errorf("block %d starts at point %d, not %d", k, b.seq0, p.blocks[k-1].seq0+blockSize)
		case k > 0 && !b.first.After(p.blocks[k-1].last):
			return fmt.Errorf("block %d starts at %s, not after %s", k, b.first, p.blocks[k-1].last)
		case b.last.Before(b.first):
			return fmt.Errorf("block %d ends before it starts", k)
		}
		p.n += b.n
	}
	if len(p.blocks) == 0 {
		if seq != 0 {
			return fmt.Errorf("%d points appended and none kept", seq)
		}
		return nil
	}
	if last := p.blocks[len(p.blocks)-1]; last.seq0+last.n != seq {
		return fmt.Errorf("%d points appended, the blocks end at %d", seq, last.seq0+last.n)
	}
	// The newest block, read whole, gives the newest points and the
	// state to pack the next.
	if p.n >= 2 && p.blocks[len(p.blocks)-1].n == 1 {
		// The point before the newest ends the block before.
		c := p.blocks[len(p.blocks)-2].cursor(true)
		for c.next() {
		}
		if err := c.check(); err != nil {
			return err
		}
		p.prev = c.point()
		p.prevCum, p.prevCov = c.cum()
	}
	c := p.blocks[len(p.blocks)-1].cursor(true)
	for c.next() {
		if c.j == c.b.n-2 {
			p.prev = c.point()
			p.prevCum, p.prevCov = c.cum()
		}
	}
	if err := c.check(); err != nil {
		return err
	}
	p.last = c.point()
	p.lastCum, p.lastCov = c.cum()
	p.w = c.s
	return nil
}

// check reports damage met reading the block, or a block that ended
// early or late.
func (c *cursor) check() error {
	if err := c.err(); err != nil {
		return fmt.Errorf("block from %s: %w", c.b.first, err)
	}
	switch {
	case c.j != c.b.n-1:
		return fmt.Errorf("block from %s: %d points read, %d written", c.b.first, c.j+1, c.b.n)
	case c.s.left != 0:
		return fmt.Errorf("block from %s: a run of intervals past its end", c.b.first)
	case c.s.hleft != 0:
		return fmt.Errorf("block from %s: a run of repeated headers past its end", c.b.first)
	case !c.s.at.Equal(c.b.last):
		return fmt.Errorf("block from %s: ends at %s, not %s", c.b.first, c.s.at, c.b.last)
	}
	for _, r := range []*rbuf{&c.times, &c.cons, &c.rest} {
		if r.off != len(r.b) {
			return fmt.Errorf("block from %s: %d bytes left over", c.b.first, len(r.b)-r.off)
		}
	}
	return nil
}
