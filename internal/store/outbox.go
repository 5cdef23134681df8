package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
)

// Enqueue implements lifecycle.Outbox.
func (tx *Tx) Enqueue(item lifecycle.OutboxItem) (int64, error) {
	id, err := tx.enqueue(item)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s notification of %s for receiver %q: %w",
			item.Status, item.Fingerprint, item.Receiver, err)
	}
	return id, nil
}

func (tx *Tx) enqueue(item lifecycle.OutboxItem) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	if err := item.Check(); err != nil {
		return 0, err
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
	var id int64
	err = tx.queryRow([]any{&id}, `INSERT INTO outbox (receiver, fingerprint, status, payload, created_at,
		next_attempt_at, attempts, last_error, delivery) VALUES (?, ?, ?, ?, ?, ?, 0, '', ?) RETURNING id`,
		item.Receiver, item.Fingerprint, string(item.Status), string(item.Payload), created, next, string(lifecycle.Pending))
	return id, err
}

const outboxColumns = `id, receiver, fingerprint, status, payload, created_at, next_attempt_at,
	attempts, last_error, last_attempt_at, claimed_by, claimed_until`

// Due implements lifecycle.Outbox.
func (tx *Tx) Due(now time.Time, limit int) ([]lifecycle.OutboxItem, error) {
	query := "SELECT " + outboxColumns + ` FROM outbox
		WHERE delivery = 'pending' AND next_attempt_at <= ?1 ORDER BY created_at, id`
	if limit > 0 {
		query += " LIMIT ?2"
	}
	n, err := nanos(now)
	if err == nil {
		var items []lifecycle.OutboxItem
		items, err = tx.outbox(query, append([]any{n}, limitArg(limit)...)...)
		if err == nil {
			return items, nil
		}
	}
	return nil, fmt.Errorf("read due notifications: %w", err)
}

// Dead implements lifecycle.Outbox.
func (tx *Tx) Dead() ([]lifecycle.OutboxItem, error) {
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

// Claim implements lifecycle.Outbox.
func (tx *Tx) Claim(owner string, ids []int64, now, until time.Time) ([]int64, error) {
	got, err := tx.claim(owner, ids, now, until)
	if err != nil {
		return nil, fmt.Errorf("claim %d notifications for %s: %w", len(ids), owner, err)
	}
	return got, nil
}

func (tx *Tx) claim(owner string, ids []int64, now, until time.Time) ([]int64, error) {
	if err := tx.writable(); err != nil {
		return nil, err
	}
	if err := lifecycle.CheckLease(owner, now, until); err != nil {
		return nil, err
	}
	n, err := nanos(now)
	if err != nil {
		return nil, fmt.Errorf("now: %w", err)
	}
	u, err := nanos(until)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	for _, id := range ids {
		var one int
		err := tx.queryRow([]any{&one}, "SELECT 1 FROM outbox WHERE id = ?", id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("notification %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	// What lifecycle.Claimable allows, for pending items.
	var got []int64
	for _, id := range ids {
		r, err := tx.exec(`UPDATE outbox SET claimed_by = ?1, claimed_until = ?2
			WHERE id = ?3 AND delivery = 'pending' AND next_attempt_at <= ?4
			AND (claimed_by IN ('', ?1) OR claimed_until IS NULL OR claimed_until <= ?4)`, owner, u, id, n)
		if err != nil {
			return nil, err
		}
		if k, err := r.RowsAffected(); err != nil {
			return nil, err
		} else if k == 1 {
			got = append(got, id)
		}
	}
	return got, nil
}

// Release implements lifecycle.Outbox.
func (tx *Tx) Release(owner string) (int, error) {
	n, err := tx.release(owner)
	if err != nil {
		return 0, fmt.Errorf("release the claims of %s: %w", owner, err)
	}
	return n, nil
}

func (tx *Tx) release(owner string) (int, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	r, err := tx.exec(`UPDATE outbox SET claimed_by = '', claimed_until = NULL
		WHERE delivery = 'pending' AND claimed_by = ?`, owner)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// MarkSent implements lifecycle.Outbox.
func (tx *Tx) MarkSent(id int64, owner string, at time.Time) error {
	if err := tx.mark(id, owner, at, func(n int64) error {
		_, err := tx.exec(`UPDATE outbox SET delivery = 'sent', sent_at = ?, last_attempt_at = ?,
			attempts = attempts + 1, claimed_by = '', claimed_until = NULL WHERE id = ?`, n, n, id)
		return err
	}); err != nil {
		return fmt.Errorf("mark notification %d sent: %w", id, err)
	}
	return nil
}

// MarkFailed implements lifecycle.Outbox.
func (tx *Tx) MarkFailed(id int64, owner string, at time.Time, errText string, next time.Time, giveUp bool) error {
	if err := tx.mark(id, owner, at, func(n int64) error {
		if err := lifecycle.CheckFailure(errText, next, giveUp); err != nil {
			return err
		}
		delivery, nextN := lifecycle.Dead, n
		if !giveUp {
			var err error
			if nextN, err = nanos(next); err != nil {
				return fmt.Errorf("next attempt: %w", err)
			}
			delivery = lifecycle.Pending
		}
		_, err := tx.exec(`UPDATE outbox SET delivery = ?, last_error = ?, last_attempt_at = ?,
			next_attempt_at = ?, attempts = attempts + 1, claimed_by = '', claimed_until = NULL
			WHERE id = ?`, string(delivery), errText, n, nextN, id)
		return err
	}); err != nil {
		return fmt.Errorf("mark notification %d failed: %w", id, err)
	}
	return nil
}

// mark checks that item id is pending and claimed by owner, and runs
// update with at in nanoseconds.
func (tx *Tx) mark(id int64, owner string, at time.Time, update func(at int64) error) error {
	if err := tx.writable(); err != nil {
		return err
	}
	n, err := nanos(at)
	if err != nil {
		return err
	}
	var delivery lifecycle.Delivery
	var sent, last, until sql.NullInt64
	var claimedBy string
	err = tx.queryRow([]any{&delivery, &sent, &last, &claimedBy, &until},
		"SELECT delivery, sent_at, last_attempt_at, claimed_by, claimed_until FROM outbox WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if err := lifecycle.CheckPending(delivery, fromNull(sent), fromNull(last)); err != nil {
		return err
	}
	if err := lifecycle.CheckClaim(owner, claimedBy, fromNull(until)); err != nil {
		return err
	}
	return update(n)
}

func (tx *Tx) outbox(query string, args ...any) ([]lifecycle.OutboxItem, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []lifecycle.OutboxItem
	for rows.Next() {
		var it lifecycle.OutboxItem
		var created, next int64
		var last, until sql.NullInt64
		var payload string
		if err := rows.Scan(&it.ID, &it.Receiver, &it.Fingerprint, &it.Status, &payload, &created, &next,
			&it.Attempts, &it.LastError, &last, &it.ClaimedBy, &until); err != nil {
			return nil, tx.s.classify(err)
		}
		it.Payload = []byte(payload)
		it.CreatedAt, it.NextAttemptAt, it.LastAttemptAt = fromNanos(created), fromNanos(next), fromNull(last)
		it.ClaimedUntil = fromNull(until)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return items, nil
}

// MessagesSentSince implements lifecycle.Outbox.
func (tx *Tx) MessagesSentSince(receiver string, since time.Time) (int, error) {
	var n int
	t, err := nanos(since)
	if err == nil {
		err = tx.queryRow([]any{&n}, `SELECT COUNT(DISTINCT sent_at) FROM outbox
			WHERE receiver = ? AND delivery = 'sent' AND sent_at >= ?`, receiver, t)
	}
	if err != nil {
		return 0, fmt.Errorf("count messages sent to %s: %w", receiver, err)
	}
	return n, nil
}

// limitArg is the argument of a LIMIT ?2 added only for a positive limit.
func limitArg(limit int) []any {
	if limit > 0 {
		return []any{limit}
	}
	return nil
}
