package lifecycle

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// Memory is a Store in memory: replay and rule tests keep their alerts and
// outbox in one, and an Overlay keeps its writes in one. It starts empty
// and forgets everything when the process ends. It is safe for concurrent
// use; writers take turns.
type Memory struct {
	mu       sync.RWMutex
	alerts   map[string]Alert
	findings findingLog
	silences []Silence // by id
	outbox   []memItem // by id
	// lastSilence and lastItem are the last ids assigned.
	lastSilence, lastItem int64
	// replaced is the write transaction's undo log of PutAlert, kept
	// from one transaction to the next (a replay writes one per poll).
	replaced []replacedAlert
	// fingerprints remembers the fingerprints write transactions took:
	// a replay checks the same few at every poll, several times each.
	fingerprints map[fingerprintOf]string
	// firing and changed are Decide's scratch in a write transaction:
	// the firing alerts it read and the alerts it will write.
	firing  []Alert
	changed []alertChange
}

// fingerprintOf is what a fingerprint is taken of.
type fingerprintOf struct{ rule, account, entity string }

// maxFingerprints bounds Memory.fingerprints; it starts again when full.
const maxFingerprints = 4096

// fingerprint returns billing.Fingerprint(rule, account, entity), taken
// once. Call it in a write transaction only.
func (m *Memory) fingerprint(rule, account, entity string) string {
	k := fingerprintOf{rule, account, entity}
	if fp, ok := m.fingerprints[k]; ok {
		return fp
	}
	if m.fingerprints == nil || len(m.fingerprints) >= maxFingerprints {
		m.fingerprints = make(map[fingerprintOf]string)
	}
	fp := billing.Fingerprint(rule, account, entity)
	m.fingerprints[k] = fp
	return fp
}

// replacedAlert is what PutAlert replaced: the alert with fingerprint fp,
// if there was one (had).
type replacedAlert struct {
	fp  string
	old Alert
	had bool
}

// findingLog is the log of findings, in chunks: it grows by a chunk,
// never by copying what it holds (a replay records a finding or more at
// every poll).
type findingLog struct {
	chunks [][]FindingRecord
	n      int
}

// maxFindingChunk bounds a chunk; the first are smaller, so that the many
// short-lived Memories of rule tests stay small.
const maxFindingChunk = 4096

func (l *findingLog) add(r FindingRecord) {
	if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) == cap(l.chunks[k-1]) {
		l.chunks = append(l.chunks, make([]FindingRecord, 0, min(max(l.n, 16), maxFindingChunk)))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, r)
	l.n++
}

// truncate drops the records after the first n.
func (l *findingLog) truncate(n int) {
	for l.n > n {
		k := len(l.chunks) - 1
		c := l.chunks[k]
		drop := min(len(c), l.n-n)
		clear(c[len(c)-drop:])
		l.chunks[k], l.n = c[:len(c)-drop], l.n-drop
		if len(l.chunks[k]) == 0 {
			l.chunks = l.chunks[:k]
		}
	}
}

// memItem is an outbox item and where its delivery is.
type memItem struct {
	OutboxItem
	delivery Delivery
	sentAt   time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{alerts: make(map[string]Alert)} }

// Update implements Store.
func (m *Memory) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{m: m, write: true, findings: m.findings.n}
	done := false
	defer func() {
		if !done {
			tx.rollback()
		}
		clear(m.replaced)
		m.replaced = m.replaced[:0]
	}()
	if err := fn(tx); err != nil {
		return err
	}
	done = true
	return nil
}

// View implements Store.
func (m *Memory) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTx{m: m})
}

// memTx is a transaction on a Memory. Writes apply at once and leave an
// undo step; a transaction that fails runs them backwards. The alerts
// replaced are undone from Memory.replaced, and the findings recorded by
// cutting the log back to its length before (findings): each touches only
// its own part of the state.
type memTx struct {
	m        *Memory
	write    bool
	undo     []func()
	findings int
}

var _ Tx = (*memTx)(nil)

func (tx *memTx) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.undo = nil
	rs := tx.m.replaced
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].had {
			tx.m.alerts[rs[i].fp] = rs[i].old
		} else {
			delete(tx.m.alerts, rs[i].fp)
		}
	}
	tx.m.findings.truncate(tx.findings)
}

func (tx *memTx) writable() error {
	if !tx.write {
		return fmt.Errorf("%w (use Update)", ErrReadOnly)
	}
	return nil
}

func cloneAlert(a Alert) Alert {
	a.Finding = slices.Clone(a.Finding)
	a.Receivers = maps.Clone(a.Receivers)
	if len(a.Receivers) == 0 {
		a.Receivers = nil
	}
	return a
}

// Alert implements Book.
func (tx *memTx) Alert(fingerprint string) (Alert, bool, error) {
	a, ok := tx.m.alerts[fingerprint]
	return cloneAlert(a), ok, nil
}

// Alerts implements Book.
func (tx *memTx) Alerts(account string, state State) ([]Alert, error) {
	if state != "" && state != Firing && state != Resolved {
		return nil, fmt.Errorf("read alerts of account %q: unknown state %q: want firing, resolved or empty", account, state)
	}
	var out []Alert
	for _, a := range tx.m.alerts {
		if (account == "" || a.Account == account) && (state == "" || a.State == state) {
			out = append(out, cloneAlert(a))
		}
	}
	sortAlerts(out)
	return out, nil
}

// FiringAlerts implements Book.
func (tx *memTx) FiringAlerts(account string) ([]Alert, error) {
	return withoutFindings(tx.Alerts(account, Firing))
}

// withoutFindings returns as with no findings, as Book.FiringAlerts does.
func withoutFindings(as []Alert, err error) ([]Alert, error) {
	for i := range as {
		as[i].Finding = nil
	}
	return as, err
}

// firingOf returns account's firing alerts as Alerts does, but with their
// findings shared with the Memory, for Decide alone: it reads them and
// writes back what it read, and the findings a Memory holds are only ever
// replaced, never changed. A replay decides after every poll, and copying
// the findings of every firing alert each time was most of what it
// allocated.
func (tx *memTx) firingOf(account string) []Alert {
	out := tx.m.firing[:0]
	for _, a := range tx.m.alerts {
		if a.Account == account && a.State == Firing {
			f := a.Finding
			a.Finding = nil
			a = cloneAlert(a)
			a.Finding = slices.Clip(f)
			out = append(out, a)
		}
	}
	sortAlerts(out)
	tx.m.firing = out
	return out
}

// sortAlerts puts alerts in the order they fired, as Book.Alerts returns
// them.
func sortAlerts(as []Alert) {
	slices.SortFunc(as, func(x, y Alert) int {
		return cmp.Or(x.FiredAt.Compare(y.FiredAt), cmp.Compare(x.Fingerprint, y.Fingerprint))
	})
}

// PutAlert implements Book.
func (tx *memTx) PutAlert(a Alert) error {
	fp := a.Fingerprint
	if fp == "" {
		fp = billing.Fingerprint(a.Rule, a.Account, a.Entity)
	}
	// The finding an alert already holds was checked and copied when it was
	// put, and stored findings are only ever replaced, never changed: keep
	// that copy instead of checking and copying it at every evaluation.
	var kept []byte
	if old, ok := tx.m.alerts[fp]; ok && a.Finding != nil && bytes.Equal(old.Finding, a.Finding) {
		kept, a.Finding = old.Finding, nil
	}
	err := tx.writable()
	if err == nil {
		err = a.check(tx.m.fingerprint)
	}
	if err != nil {
		return fmt.Errorf("store alert %s (%s of account %q): %w", fp, a.Rule, a.Account, err)
	}
	a = cloneAlert(a)
	if kept != nil {
		a.Finding = kept
	}
	a.FiredAt, a.LastSentAt, a.ResolvedAt, a.LastSeenAt, a.AckedAt = utc(a.FiredAt), utc(a.LastSentAt),
		utc(a.ResolvedAt), utc(a.LastSeenAt), utc(a.AckedAt)
	old, had := tx.m.alerts[a.Fingerprint]
	tx.m.alerts[a.Fingerprint] = a
	tx.m.replaced = append(tx.m.replaced, replacedAlert{fp: a.Fingerprint, old: old, had: had})
	return nil
}

// SeeAlert implements Book.
func (tx *memTx) SeeAlert(fingerprint string, lastSeen time.Time, misses int) error {
	a, ok := tx.m.alerts[fingerprint]
	err := tx.writable()
	switch {
	case err != nil:
	case !ok || a.State != Firing:
		err = ErrNotFiring
	case misses < 0:
		err = fmt.Errorf("miss count %d is negative", misses)
	}
	if err != nil {
		return fmt.Errorf("see alert %s: %w", fingerprint, err)
	}
	tx.m.replaced = append(tx.m.replaced, replacedAlert{fp: fingerprint, old: a, had: true})
	a.LastSeenAt, a.MissCount = utc(lastSeen), misses
	tx.m.alerts[fingerprint] = a
	return nil
}

// RecordFinding implements Book.
func (tx *memTx) RecordFinding(r FindingRecord) error {
	err := tx.writable()
	if err == nil {
		err = r.check(tx.m.fingerprint)
	}
	if err != nil {
		return fmt.Errorf("record finding %s of account %q: %w", r.Rule, r.Account, err)
	}
	r.At = r.At.UTC()
	tx.m.findings.add(r)
	return nil
}

// Findings implements Book.
func (tx *memTx) Findings(account string, since time.Time) ([]FindingRecord, error) {
	var out []FindingRecord
	for _, c := range tx.m.findings.chunks {
		for _, r := range c {
			if (account == "" || r.Account == account) && !r.At.Before(since) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y FindingRecord) int { return x.At.Compare(y.At) })
	return out, nil
}

// AddSilence implements Book.
func (tx *memTx) AddSilence(s Silence) (int64, error) {
	err := tx.writable()
	if err == nil {
		err = s.Check()
	}
	if err != nil {
		return 0, fmt.Errorf("add silence of rule %q on account %q: %w", s.Rule, s.Account, err)
	}
	tx.m.lastSilence++
	s.ID, s.Start, s.End = tx.m.lastSilence, s.Start.UTC(), s.End.UTC()
	tx.putSilence(s)
	return s.ID, nil
}

// putSilence adds s, or replaces the silence with its id.
func (tx *memTx) putSilence(s Silence) {
	i, found := slices.BinarySearchFunc(tx.m.silences, s.ID, func(x Silence, id int64) int { return cmp.Compare(x.ID, id) })
	if found {
		old := tx.m.silences[i]
		tx.m.silences[i] = s
		tx.undo = append(tx.undo, func() { tx.m.silences[i] = old })
		return
	}
	tx.m.silences = slices.Insert(tx.m.silences, i, s)
	tx.undo = append(tx.undo, func() { tx.m.silences = slices.Delete(tx.m.silences, i, i+1) })
}

// Silences implements Book.
func (tx *memTx) Silences(activeAt time.Time) ([]Silence, error) {
	return newestFirst(tx.m.silences, activeAt), nil
}

// newestFirst returns the silences of ss (in id order) active at activeAt,
// or all of them when activeAt is zero, newest first.
func newestFirst(ss []Silence, activeAt time.Time) []Silence {
	var out []Silence
	for i := len(ss) - 1; i >= 0; i-- {
		if activeAt.IsZero() || ss[i].ActiveAt(activeAt) {
			out = append(out, ss[i])
		}
	}
	return out
}

// Silenced implements Book.
func (tx *memTx) Silenced(rule, account string, at time.Time) (Silence, bool, error) {
	s, ok := Silencing(tx.m.silences, rule, account, at)
	return s, ok, nil
}

// ExpireSilence implements Book.
func (tx *memTx) ExpireSilence(id int64, at time.Time) error {
	if err := tx.expireSilence(id, at); err != nil {
		return fmt.Errorf("expire silence %d: %w", id, err)
	}
	return nil
}

func (tx *memTx) expireSilence(id int64, at time.Time) error {
	if err := tx.writable(); err != nil {
		return err
	}
	i := slices.IndexFunc(tx.m.silences, func(s Silence) bool { return s.ID == id })
	if i < 0 {
		return ErrNotFound
	}
	s, err := tx.m.silences[i].Expire(at.UTC())
	if err != nil {
		return err
	}
	tx.putSilence(s)
	return nil
}

// Enqueue implements Outbox.
func (tx *memTx) Enqueue(item OutboxItem) (int64, error) {
	err := tx.writable()
	if err == nil {
		err = item.Check()
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue %s notification of %s for receiver %q: %w", item.Status, item.Fingerprint, item.Receiver, err)
	}
	tx.m.lastItem++
	item.ID, item.Payload, item.CreatedAt = tx.m.lastItem, slices.Clone(item.Payload), item.CreatedAt.UTC()
	if item.NextAttemptAt.IsZero() {
		item.NextAttemptAt = item.CreatedAt
	}
	item.NextAttemptAt = item.NextAttemptAt.UTC()
	n := len(tx.m.outbox)
	tx.m.outbox = append(tx.m.outbox, memItem{OutboxItem: item, delivery: Pending})
	tx.undo = append(tx.undo, func() { tx.m.outbox = tx.m.outbox[:n] })
	return item.ID, nil
}

// items returns the outbox items in delivery d that keep, by CreatedAt then
// id.
func (tx *memTx) items(d Delivery, keep func(OutboxItem) bool) []OutboxItem {
	var out []OutboxItem
	for _, it := range tx.m.outbox {
		if it.delivery == d && keep(it.OutboxItem) {
			it.Payload = slices.Clone(it.Payload)
			out = append(out, it.OutboxItem)
		}
	}
	slices.SortStableFunc(out, func(x, y OutboxItem) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out
}

// Due implements Outbox.
func (tx *memTx) Due(now time.Time, limit int) ([]OutboxItem, error) {
	out := tx.items(Pending, func(it OutboxItem) bool { return !it.NextAttemptAt.After(now) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Dead implements Outbox.
func (tx *memTx) Dead() ([]OutboxItem, error) {
	return tx.items(Dead, func(OutboxItem) bool { return true }), nil
}

// Claim implements Outbox.
func (tx *memTx) Claim(owner string, ids []int64, now, until time.Time) ([]int64, error) {
	got, err := tx.claim(owner, ids, now, until)
	if err != nil {
		return nil, fmt.Errorf("claim %d notifications for %s: %w", len(ids), owner, err)
	}
	return got, nil
}

func (tx *memTx) claim(owner string, ids []int64, now, until time.Time) ([]int64, error) {
	if err := tx.writable(); err != nil {
		return nil, err
	}
	if err := CheckLease(owner, now, until); err != nil {
		return nil, err
	}
	at := make([]int, len(ids))
	for i, id := range ids {
		var found bool
		if at[i], found = tx.find(id); !found {
			return nil, fmt.Errorf("notification %d: %w", id, ErrNotFound)
		}
	}
	var got []int64
	for i, id := range ids {
		it := tx.m.outbox[at[i]]
		if it.delivery != Pending || !Claimable(owner, it.OutboxItem, now) {
			continue
		}
		it.ClaimedBy, it.ClaimedUntil = owner, until.UTC()
		tx.put(at[i], it)
		got = append(got, id)
	}
	return got, nil
}

// Release implements Outbox.
func (tx *memTx) Release(owner string) (int, error) {
	if err := tx.writable(); err != nil {
		return 0, fmt.Errorf("release the claims of %s: %w", owner, err)
	}
	n := 0
	for i, it := range tx.m.outbox {
		if it.delivery == Pending && it.ClaimedBy == owner {
			it.ClaimedBy, it.ClaimedUntil = "", time.Time{}
			tx.put(i, it)
			n++
		}
	}
	return n, nil
}

// find returns where item id is in the outbox.
func (tx *memTx) find(id int64) (int, bool) {
	return slices.BinarySearchFunc(tx.m.outbox, id, func(x memItem, id int64) int { return cmp.Compare(x.ID, id) })
}

// put replaces the item at i, leaving an undo step.
func (tx *memTx) put(i int, it memItem) {
	old := tx.m.outbox[i]
	tx.m.outbox[i] = it
	tx.undo = append(tx.undo, func() { tx.m.outbox[i] = old })
}

// MarkSent implements Outbox.
func (tx *memTx) MarkSent(id int64, owner string, at time.Time) error {
	if err := tx.mark(id, owner, at, func(it *memItem) error {
		it.delivery, it.sentAt = Sent, at.UTC()
		return nil
	}); err != nil {
		return fmt.Errorf("mark notification %d sent: %w", id, err)
	}
	return nil
}

// MarkFailed implements Outbox.
func (tx *memTx) MarkFailed(id int64, owner string, at time.Time, errText string, next time.Time, giveUp bool) error {
	if err := tx.mark(id, owner, at, func(it *memItem) error {
		if err := CheckFailure(errText, next, giveUp); err != nil {
			return err
		}
		it.LastError, it.delivery, it.NextAttemptAt = errText, Dead, at.UTC()
		if !giveUp {
			it.delivery, it.NextAttemptAt = Pending, next.UTC()
		}
		return nil
	}); err != nil {
		return fmt.Errorf("mark notification %d failed: %w", id, err)
	}
	return nil
}

// mark checks that item id is pending and claimed by owner, and applies
// update to it, counting the attempt at at and ending the claim.
func (tx *memTx) mark(id int64, owner string, at time.Time, update func(*memItem) error) error {
	if err := tx.writable(); err != nil {
		return err
	}
	if at.IsZero() {
		return errNoTime
	}
	i, found := tx.find(id)
	if !found {
		return ErrNotFound
	}
	it := tx.m.outbox[i]
	if err := CheckPending(it.delivery, it.sentAt, it.LastAttemptAt); err != nil {
		return err
	}
	if err := CheckClaim(owner, it.ClaimedBy, it.ClaimedUntil); err != nil {
		return err
	}
	it.Attempts++
	it.LastAttemptAt = at.UTC()
	it.ClaimedBy, it.ClaimedUntil = "", time.Time{}
	if err := update(&it); err != nil {
		return err
	}
	tx.put(i, it)
	return nil
}

// MessagesSentSince implements Outbox.
func (tx *memTx) MessagesSentSince(receiver string, since time.Time) (int, error) {
	times := make(map[int64]bool)
	for _, it := range tx.m.outbox {
		if it.Receiver == receiver && it.delivery == Sent && !it.sentAt.Before(since) {
			times[it.sentAt.UnixNano()] = true
		}
	}
	return len(times), nil
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
