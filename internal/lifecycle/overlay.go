package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Overlay is a Store whose reads see a base Store and whose writes stay in
// memory, copy on write: a dry run decides against the state database's
// alerts, silences and findings and writes nothing to it. The base is only
// ever read, in View transactions.
//
// The outbox is the overlay's own and starts empty: what the base still
// has to send is neither seen nor sent, so draining an overlay delivers
// exactly what was decided through it.
type Overlay struct {
	base Store
	top  *Memory
}

var _ Store = (*Overlay)(nil)

// NewOverlay returns an Overlay over base; a nil base is an empty one.
func NewOverlay(base Store) *Overlay {
	if base == nil {
		base = NewMemory()
	}
	return &Overlay{base: base, top: NewMemory()}
}

// Update implements Store: fn reads through to the base and writes to
// memory only.
func (o *Overlay) Update(ctx context.Context, fn func(Tx) error) error {
	return o.base.View(ctx, func(base Tx) error {
		return o.top.Update(ctx, func(top Tx) error { return fn(&overlayTx{base: base, top: top.(*memTx)}) })
	})
}

// View implements Store.
func (o *Overlay) View(ctx context.Context, fn func(Tx) error) error {
	return o.base.View(ctx, func(base Tx) error {
		return o.top.View(ctx, func(top Tx) error { return fn(&overlayTx{base: base, top: top.(*memTx)}) })
	})
}

// overlayTx reads the top first and then the base, and writes to the top.
type overlayTx struct {
	base Tx
	top  *memTx
}

var _ Tx = (*overlayTx)(nil)

// Alert implements Book.
func (tx *overlayTx) Alert(fingerprint string) (Alert, bool, error) {
	if a, ok, _ := tx.top.Alert(fingerprint); ok {
		return a, true, nil
	}
	return tx.base.Alert(fingerprint)
}

// Alerts implements Book.
func (tx *overlayTx) Alerts(account string, state State) ([]Alert, error) {
	mine, err := tx.top.Alerts(account, state)
	if err != nil {
		return nil, err
	}
	theirs, err := tx.base.Alerts(account, "")
	if err != nil {
		return nil, err
	}
	for _, a := range theirs {
		if _, changed := tx.top.m.alerts[a.Fingerprint]; !changed && (state == "" || a.State == state) {
			mine = append(mine, a)
		}
	}
	sortAlerts(mine)
	return mine, nil
}

// FiringAlerts implements Book.
func (tx *overlayTx) FiringAlerts(account string) ([]Alert, error) {
	return withoutFindings(tx.Alerts(account, Firing))
}

// PutAlert implements Book.
func (tx *overlayTx) PutAlert(a Alert) error { return tx.top.PutAlert(a) }

// SeeAlert implements Book: an alert of the base is written to the overlay
// with its LastSeenAt and MissCount changed.
func (tx *overlayTx) SeeAlert(fingerprint string, lastSeen time.Time, misses int) error {
	if _, mine := tx.top.m.alerts[fingerprint]; mine {
		return tx.top.SeeAlert(fingerprint, lastSeen, misses)
	}
	if err := tx.top.writable(); err != nil {
		return fmt.Errorf("see alert %s: %w", fingerprint, err)
	}
	a, ok, err := tx.base.Alert(fingerprint)
	switch {
	case err != nil:
		return err
	case !ok || a.State != Firing:
		return fmt.Errorf("see alert %s: %w", fingerprint, ErrNotFiring)
	case misses < 0:
		return fmt.Errorf("see alert %s: miss count %d is negative", fingerprint, misses)
	}
	a.LastSeenAt, a.MissCount = lastSeen, misses
	return tx.top.PutAlert(a)
}

// RecordFinding implements Book.
func (tx *overlayTx) RecordFinding(r FindingRecord) error { return tx.top.RecordFinding(r) }

// Findings implements Book: the base's, then those recorded through the
// overlay, which are newer.
func (tx *overlayTx) Findings(account string, since time.Time) ([]FindingRecord, error) {
	fs, err := tx.base.Findings(account, since)
	if err != nil {
		return nil, err
	}
	mine, _ := tx.top.Findings(account, since)
	fs = append(fs, mine...)
	slices.SortStableFunc(fs, func(x, y FindingRecord) int { return x.At.Compare(y.At) })
	return fs, nil
}

// silences returns every silence, by id: the base's as changed through the
// overlay, and those added through it.
func (tx *overlayTx) silences() ([]Silence, error) {
	theirs, err := tx.base.Silences(time.Time{})
	if err != nil {
		return nil, err
	}
	all := slices.Clone(tx.top.m.silences)
	for _, s := range theirs {
		if _, changed := slices.BinarySearchFunc(all, s.ID, bySilenceID); !changed {
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(x, y Silence) int { return bySilenceID(x, y.ID) })
	return all, nil
}

func bySilenceID(s Silence, id int64) int { return cmp.Compare(s.ID, id) }

// AddSilence implements Book, with an id after every silence of the base.
func (tx *overlayTx) AddSilence(s Silence) (int64, error) {
	all, err := tx.silences()
	if err != nil {
		return 0, err
	}
	if len(all) > 0 && tx.top.write {
		tx.top.m.lastSilence = max(tx.top.m.lastSilence, all[len(all)-1].ID)
	}
	return tx.top.AddSilence(s)
}

// Silences implements Book.
func (tx *overlayTx) Silences(activeAt time.Time) ([]Silence, error) {
	all, err := tx.silences()
	if err != nil {
		return nil, err
	}
	return newestFirst(all, activeAt), nil
}

// Silenced implements Book.
func (tx *overlayTx) Silenced(rule, account string, at time.Time) (Silence, bool, error) {
	all, err := tx.silences()
	if err != nil {
		return Silence{}, false, err
	}
	s, ok := Silencing(all, rule, account, at)
	return s, ok, nil
}

// ExpireSilence implements Book: a silence of the base is copied to the
// top, expired.
func (tx *overlayTx) ExpireSilence(id int64, at time.Time) error {
	if err := tx.top.writable(); err != nil {
		return fmt.Errorf("expire silence %d: %w", id, err)
	}
	if _, mine := slices.BinarySearchFunc(tx.top.m.silences, id, bySilenceID); !mine {
		all, err := tx.silences()
		if err != nil {
			return err
		}
		if i, ok := slices.BinarySearchFunc(all, id, bySilenceID); ok {
			tx.top.putSilence(all[i])
		}
	}
	return tx.top.ExpireSilence(id, at)
}

// Enqueue implements Outbox.
func (tx *overlayTx) Enqueue(item OutboxItem) (int64, error) { return tx.top.Enqueue(item) }

// Due implements Outbox.
func (tx *overlayTx) Due(now time.Time, limit int) ([]OutboxItem, error) {
	return tx.top.Due(now, limit)
}

// Claim implements Outbox.
func (tx *overlayTx) Claim(owner string, ids []int64, now, until time.Time) ([]int64, error) {
	return tx.top.Claim(owner, ids, now, until)
}

// Release implements Outbox.
func (tx *overlayTx) Release(owner string) (int, error) { return tx.top.Release(owner) }

// MarkSent implements Outbox.
func (tx *overlayTx) MarkSent(id int64, owner string, at time.Time) error {
	return tx.top.MarkSent(id, owner, at)
}

// MarkFailed implements Outbox.
func (tx *overlayTx) MarkFailed(id int64, owner string, at time.Time, errText string, next time.Time, giveUp bool) error {
	return tx.top.MarkFailed(id, owner, at, errText, next, giveUp)
}

// Dead implements Outbox.
func (tx *overlayTx) Dead() ([]OutboxItem, error) { return tx.top.Dead() }

// MessagesSentSince implements Outbox.
func (tx *overlayTx) MessagesSentSince(receiver string, since time.Time) (int, error) {
	return tx.top.MessagesSentSince(receiver, since)
}
