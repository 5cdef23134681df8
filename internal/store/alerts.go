package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
)

// RecordFinding implements lifecycle.Book.
func (tx *Tx) RecordFinding(r lifecycle.FindingRecord) error {
	if err := tx.recordFinding(r); err != nil {
		return fmt.Errorf("record finding %s of account %q: %w", r.Rule, r.Account, err)
	}
	return nil
}

func (tx *Tx) recordFinding(r lifecycle.FindingRecord) error {
	if err := tx.writable(); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	at, err := nanos(r.At)
	if err != nil {
		return err
	}
	return tx.execLaterRow("findings", fmt.Sprintf("record finding %s of account %q", r.Fingerprint, r.Account),
		`INSERT INTO findings (account, rule, entity, fingerprint, severity, at, silenced, summary)
		VALUES `, "(?, ?, ?, ?, ?, ?, ?, ?)", "", "",
		r.Account, r.Rule, r.Entity, r.Fingerprint, string(r.Severity), at, r.Silenced, r.Summary)
}

// Findings implements lifecycle.Book.
func (tx *Tx) Findings(account string, since time.Time) ([]lifecycle.FindingRecord, error) {
	fs, err := tx.findings(account, since)
	if err != nil {
		return nil, fmt.Errorf("read findings of account %q: %w", account, err)
	}
	return fs, nil
}

func (tx *Tx) findings(account string, from time.Time) ([]lifecycle.FindingRecord, error) {
	lo, err := since(from)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query(`SELECT account, rule, entity, fingerprint, severity, at, silenced, summary
		FROM findings WHERE (?1 = '' OR account = ?1) AND at >= ?2 ORDER BY at, id`, account, lo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []lifecycle.FindingRecord
	for rows.Next() {
		var r lifecycle.FindingRecord
		var at int64
		if err := rows.Scan(&r.Account, &r.Rule, &r.Entity, &r.Fingerprint, &r.Severity, &at,
			&r.Silenced, &r.Summary); err != nil {
			return nil, tx.s.classify(err)
		}
		r.At = fromNanos(at)
		fs = append(fs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return fs, nil
}

// PutAlert implements lifecycle.Book.
func (tx *Tx) PutAlert(a lifecycle.Alert) error {
	if err := tx.putAlert(a); err != nil {
		fp := a.Fingerprint
		if fp == "" {
			fp = billing.Fingerprint(a.Rule, a.Account, a.Entity)
		}
		return fmt.Errorf("store alert %s (%s of account %q): %w", fp, a.Rule, a.Account, err)
	}
	return nil
}

func (tx *Tx) putAlert(a lifecycle.Alert) error {
	if err := tx.writable(); err != nil {
		return err
	}
	if err := a.Check(); err != nil {
		return err
	}
	fired, err := nanos(a.FiredAt)
	if err != nil {
		return fmt.Errorf("fired at: %w", err)
	}
	var times [4]sql.NullInt64
	for i, t := range []time.Time{a.LastSentAt, a.ResolvedAt, a.LastSeenAt, a.AckedAt} {
		if times[i], err = optNanos(t); err != nil {
			return err
		}
	}
	receivers, err := json.Marshal(a.Receivers)
	if err != nil {
		return err
	}
	if len(a.Receivers) == 0 {
		receivers = []byte("{}")
	}
	var finding sql.NullString
	if a.Finding != nil {
		finding = sql.NullString{String: string(a.Finding), Valid: true}
	}
	return tx.execLaterRow("alerts", fmt.Sprintf("store alert %s (%s of account %q)", a.Fingerprint, a.Rule, a.Account),
		`INSERT INTO alerts (fingerprint, account, rule, entity, severity, state, fired_at,
		last_sent_at, resolved_at, last_seen_at, miss_count, finding, receivers, acked_by, acked_at)
		VALUES `, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", `
		ON CONFLICT (fingerprint) DO UPDATE SET
			account = excluded.account, rule = excluded.rule, entity = excluded.entity,
			severity = excluded.severity, state = excluded.state, fired_at = excluded.fired_at,
			last_sent_at = excluded.last_sent_at, resolved_at = excluded.resolved_at,
			last_seen_at = excluded.last_seen_at, miss_count = excluded.miss_count,
			finding = excluded.finding, receivers = excluded.receivers,
			acked_by = excluded.acked_by, acked_at = excluded.acked_at`, a.Fingerprint,
		a.Fingerprint, a.Account, a.Rule, a.Entity, string(a.Severity), string(a.State), fired,
		times[0], times[1], times[2], a.MissCount, finding, string(receivers), a.AckedBy, times[3])
}

// SeeAlert implements lifecycle.Book. In a pipelined transaction the alerts
// seen at the polls written together are one statement.
func (tx *Tx) SeeAlert(fingerprint string, lastSeen time.Time, misses int) error {
	if err := tx.seeAlert(fingerprint, lastSeen, misses); err != nil {
		return fmt.Errorf("see alert %s: %w", fingerprint, err)
	}
	return nil
}

func (tx *Tx) seeAlert(fp string, lastSeen time.Time, misses int) error {
	if err := tx.writable(); err != nil {
		return err
	}
	if misses < 0 {
		return fmt.Errorf("miss count %d is negative", misses)
	}
	seen, err := optNanos(lastSeen)
	if err != nil {
		return fmt.Errorf("last seen: %w", err)
	}
	if tx.pipe != nil {
		return tx.execLaterRow("alerts", "see alert "+fp, seeAlertHead, seeAlertRow, seeAlertTail, fp, fp, seen, misses)
	}
	res, err := tx.exec(seeAlertHead+seeAlertRow+seeAlertTail, fp, seen, misses)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return tx.s.classify(err)
	} else if n != 1 {
		return lifecycle.ErrNotFiring
	}
	return nil
}

// The statement of SeeAlert, in rows (rowsOf): the columns of a VALUES list
// are column1, column2 and so on in both PostgreSQL and SQLite, and typed
// by the casts.
const (
	seeAlertHead = "UPDATE alerts SET last_seen_at = v.column2, miss_count = v.column3 FROM (VALUES "
	seeAlertRow  = "(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS INTEGER))"
	seeAlertTail = ") AS v WHERE alerts.fingerprint = v.column1 AND alerts.state = 'firing'"
)

// The columns scanAlerts reads: alertColumns, and firingColumns, which
// read no finding (NULL in its place), for FiringAlerts.
const (
	alertColumns  = alertsHead + "finding" + alertsTail
	firingColumns = alertsHead + "NULL" + alertsTail
	alertsHead    = `fingerprint, account, rule, entity, severity, state, fired_at, last_sent_at,
	resolved_at, last_seen_at, miss_count, `
	alertsTail = ", receivers, acked_by, acked_at"
	// firingAlertsQuery reads an account's firing alerts as Alerts does.
	firingAlertsQuery = "SELECT " + firingColumns + " FROM alerts WHERE account = ? AND state = 'firing' ORDER BY fired_at, fingerprint"
)

// Alert implements lifecycle.Book.
func (tx *Tx) Alert(fingerprint string) (lifecycle.Alert, bool, error) {
	as, err := tx.alerts("SELECT "+alertColumns+" FROM alerts WHERE fingerprint = ?", fingerprint)
	if err != nil {
		return lifecycle.Alert{}, false, fmt.Errorf("read alert %s: %w", fingerprint, err)
	}
	if len(as) == 0 {
		return lifecycle.Alert{}, false, nil
	}
	return as[0], true, nil
}

// Alerts implements lifecycle.Book.
func (tx *Tx) Alerts(account string, state lifecycle.State) ([]lifecycle.Alert, error) {
	if state != "" && state != lifecycle.Firing && state != lifecycle.Resolved {
		return nil, fmt.Errorf("read alerts of account %q: unknown state %q: want firing, resolved or empty", account, state)
	}
	q, args := alertsQuery(account, state)
	as, err := tx.alerts(q, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts of account %q: %w", account, err)
	}
	return as, nil
}

// FiringAlerts implements lifecycle.Book. The firing alerts of an account
// are read in every poll's transaction, and their findings were most of
// the bytes of the reads of a poll.
func (tx *Tx) FiringAlerts(account string) ([]lifecycle.Alert, error) {
	if p := tx.pipe; p != nil && p.pre.haveFiring && account == p.pre.account {
		// Read with BEGIN, once.
		p.pre.haveFiring = false
		return p.pre.firing, nil
	}
	as, err := tx.alerts(firingAlertsQuery, account)
	if err != nil {
		return nil, fmt.Errorf("read the firing alerts of account %q: %w", account, err)
	}
	return as, nil
}

// alertsQuery returns the query that reads the alerts of an account (all
// when "") in a state (any when ""), and its arguments. Each case has a
// query of its own: PostgreSQL keeps no plan of a prepared statement whose
// conditions apply or not depending on its arguments ("? = ” OR account =
// ?": the plan kept would have to scan the whole table), so it planned one
// for every run, and the firing alerts of an account are read in every
// poll's transaction (a tenth of the server's CPU per poll).
func alertsQuery(account string, state lifecycle.State) (string, []any) {
	var where []string
	var args []any
	if account != "" {
		where, args = append(where, "account = ?"), append(args, account)
	}
	if state != "" {
		where, args = append(where, "state = ?"), append(args, string(state))
	}
	q := "SELECT " + alertColumns + " FROM alerts"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY fired_at, fingerprint", args
}

func (tx *Tx) alerts(query string, args ...any) ([]lifecycle.Alert, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tx.scanAlerts(rows)
}

// rowScanner is the rows of a query, from database/sql or from a pgx
// batch.
type rowScanner interface {
	Next() bool
	Scan(...any) error
	Err() error
}

// scanAlerts reads rows of alertColumns or firingColumns.
func (tx *Tx) scanAlerts(rows rowScanner) ([]lifecycle.Alert, error) {
	var as []lifecycle.Alert
	for rows.Next() {
		var a lifecycle.Alert
		var fired int64
		var sent, resolved, seen, acked sql.NullInt64
		var finding sql.NullString
		var receivers string
		if err := rows.Scan(&a.Fingerprint, &a.Account, &a.Rule, &a.Entity, &a.Severity, &a.State, &fired,
			&sent, &resolved, &seen, &a.MissCount, &finding, &receivers, &a.AckedBy, &acked); err != nil {
			return nil, tx.s.classify(err)
		}
		a.FiredAt, a.LastSentAt, a.ResolvedAt = fromNanos(fired), fromNull(sent), fromNull(resolved)
		a.LastSeenAt, a.AckedAt = fromNull(seen), fromNull(acked)
		if finding.Valid {
			a.Finding = []byte(finding.String)
		}
		if err := json.Unmarshal([]byte(receivers), &a.Receivers); err != nil {
			return nil, fmt.Errorf("alert %s: receivers: %w", a.Fingerprint, err)
		}
		if len(a.Receivers) == 0 {
			a.Receivers = nil
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return as, nil
}
