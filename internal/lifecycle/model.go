package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// State is where an alert is in its lifecycle.
type State string

// Alert states.
const (
	Firing   State = "firing"
	Resolved State = "resolved"
)

// ReceiverRef says where a receiver put its message about an alert, so that
// a later message can update or thread onto it (a Slack channel and ts).
type ReceiverRef struct {
	Channel   string `json:"channel"`
	MessageID string `json:"message_id"`
}

// Alert is the lifecycle state of one fingerprint. Decide makes every
// transition; a Book validates and keeps it.
type Alert struct {
	Fingerprint, Account, Rule, Entity string
	Severity                           billing.Severity
	// State is Firing or Resolved.
	State State
	// FiredAt is when the alert (last) started firing; it is required.
	// ResolvedAt is set exactly when State is Resolved. LastSentAt and
	// LastSeenAt are zero until set.
	FiredAt, LastSentAt, ResolvedAt, LastSeenAt time.Time
	// MissCount counts consecutive evaluations at which the finding did not
	// hold (for hysteresis).
	MissCount int
	// Finding is the finding as last explained, in the stored format (see
	// EncodePayload); nil when unset.
	Finding []byte
	// Receivers maps a receiver name to where its message went; nil when
	// empty.
	Receivers map[string]ReceiverRef
	AckedBy   string
	AckedAt   time.Time
}

// Check validates a as every Book does before keeping it, and fills in an
// empty Fingerprint. The fingerprint must be billing.Fingerprint(Rule,
// Account, Entity); FiredAt is required, and ResolvedAt is set exactly when
// State is Resolved.
func (a *Alert) Check() error {
	return a.check(nil)
}

// check is Check, taking fingerprints from of when it is not nil.
func (a *Alert) check(of fingerprinter) error {
	fp, err := identify(a.Rule, a.Account, a.Entity, a.Fingerprint, a.Severity, of)
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
	case a.FiredAt.IsZero():
		return fmt.Errorf("fired at: %w", errNoTime)
	}
	for name := range a.Receivers {
		if name == "" {
			return errors.New("a receiver has an empty name")
		}
	}
	a.Fingerprint = fp
	return nil
}

// FindingRecord is one finding that held at one evaluation, whether it was
// notified or not.
type FindingRecord struct {
	Account, Rule, Entity string
	// Fingerprint is billing.Fingerprint(Rule, Account, Entity); Check fills
	// it in when empty and rejects any other value.
	Fingerprint string
	Severity    billing.Severity
	// At is the evaluation time; it is required.
	At time.Time
	// Silenced is true when a silence kept the finding from being notified.
	Silenced bool
	Summary  string
}

// Check validates r as every Book does before logging it, and fills in an
// empty Fingerprint.
func (r *FindingRecord) Check() error { return r.check(nil) }

// check is Check, taking fingerprints from of when it is not nil.
func (r *FindingRecord) check(of fingerprinter) error {
	fp, err := identify(r.Rule, r.Account, r.Entity, r.Fingerprint, r.Severity, of)
	if err != nil {
		return err
	}
	if r.At.IsZero() {
		return errNoTime
	}
	r.Fingerprint = fp
	return nil
}

// fingerprinter returns billing.Fingerprint(rule, account, entity), from a
// memory of those it took (Memory's).
type fingerprinter func(rule, account, entity string) string

// identify validates the rule, account, entity and severity of a finding or
// alert and returns its fingerprint, filling in an empty one. It takes the
// fingerprint from of when of is not nil.
func identify(rule, account, entity, fingerprint string, sev billing.Severity, of fingerprinter) (string, error) {
	switch {
	case account == "":
		return "", errors.New("empty account")
	case rule == "":
		return "", errors.New("empty rule")
	}
	if _, err := billing.ParseSeverity(string(sev)); err != nil {
		return "", err
	}
	switch {
	case of != nil:
		if want := of(rule, account, entity); fingerprint == "" || fingerprint == want {
			return want, nil
		}
	case fingerprint == "":
		return billing.Fingerprint(rule, account, entity), nil
	case billing.IsFingerprint(fingerprint, rule, account, entity):
		return fingerprint, nil
	}
	return "", fmt.Errorf("fingerprint %s does not match rule %q, account %q and entity %q (want %s)",
		fingerprint, rule, account, entity, billing.Fingerprint(rule, account, entity))
}

// Silence mutes the findings of one rule on one account from Start until
// End (exclusive), or until it is expired early.
type Silence struct {
	// ID is assigned by AddSilence; ids grow and are never reused.
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

// Check validates a new silence as every Book does before adding it: End
// must be after Start and Comment must not be empty; ID and ExpiredAt must
// be zero.
func (s Silence) Check() error {
	switch {
	case s.ID != 0:
		return fmt.Errorf("the silence already has id %d", s.ID)
	case !s.ExpiredAt.IsZero():
		return errors.New("a new silence cannot be expired")
	case strings.TrimSpace(s.Comment) == "":
		return errors.New("a silence needs a comment saying why")
	case s.Start.IsZero():
		return fmt.Errorf("start: %w", errNoTime)
	case s.End.IsZero():
		return fmt.Errorf("end: %w", errNoTime)
	case !s.End.After(s.Start):
		return fmt.Errorf("end %s is not after start %s", fmtTime(s.End), fmtTime(s.Start))
	}
	return nil
}

// Expire returns s ended early at at, or why it cannot be: it was already
// expired, or it ended by itself at or before at.
func (s Silence) Expire(at time.Time) (Silence, error) {
	switch {
	case at.IsZero():
		return s, errNoTime
	case !s.ExpiredAt.IsZero():
		return s, fmt.Errorf("it was already expired at %s", fmtTime(s.ExpiredAt))
	case !at.Before(s.End):
		return s, fmt.Errorf("it already ended at %s", fmtTime(s.End))
	}
	s.ExpiredAt = at
	return s, nil
}

// ActiveAt reports whether s mutes findings at t.
func (s Silence) ActiveAt(t time.Time) bool {
	return !t.Before(s.Start) && t.Before(s.End) && (s.ExpiredAt.IsZero() || t.Before(s.ExpiredAt))
}

// Matches reports whether s applies to rule on account.
func (s Silence) Matches(rule, account string) bool {
	return (s.Rule == "" || s.Rule == rule) && (s.Account == "" || s.Account == account)
}

// Ends returns when s stops muting: End, or ExpiredAt when it was expired
// before End.
func (s Silence) Ends() time.Time {
	if !s.ExpiredAt.IsZero() && s.ExpiredAt.Before(s.End) {
		return s.ExpiredAt
	}
	return s.End
}

// Silencing returns the silence among ss that mutes rule on account at at
// as Book.Silenced chooses it: the one lasting longest, the newest among
// equals.
func Silencing(ss []Silence, rule, account string, at time.Time) (Silence, bool) {
	var best Silence
	found := false
	for _, s := range ss {
		if !s.ActiveAt(at) || !s.Matches(rule, account) {
			continue
		}
		if c := s.Ends().Compare(best.Ends()); !found || c > 0 || (c == 0 && s.ID > best.ID) {
			best, found = s, true
		}
	}
	return best, found
}

// OutboxItem is one notification for one receiver. It is enqueued in the
// same transaction that decides it, claimed by one sender before it is sent
// and marked after, so a crash in between sends it again once the claim's
// lease has run out: at least once, never lost, and never by two senders
// at once.
type OutboxItem struct {
	// ID is assigned by Enqueue; ids grow in the order items are enqueued
	// and are never reused.
	ID          int64
	Receiver    string
	Fingerprint string
	// Status is Firing or Resolved.
	Status State
	// Payload is the notification in the stored format (see
	// EncodePayload), opaque to the Outbox.
	Payload []byte
	// CreatedAt is required. NextAttemptAt is when the item is next due;
	// Enqueue sets it to CreatedAt when zero.
	CreatedAt, NextAttemptAt time.Time
	// Attempts counts delivery attempts; LastError and LastAttemptAt
	// describe the last one. Enqueue requires them zero.
	Attempts      int
	LastError     string
	LastAttemptAt time.Time
	// ClaimedBy names the sender that claimed the item to send it (see
	// Outbox.Claim) and ClaimedUntil is when its lease ends; empty and
	// zero when nobody has. Marking the item sent or failed ends the
	// claim. Enqueue requires them empty.
	ClaimedBy    string
	ClaimedUntil time.Time
}

// Check validates a new item as every Outbox does before enqueueing it.
func (it OutboxItem) Check() error {
	switch {
	case it.ID != 0:
		return fmt.Errorf("the item already has id %d", it.ID)
	case it.Receiver == "":
		return errors.New("empty receiver")
	case it.Fingerprint == "":
		return errors.New("empty fingerprint")
	case it.Status != Firing && it.Status != Resolved:
		return fmt.Errorf("unknown status %q: want firing or resolved", it.Status)
	case !json.Valid(it.Payload):
		return errors.New("the payload is not valid JSON")
	case it.Attempts != 0 || it.LastError != "" || !it.LastAttemptAt.IsZero():
		return errors.New("a new item has no attempts")
	case it.ClaimedBy != "" || !it.ClaimedUntil.IsZero():
		return errors.New("a new item is not claimed")
	case it.CreatedAt.IsZero():
		return fmt.Errorf("created at: %w", errNoTime)
	}
	return nil
}

// Delivery is where an outbox item is: waiting to be sent, sent, or given
// up on (dead).
type Delivery string

// Delivery states.
const (
	Pending Delivery = "pending"
	Sent    Delivery = "sent"
	Dead    Delivery = "dead"
)

// CheckPending says why an item can no longer be marked sent or failed:
// only a pending item can. sentAt and lastAttempt are the item's times.
func CheckPending(d Delivery, sentAt, lastAttempt time.Time) error {
	switch d {
	case Sent:
		return fmt.Errorf("%w at %s", ErrAlreadySent, fmtTime(sentAt))
	case Dead:
		return fmt.Errorf("it was given up on at %s", fmtTime(lastAttempt))
	}
	return nil
}

// CheckLease validates a claim: an owner, and a lease that ends after now.
func CheckLease(owner string, now, until time.Time) error {
	switch {
	case owner == "":
		return errors.New("empty owner")
	case now.IsZero():
		return fmt.Errorf("now: %w", errNoTime)
	case !until.After(now):
		return fmt.Errorf("the lease ends at %s, not after %s", fmtTime(until), fmtTime(now))
	}
	return nil
}

// Claimable reports whether owner may claim a pending item at now: it is
// due, and nobody else holds a claim on it whose lease lasts past now.
func Claimable(owner string, it OutboxItem, now time.Time) bool {
	return !it.NextAttemptAt.After(now) && (it.ClaimedBy == "" || it.ClaimedBy == owner || !it.ClaimedUntil.After(now))
}

// CheckClaim says why owner may not mark an item claimed by claimedBy
// until until: only the sender that holds the claim may. A claim whose
// lease ran out is still held until another sender claims the item.
func CheckClaim(owner, claimedBy string, until time.Time) error {
	switch {
	case claimedBy == "":
		return fmt.Errorf("%w: nobody claimed it", ErrNotClaimed)
	case claimedBy != owner:
		return fmt.Errorf("%w: %s claimed it until %s", ErrNotClaimed, claimedBy, fmtTime(until))
	}
	return nil
}

// CheckFailure validates what MarkFailed records: an error text, and when
// the item is not given up on, its next attempt.
func CheckFailure(errText string, next time.Time, giveUp bool) error {
	switch {
	case errText == "":
		return errors.New("empty error text")
	case !giveUp && next.IsZero():
		return fmt.Errorf("next attempt: %w", errNoTime)
	}
	return nil
}

// ErrNotFound is wrapped by every error about a silence or outbox item id
// that does not exist.
var ErrNotFound = errors.New("not found")

// ErrAlreadySent is wrapped by the error of marking an item that was
// already sent: another sender delivered it, which to a sender means done.
var ErrAlreadySent = errors.New("it was already sent")

// ErrNotClaimed is wrapped by the error of marking an item that the caller
// has not claimed, or whose claim another sender has taken over.
var ErrNotClaimed = errors.New("the caller does not hold its claim")

// ErrNotFiring is wrapped by the error of Book.SeeAlert for an alert that
// is not stored firing.
var ErrNotFiring = errors.New("no such alert firing")

// ErrReadOnly is wrapped by every error of a method that writes called in a
// View transaction.
var ErrReadOnly = errors.New("called in a read-only transaction")

// errNoTime is the error for a required time left zero.
var errNoTime = errors.New("time is not set")

// fmtTime renders a time for error messages.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
