package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// FindingRecord is one finding that held at one evaluation, whether it was
// notified or not.
type FindingRecord struct {
	Account, Rule, Entity string
	// Fingerprint is billing.Fingerprint(Rule, Account, Entity); RecordFinding
	// fills it in when empty and rejects any other value.
	Fingerprint string
	Severity    billing.Severity
	// At is the evaluation time.
	At time.Time
	// Silenced is true when a silence kept the finding from being notified.
	Silenced bool
	Summary  string
}

// checkIdentity validates the rule, account and entity of a finding or
// alert and returns its fingerprint, filling in an empty one.
func checkIdentity(rule, account, entity, fingerprint string, sev billing.Severity) (string, error) {
	switch {
	case account == "":
		return "", errors.New("empty account")
	case rule == "":
		return "", errors.New("empty rule")
	}
	if _, err := billing.ParseSeverity(string(sev)); err != nil {
		return "", err
	}
	want := billing.Fingerprint(rule, account, entity)
	if fingerprint != "" && fingerprint != want {
		return "", fmt.Errorf("fingerprint %s does not match rule %q, account %q and entity %q (want %s)",
			fingerprint, rule, account, entity, want)
	}
	return want, nil
}

// RecordFinding appends r to the findings log.
func (tx *Tx) RecordFinding(r FindingRecord) error {
	if err := tx.recordFinding(r); err != nil {
		return fmt.Errorf("record finding %s of account %q: %w", r.Rule, r.Account, err)
	}
	return nil
}

func (tx *Tx) recordFinding(r FindingRecord) error {
	if err := tx.writable(); err != nil {
		return err
	}
	fp, err := checkIdentity(r.Rule, r.Account, r.Entity, r.Fingerprint, r.Severity)
	if err != nil {
		return err
	}
	at, err := nanos(r.At)
	if err != nil {
		return err
	}
	_, err = tx.exec(`INSERT INTO findings (account, rule, entity, fingerprint, severity, at, silenced, summary)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.Account, r.Rule, r.Entity, fp, string(r.Severity), at, r.Silenced, r.Summary)
	return err
}

// Findings returns the findings logged for account (every account when
// account is empty) at or after since (all when since is zero), oldest
// first.
func (tx *Tx) Findings(account string, since time.Time) ([]FindingRecord, error) {
	fs, err := tx.findings(account, since)
	if err != nil {
		return nil, fmt.Errorf("read findings of account %q: %w", account, err)
	}
	return fs, nil
}

func (tx *Tx) findings(account string, from time.Time) ([]FindingRecord, error) {
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
	var fs []FindingRecord
	for rows.Next() {
		var r FindingRecord
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

// Alert states.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// ReceiverRef says where a receiver put its message about an alert, so that
// a later message can update or thread onto it (a Slack channel and ts).
type ReceiverRef struct {
	Channel   string `json:"channel"`
	MessageID string `json:"message_id"`
}

// Alert is the lifecycle state of one fingerprint. The store validates and
// keeps it; the caller decides every transition.
type Alert struct {
	Fingerprint, Account, Rule, Entity string
	Severity                           billing.Severity
	// State is Firing or Resolved.
	State string
	// FiredAt is when the alert (last) started firing; it is required.
	// ResolvedAt is set exactly when State is Resolved. LastSentAt and
	// LastSeenAt are zero until set.
	FiredAt, LastSentAt, ResolvedAt, LastSeenAt time.Time
	// MissCount counts consecutive evaluations at which the finding did not
	// hold (for hysteresis).
	MissCount int
	// Finding is the finding as last explained, as JSON; nil when unset.
	Finding []byte
	// Receivers maps a receiver name to where its message went; nil when
	// empty.
	Receivers map[string]ReceiverRef
	AckedBy   string
	AckedAt   time.Time
}

// PutAlert inserts a, or replaces the alert with the same fingerprint. The
// fingerprint must be billing.Fingerprint(Rule, Account, Entity) and is filled
// in when empty; FiredAt is required, and ResolvedAt is set exactly when State
// is Resolved.
func (tx *Tx) PutAlert(a Alert) error {
	if err := tx.putAlert(a); err != nil {
		fp := a.Fingerprint
		if fp == "" {
			fp = billing.Fingerprint(a.Rule, a.Account, a.Entity)
		}
		return fmt.Errorf("store alert %s (%s of account %q): %w", fp, a.Rule, a.Account, err)
	}
	return nil
}

func (tx *Tx) putAlert(a Alert) error {
	if err := tx.writable(); err != nil {
		return err
	}
	fp, err := checkIdentity(a.Rule, a.Account, a.Entity, a.Fingerprint, a.Severity)
	if err != nil {
		return err
	}
	switch {
	case a.State != Firing && a.State != Resolved:
		return fmt.Errorf("unknown state %q: want firing or resolved", a.State)
	case a.State == Resolved && a.ResolvedAt.IsZero():
		return errors.New("a resolved alert needs ResolvedAt")
	case a.State == Firing && !a.ResolvedAt.IsZero():
		return fmt.Errorf("a firing alert has no ResolvedAt (got %s)", fmtTime(a.ResolvedAt))
	case a.MissCount < 0:
		return fmt.Errorf("miss count must not be negative (got %d)", a.MissCount)
	case a.Finding != nil && !json.Valid(a.Finding):
		return errors.New("the finding is not valid JSON")
	case a.AckedBy == "" && !a.AckedAt.IsZero():
		return errors.New("AckedAt is set but AckedBy is empty")
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
	for name := range a.Receivers {
		if name == "" {
			return errors.New("a receiver has an empty name")
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
	_, err = tx.exec(`INSERT INTO alerts (fingerprint, account, rule, entity, severity, state, fired_at,
		last_sent_at, resolved_at, last_seen_at, miss_count, finding, receivers, acked_by, acked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET
			account = excluded.account, rule = excluded.rule, entity = excluded.entity,
			severity = excluded.severity, state = excluded.state, fired_at = excluded.fired_at,
			last_sent_at = excluded.last_sent_at, resolved_at = excluded.resolved_at,
			last_seen_at = excluded.last_seen_at, miss_count = excluded.miss_count,
			finding = excluded.finding, receivers = excluded.receivers,
			acked_by = excluded.acked_by, acked_at = excluded.acked_at`,
		fp, a.Account, a.Rule, a.Entity, string(a.Severity), a.State, fired,
		times[0], times[1], times[2], a.MissCount, finding, string(receivers), a.AckedBy, times[3])
	return err
}

const alertColumns = `fingerprint, account, rule, entity, severity, state, fired_at, last_sent_at,
	resolved_at, last_seen_at, miss_count, finding, receivers, acked_by, acked_at`

// Alert returns the alert with the given fingerprint, and false when there
// is none.
func (tx *Tx) Alert(fingerprint string) (Alert, bool, error) {
	as, err := tx.alerts("SELECT "+alertColumns+" FROM alerts WHERE fingerprint = ?", fingerprint)
	if err != nil {
		return Alert{}, false, fmt.Errorf("read alert %s: %w", fingerprint, err)
	}
	if len(as) == 0 {
		return Alert{}, false, nil
	}
	return as[0], true, nil
}

// Alerts returns the alerts of account (every account when account is
// empty) in state (Firing, Resolved, or "" for both), in the order they
// fired.
func (tx *Tx) Alerts(account string, state string) ([]Alert, error) {
	if state != "" && state != Firing && state != Resolved {
		return nil, fmt.Errorf("read alerts of account %q: unknown state %q: want firing, resolved or empty", account, state)
	}
	as, err := tx.alerts("SELECT "+alertColumns+` FROM alerts
		WHERE (?1 = '' OR account = ?1) AND (?2 = '' OR state = ?2) ORDER BY fired_at, fingerprint`,
		account, state)
	if err != nil {
		return nil, fmt.Errorf("read alerts of account %q: %w", account, err)
	}
	return as, nil
}

func (tx *Tx) alerts(query string, args ...any) ([]Alert, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []Alert
	for rows.Next() {
		var a Alert
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
