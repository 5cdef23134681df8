package store

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
)

// AddSilence implements lifecycle.Book.
func (tx *Tx) AddSilence(s lifecycle.Silence) (int64, error) {
	id, err := tx.addSilence(s)
	if err != nil {
		return 0, fmt.Errorf("add silence of rule %q on account %q: %w", s.Rule, s.Account, err)
	}
	return id, nil
}

func (tx *Tx) addSilence(s lifecycle.Silence) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	if err := s.Check(); err != nil {
		return 0, err
	}
	start, err := nanos(s.Start)
	if err != nil {
		return 0, fmt.Errorf("start: %w", err)
	}
	end, err := nanos(s.End)
	if err != nil {
		return 0, fmt.Errorf("end: %w", err)
	}
	tx.silencesChanged()
	var id int64
	err = tx.queryRow([]any{&id}, `INSERT INTO silences (rule, account, start_at, end_at, comment, created_by)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, s.Rule, s.Account, start, end, s.Comment, s.CreatedBy)
	return id, err
}

const silenceColumns = "id, rule, account, start_at, end_at, comment, created_by, expired_at"

// activeSQL selects the silences active at ?1.
const activeSQL = "start_at <= ?1 AND ?1 < end_at AND (expired_at IS NULL OR ?1 < expired_at)"

// Silences implements lifecycle.Book.
func (tx *Tx) Silences(activeAt time.Time) ([]lifecycle.Silence, error) {
	var ss []lifecycle.Silence
	var err error
	if activeAt.IsZero() {
		ss, err = tx.silences("SELECT " + silenceColumns + " FROM silences ORDER BY id DESC")
	} else {
		var at int64
		if at, err = nanos(activeAt); err == nil {
			ss, err = tx.silences("SELECT "+silenceColumns+" FROM silences WHERE "+activeSQL+" ORDER BY id DESC", at)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read silences: %w", err)
	}
	return ss, nil
}

// Silenced implements lifecycle.Book.
func (tx *Tx) Silenced(rule, account string, at time.Time) (lifecycle.Silence, bool, error) {
	n, err := nanos(at)
	if p := tx.pipe; err == nil && p != nil && p.pre.haveSilences && p.pre.account == account {
		// Every silence that could apply to the account was read with
		// BEGIN; choose among them as the query below does.
		s, ok := lifecycle.Silencing(p.pre.silences, rule, account, at)
		return s, ok, nil
	}
	if err == nil {
		var ss []lifecycle.Silence
		ss, err = tx.silences("SELECT "+silenceColumns+" FROM silences WHERE "+activeSQL+`
			AND rule IN ('', ?2) AND account IN ('', ?3)
			ORDER BY coalesce(`+tx.s.d.least+`(end_at, expired_at), end_at) DESC, id DESC LIMIT 1`, n, rule, account)
		if err == nil && len(ss) > 0 {
			return ss[0], true, nil
		}
	}
	if err != nil {
		return lifecycle.Silence{}, false, fmt.Errorf("check silences for rule %q on account %q: %w", rule, account, err)
	}
	return lifecycle.Silence{}, false, nil
}

// ExpireSilence implements lifecycle.Book.
func (tx *Tx) ExpireSilence(id int64, at time.Time) error {
	if err := tx.expireSilence(id, at); err != nil {
		return fmt.Errorf("expire silence %d: %w", id, err)
	}
	return nil
}

func (tx *Tx) expireSilence(id int64, at time.Time) error {
	if err := tx.writable(); err != nil {
		return err
	}
	n, err := nanos(at)
	if err != nil {
		return err
	}
	ss, err := tx.silences("SELECT "+silenceColumns+" FROM silences WHERE id = ?", id)
	if err != nil {
		return err
	}
	if len(ss) == 0 {
		return ErrNotFound
	}
	if _, err := ss[0].Expire(at); err != nil {
		return err
	}
	tx.silencesChanged()
	_, err = tx.exec("UPDATE silences SET expired_at = ? WHERE id = ?", n, id)
	return err
}

func (tx *Tx) silences(query string, args ...any) ([]lifecycle.Silence, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tx.scanSilences(rows)
}

// silencesChanged drops the silences read with BEGIN (prefetched), once
// the transaction adds or expires one: Silenced asks again after.
func (tx *Tx) silencesChanged() {
	if tx.pipe != nil {
		tx.pipe.pre.haveSilences = false
	}
}

// scanSilences reads rows of silenceColumns.
func (tx *Tx) scanSilences(rows rowScanner) ([]lifecycle.Silence, error) {
	var ss []lifecycle.Silence
	for rows.Next() {
		var s lifecycle.Silence
		var start, end int64
		var expired sql.NullInt64
		if err := rows.Scan(&s.ID, &s.Rule, &s.Account, &start, &end, &s.Comment, &s.CreatedBy, &expired); err != nil {
			return nil, tx.s.classify(err)
		}
		s.Start, s.End, s.ExpiredAt = fromNanos(start), fromNanos(end), fromNull(expired)
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return ss, nil
}
