package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// OutboxItem is one notification for one receiver. It is enqueued in the
// same transaction that decides it and marked after it is sent, so a crash in
// between sends it again after the restart: at least once, never lost.
type OutboxItem struct {
	// ID is assigned by Enqueue; ids are never reused.
	ID          int64
	Receiver    string
	Fingerprint string
	// Status is Firing or Resolved.
	Status string
	// Payload is the notification as JSON, opaque to the store.
	Payload []byte
	// CreatedAt is required. NextAttemptAt is when the item is next due;
	// Enqueue sets it to CreatedAt when zero.
	CreatedAt, NextAttemptAt time.Time
	// Attempts counts delivery attempts; LastError and LastAttemptAt
	// describe the last one. Enqueue requires them zero.
	Attempts      int
	LastError     string
	LastAttemptAt time.Time
}

// Delivery states of an outbox item.
const (
	deliveryPending = "pending"
	deliverySent    = "sent"
	deliveryDead    = "dead"
)

// Enqueue stores a pending item and returns its id.
func (tx *Tx) Enqueue(item OutboxItem) (int64, error) {
	id, err := tx.enqueue(item)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s notification of %s for receiver %q: %w",
			item.Status, item.Fingerprint, item.Receiver, err)
	}
	return id, nil
}

func (tx *Tx) enqueue(item OutboxItem) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	switch {
	case item.ID != 0:
		return 0, fmt.Errorf("the item already has id %d", item.ID)
	case item.Receiver == "":
		return 0, errors.New("empty receiver")
	case item.Fingerprint == "":
		return 0, errors.New("empty fingerprint")
	case item.Status != Firing && item.Status != Resolved:
		return 0, fmt.Errorf("unknown status %q: want firing or resolved", item.Status)
	case !json.Valid(item.Payload):
		return 0, errors.New("the payload is not valid JSON")
	case item.Attempts != 0 || item.LastError != "" || !item.LastAttemptAt.IsZero():
		return 0, errors.New("a new item has no attempts")
	}
	created, err := nanos(item.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("created at: %w", err)
	}
	next := created
	if !item.NextAttemptAt.IsZero() {
		if next, err = nanos(item.NextAttemptAt); err != nil {
			return 0, fmt.Errorf("next attempt at: %w", err)
		}
	}
	r, err := tx.exec(`INSERT INTO outbox (receiver, fingerprint, status, payload, created_at,
		next_attempt_at, attempts, last_error, delivery) VALUES (?, ?, ?, ?, ?, ?, 0, '', ?)`,
		item.Receiver, item.Fingerprint, item.Status, string(item.Payload), created, next, deliveryPending)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

const outboxColumns = `id, receiver, fingerprint, status, payload, created_at, next_attempt_at,
	attempts, last_error, last_attempt_at`

// Due returns up to limit pending items whose NextAttemptAt is at or before
// now, oldest first; limit <= 0 means no limit. Due claims nothing: two
// processes calling it at once get the same items.
func (tx *Tx) Due(now time.Time, limit int) ([]OutboxItem, error) {
	if limit <= 0 {
		limit = -1 // SQLite's "no limit"
	}
	n, err := nanos(now)
	if err == nil {
		var items []OutboxItem
		items, err = tx.outbox("SELECT "+outboxColumns+` FROM outbox
			WHERE delivery = 'pending' AND next_attempt_at <= ? ORDER BY created_at, id LIMIT ?`, n, limit)
		if err == nil {
			return items, nil
		}
	}
	return nil, fmt.Errorf("read due notifications: %w", err)
}

// Dead returns the items given up on, oldest first.
func (tx *Tx) Dead() ([]OutboxItem, error) {
	items, err := tx.outbox("SELECT " + outboxColumns + " FROM outbox WHERE delivery = 'dead' ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("read dead notifications: %w", err)
	}
	return items, nil
}

// PendingCount returns how many items are waiting to be sent, due or not.
func (tx *Tx) PendingCount() (int, error) {
	var n int
	if err := tx.queryRow([]any{&n}, "SELECT count(*) FROM outbox WHERE delivery = 'pending'"); err != nil {
		return 0, fmt.Errorf("count pending notifications: %w", err)
	}
	return n, nil
}

// MarkSent records that pending item id was delivered at at; it is never
// due again. An unknown id, or an item already sent or given up on, is an
// error.
func (tx *Tx) MarkSent(id int64, at time.Time) error {
	if err := tx.mark(id, at, func(n int64) error {
		_, err := tx.exec(`UPDATE outbox SET delivery = 'sent', sent_at = ?, last_attempt_at = ?,
			attempts = attempts + 1 WHERE id = ?`, n, n, id)
		return err
	}); err != nil {
		return fmt.Errorf("mark notification %d sent: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed attempt at at with its error text. The item is
// due again at next, or, when giveUp is true, never again: it is dead and
// listed by Dead. An unknown id, or an item already sent or given up on, is
// an error.
func (tx *Tx) MarkFailed(id int64, at time.Time, errText string, next time.Time, giveUp bool) error {
	if err := tx.mark(id, at, func(n int64) error {
		if errText == "" {
			return errors.New("empty error text")
		}
		delivery, nextN := deliveryDead, n
		if !giveUp {
			var err error
			if nextN, err = nanos(next); err != nil {
				return fmt.Errorf("next attempt: %w", err)
			}
			delivery = deliveryPending
		}
		_, err := tx.exec(`UPDATE outbox SET delivery = ?, last_error = ?, last_attempt_at = ?,
			next_attempt_at = ?, attempts = attempts + 1 WHERE id = ?`, delivery, errText, n, nextN, id)
		return err
	}); err != nil {
		return fmt.Errorf("mark notification %d failed: %w", id, err)
	}
	return nil
}

// mark checks that item id is pending and runs update with at in nanoseconds.
func (tx *Tx) mark(id int64, at time.Time, update func(at int64) error) error {
	if err := tx.writable(); err != nil {
		return err
	}
	n, err := nanos(at)
	if err != nil {
		return err
	}
	var delivery string
	var sent, last sql.NullInt64
	err = tx.queryRow([]any{&delivery, &sent, &last}, "SELECT delivery, sent_at, last_attempt_at FROM outbox WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	switch delivery {
	case deliverySent:
		return fmt.Errorf("it was already sent at %s", fmtTime(fromNull(sent)))
	case deliveryDead:
		return fmt.Errorf("it was given up on at %s", fmtTime(fromNull(last)))
	}
	return update(n)
}

func (tx *Tx) outbox(query string, args ...any) ([]OutboxItem, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var created, next int64
		var last sql.NullInt64
		var payload string
		if err := rows.Scan(&it.ID, &it.Receiver, &it.Fingerprint, &it.Status, &payload, &created, &next,
			&it.Attempts, &it.LastError, &last); err != nil {
			return nil, tx.s.classify(err)
		}
		it.Payload = []byte(payload)
		it.CreatedAt, it.NextAttemptAt, it.LastAttemptAt = fromNanos(created), fromNanos(next), fromNull(last)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return items, nil
}

// MessagesSentSince counts the messages delivered to receiver at or after
// since, for pacing. Items sent together as one digest share their sent
// time and count once.
func (tx *Tx) MessagesSentSince(receiver string, since time.Time) (int, error) {
	var n int
	t, err := nanos(since)
	if err == nil {
		err = tx.tx.QueryRowContext(tx.ctx, `SELECT COUNT(DISTINCT sent_at) FROM outbox
			WHERE receiver = ? AND delivery = 'sent' AND sent_at >= ?`, receiver, t).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count messages sent to %s: %w", receiver, err)
	}
	return n, nil
}
