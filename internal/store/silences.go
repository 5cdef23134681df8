package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Silence mutes the findings of one rule on one account from Start until
// End (exclusive), or until it is expired early.
type Silence struct {
	// ID is assigned by AddSilence; ids are never reused.
	ID int64
	// Rule and Account select what is silenced; empty matches any.
	Rule, Account string
	Start, End    time.Time
	// Comment says why; it is required.
	Comment   string
	CreatedBy string
	// ExpiredAt is when ExpireSilence ended the silence early; zero if not.
	ExpiredAt time.Time
}

// AddSilence stores s and returns its id. End must be after Start and
// Comment must not be empty; ID and ExpiredAt must be zero.
func (tx *Tx) AddSilence(s Silence) (int64, error) {
	id, err := tx.addSilence(s)
	if err != nil {
		return 0, fmt.Errorf("add silence of rule %q on account %q: %w", s.Rule, s.Account, err)
	}
	return id, nil
}

func (tx *Tx) addSilence(s Silence) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	switch {
	case s.ID != 0:
		return 0, fmt.Errorf("the silence already has id %d", s.ID)
	case !s.ExpiredAt.IsZero():
		return 0, errors.New("a new silence cannot be expired")
	case strings.TrimSpace(s.Comment) == "":
		return 0, errors.New("a silence needs a comment saying why")
	}
	start, err := nanos(s.Start)
	if err != nil {
		return 0, fmt.Errorf("start: %w", err)
	}
	end, err := nanos(s.End)
	if err != nil {
		return 0, fmt.Errorf("end: %w", err)
	}
	if end <= start {
		return 0, fmt.Errorf("end %s is not after start %s", fmtTime(s.End), fmtTime(s.Start))
	}
	r, err := tx.exec(`INSERT INTO silences (rule, account, start_at, end_at, comment, created_by)
		VALUES (?, ?, ?, ?, ?, ?)`, s.Rule, s.Account, start, end, s.Comment, s.CreatedBy)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

const silenceColumns = "id, rule, account, start_at, end_at, comment, created_by, expired_at"

// activeSQL selects the silences active at ?1.
const activeSQL = "start_at <= ?1 AND ?1 < end_at AND (expired_at IS NULL OR ?1 < expired_at)"

// Silences returns the silences active at activeAt, or all of them when
// activeAt is zero, newest first.
func (tx *Tx) Silences(activeAt time.Time) ([]Silence, error) {
	var ss []Silence
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

// Silenced returns an active silence at at that matches rule and account
// (the one lasting longest when several do), and false when none does.
func (tx *Tx) Silenced(rule, account string, at time.Time) (Silence, bool, error) {
	n, err := nanos(at)
	if err == nil {
		var ss []Silence
		ss, err = tx.silences("SELECT "+silenceColumns+" FROM silences WHERE "+activeSQL+`
			AND rule IN ('', ?2) AND account IN ('', ?3)
			ORDER BY coalesce(min(end_at, expired_at), end_at) DESC, id DESC LIMIT 1`, n, rule, account)
		if err == nil && len(ss) > 0 {
			return ss[0], true, nil
		}
	}
	if err != nil {
		return Silence{}, false, fmt.Errorf("check silences for rule %q on account %q: %w", rule, account, err)
	}
	return Silence{}, false, nil
}

// ExpireSilence ends silence id at at. An unknown id, a silence already
// expired, or one that ended by itself before at is an error.
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
	s := ss[0]
	switch {
	case !s.ExpiredAt.IsZero():
		return fmt.Errorf("it was already expired at %s", fmtTime(s.ExpiredAt))
	case !at.Before(s.End):
		return fmt.Errorf("it already ended at %s", fmtTime(s.End))
	}
	_, err = tx.exec("UPDATE silences SET expired_at = ? WHERE id = ?", n, id)
	return err
}

func (tx *Tx) silences(query string, args ...any) ([]Silence, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ss []Silence
	for rows.Next() {
		var s Silence
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
