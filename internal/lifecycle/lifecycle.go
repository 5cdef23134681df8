// Package lifecycle keeps alerts across polls, restarts and CronJob runs: a
// finding fires once, repeats after its severity's interval, resolves once
// it has been absent for a few evaluations (so a flapping condition does not
// resolve and fire again on every poll), and is silenced or inhibited
// without being forgotten. Every notification goes through an outbox:
// written in the same transaction as the alert's new state, sent after, so
// a crash in between means it is sent after the restart, never lost; and
// claimed by one sender before it is sent, so processes sharing the state
// send it once.
//
// The package owns its model (Alert, Silence, FindingRecord, OutboxItem)
// and the ports it needs from storage (Book, Outbox, Tx, Store; see
// ports.go). The state store implements them on SQLite; Memory in memory
// for replay and rule tests; Overlay over another Store for a dry run.
package lifecycle

import (
	"fmt"
	"slices"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/rules"
)

// Policy tunes the lifecycle.
type Policy struct {
	// Repeat is how long a firing alert waits before it is sent again, per
	// severity; 0 (or a nil map) never repeats.
	Repeat map[billing.Severity]time.Duration
	// ResolveAfter is how many evaluations in a row a finding must be absent
	// before its alert resolves; less than 1 means 1.
	ResolveAfter int
	// DigestAt is the time of day (UTC, as an offset from midnight) at which
	// info notifications go out together as one daily digest per receiver.
	DigestAt time.Duration
	// Immediate sends every notification as soon as it is decided, one
	// message each, in the order decided: no daily digest, and no pacing.
	// Replay, rule tests and dry runs print what was decided this way.
	Immediate bool
}

// DefaultDigestAt is 09:00 UTC.
const DefaultDigestAt = 9 * time.Hour

// NextDigest returns the first digest time at or after now.
func (p Policy) NextDigest(now time.Time) time.Time {
	now = now.UTC()
	at := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Add(p.DigestAt)
	if at.Before(now) {
		at = at.AddDate(0, 0, 1)
	}
	return at
}

// Decide applies one evaluation of an account to its alerts and returns the
// notifications due, resolutions first. holding is every finding that held,
// as the rules' Check returned them; explain completes one. judged says
// which rules were evaluated (after a blind poll only the source rule was),
// so alerts of other rules neither resolve nor count as missing. A finding
// is inhibited while an alert of a rule that inhibits it fires on the same
// account, hysteresis included; Decide marks such findings in holding.
// Every holding finding is recorded, silenced and inhibited ones too.
func Decide(b Book, account string, holding []billing.Finding, explain func(billing.Finding) billing.Finding,
	judged func(rule string) bool, state billing.AccountState, now time.Time, p Policy) ([]alert.Notification, error) {
	// An account holds a handful of findings and alerts at a time, and
	// Decide runs after every poll: slices searched in place, not maps.
	fingerprint := billing.Fingerprint
	if m, ok := b.(*memTx); ok && m.write {
		fingerprint = m.m.fingerprint
	}
	fps := make([]string, len(holding))
	for i, f := range holding {
		fps[i] = fingerprint(f.Rule, f.Account, f.Entity)
	}
	held := func(fp string) bool { return slices.Contains(fps, fp) }

	// Which firing alerts stop now, and which keep firing (and inhibiting).
	var firingAlerts []Alert
	var changed []alertChange
	var err error
	if m, ok := b.(*memTx); ok && m.write {
		// A Memory's write transaction lends Decide the slices it used
		// at the previous poll.
		firingAlerts, changed = m.firingOf(account), m.m.changed[:0]
		defer func() { m.m.changed = changed }()
	} else if firingAlerts, err = b.FiringAlerts(account); err != nil {
		return nil, err
	}
	after := max(p.ResolveAfter, 1)
	var firingRules []string
	var out []alert.Notification
	for _, a := range firingAlerts {
		if held(a.Fingerprint) || !judged(a.Rule) {
			firingRules = append(firingRules, a.Rule)
			continue
		}
		a.MissCount++
		if a.MissCount < after {
			firingRules = append(firingRules, a.Rule)
			changed = append(changed, alertChange{a, true})
			continue
		}
		a.State, a.ResolvedAt = Resolved, now
		if a.Finding == nil {
			// Read without it: the notification and the alert stored
			// resolved need it.
			whole, _, err := b.Alert(a.Fingerprint)
			if err != nil {
				return nil, err
			}
			a.Finding = whole.Finding
		}
		changed = append(changed, alertChange{a, false})
		n, err := DecodePayload(a.Finding)
		if err != nil {
			return nil, fmt.Errorf("read stored finding %s: %w", a.Fingerprint, err)
		}
		n.Status, n.At, n.Repeat = alert.StatusResolved, now, false
		n.Finding.State = state
		if _, silenced, err := b.Silenced(a.Rule, a.Account, now); err != nil {
			return nil, err
		} else if !silenced {
			out = append(out, n)
		}
	}
	if len(firingRules) > 0 {
		for i := range holding {
			f := &holding[i]
			if f.InhibitedBy == "" {
				inhibitors := rules.InhibitorsOf(f.Rule)
				if j := slices.IndexFunc(inhibitors, func(r string) bool { return slices.Contains(firingRules, r) }); j >= 0 {
					f.InhibitedBy = inhibitors[j]
				}
			}
		}
	}
	for i, f := range holding {
		// The firing alerts of holding findings are as read: decideOne
		// takes them from firingAlerts rather than reading them again.
		n, c, err := decideOne(b, account, f, fps[i], firingAlerts, explain, now, p)
		if err != nil {
			return nil, err
		}
		if n != nil {
			out = append(out, *n)
		}
		if c.a.Fingerprint != "" {
			changed = append(changed, c)
		}
	}
	for _, c := range changed {
		if c.seen {
			err = b.SeeAlert(c.a.Fingerprint, c.a.LastSeenAt, c.a.MissCount)
		} else {
			err = b.PutAlert(c.a)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// alertChange is an alert Decide writes: whole, or, when seen, only its
// LastSeenAt and MissCount (an alert firing on, seen again or missed
// within the hysteresis, as most are at most polls). Those go with
// Book.SeeAlert: the whole alert, its finding a kilobyte and more, was
// most of what a poll wrote.
type alertChange struct {
	a    Alert
	seen bool
}

// decideOne handles one holding finding, whose fingerprint is fp: it
// records it and returns the notification due, if any, and the alert's
// change (zero if none). firing has account's firing alerts, as read.
func decideOne(b Book, account string, f billing.Finding, fp string, firing []Alert, explain func(billing.Finding) billing.Finding,
	now time.Time, p Policy) (*alert.Notification, alertChange, error) {
	_, silenced, err := b.Silenced(f.Rule, f.Account, now)
	if err != nil {
		return nil, alertChange{}, err
	}
	var a Alert
	i := slices.IndexFunc(firing, func(a Alert) bool { return a.Fingerprint == fp })
	ok := i >= 0
	switch {
	case ok:
		a = firing[i]
	case f.Account == account:
		// Not among its account's firing alerts, so not firing: a stored
		// alert that is not firing is replaced, never read, so it is not
		// looked up. On PostgreSQL that look-up was a round trip in the
		// middle of the poll's transaction, at every poll of an account
		// with a silenced or inhibited finding.
	default:
		if a, ok, err = b.Alert(fp); err != nil {
			return nil, alertChange{}, err
		}
	}
	rec := FindingRecord{Account: f.Account, Rule: f.Rule, Entity: f.Entity, Fingerprint: fp,
		Severity: f.Severity, At: now, Silenced: silenced}
	var n *alert.Notification
	seen := false
	isFiring := ok && a.State == Firing
	switch {
	case !isFiring && (silenced || f.InhibitedBy != ""):
		// Recorded, not sent; it fires when the silence or the inhibition
		// ends, if it still holds.
		a = Alert{}
	case !isFiring:
		ef := explain(f)
		n = &alert.Notification{Status: alert.StatusFiring, Finding: ef, At: now}
		body, err := EncodePayload(*n)
		if err != nil {
			return nil, alertChange{}, fmt.Errorf("encode finding %s: %w", fp, err)
		}
		rec.Summary = ef.Summary
		a = Alert{Fingerprint: fp, Account: f.Account, Rule: f.Rule, Entity: f.Entity, Severity: f.Severity,
			State: Firing, FiredAt: now, LastSentAt: now, LastSeenAt: now, Finding: body}
	default:
		a.LastSeenAt, a.MissCount = now, 0
		escalated := f.Severity.Rank() > a.Severity.Rank()
		every := p.Repeat[f.Severity]
		due := escalated || (every > 0 && now.Sub(a.LastSentAt) >= every)
		seen = true
		if due && !silenced && f.InhibitedBy == "" && a.AckedBy == "" {
			f.FiringSince = a.FiredAt
			ef := explain(f)
			n = &alert.Notification{Status: alert.StatusFiring, Finding: ef, At: now, Repeat: true}
			body, err := EncodePayload(*n)
			if err != nil {
				return nil, alertChange{}, fmt.Errorf("encode finding %s: %w", fp, err)
			}
			rec.Summary = ef.Summary
			a.Severity, a.LastSentAt, a.Finding = f.Severity, now, body
			seen = false
		}
	}
	if err := b.RecordFinding(rec); err != nil {
		return nil, alertChange{}, err
	}
	return n, alertChange{a, seen}, nil
}

// Enqueue writes one outbox item per notification and receiver that wants
// it. Call it in the transaction that decided the notifications. Info
// notifications wait for the next daily digest, unless p is Immediate.
func Enqueue(o Outbox, ns []alert.Notification, receivers []alert.Receiver, now time.Time, p Policy) error {
	for _, n := range ns {
		due := now
		if n.Finding.Severity == billing.SeverityInfo && !p.Immediate {
			due = p.NextDigest(now)
		}
		body, err := EncodePayload(n)
		if err != nil {
			return fmt.Errorf("encode notification: %w", err)
		}
		for _, r := range receivers {
			if !r.Wants(n) {
				continue
			}
			if _, err := o.Enqueue(OutboxItem{Receiver: r.Name, Fingerprint: n.Finding.Fingerprint(), Status: State(n.Status),
				Payload: body, CreatedAt: now, NextAttemptAt: due}); err != nil {
				return err
			}
		}
	}
	return nil
}
