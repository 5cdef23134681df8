package lifecycle

import (
	"context"
	"time"
)

// The ports are what the lifecycle needs from storage: Book, Outbox, Tx and
// Store. The state store (internal/store) implements them on SQLite, Memory
// in memory, and Overlay over another Store; lifecycletest holds the one
// contract suite every implementation passes.

// Book keeps alerts, silences and the log of findings: what Decide reads and
// writes, and what people change (acknowledgements, silences).
//
// Error contract, for every method of Book and Outbox:
//   - A method that writes, called in a View transaction, fails with an error
//     wrapping ErrReadOnly, and writes nothing.
//   - An unknown silence or outbox item id fails with an error wrapping
//     ErrNotFound.
//   - What Alert.Check, FindingRecord.Check, Silence.Check, Silence.Expire,
//     OutboxItem.Check, CheckPending, CheckClaim, CheckLease and
//     CheckFailure reject fails with their error, wrapped with what was
//     being done, and writes nothing.
//   - Any other error is the backend's own (a lock held too long, a time the
//     backend cannot hold, a broken file or connection). Looking something up
//     that is not there is never an error, except by id.
//
// Times come back in UTC. Slices and maps handed to a method or returned by
// one are never shared with the backend.
type Book interface {
	// Alert returns the alert with the given fingerprint, and false when
	// there is none.
	Alert(fingerprint string) (Alert, bool, error)
	// Alerts returns the alerts of account (every account when account is
	// empty) in state (Firing, Resolved, or "" for both), in the order they
	// fired: by FiredAt, then Fingerprint. Another state is an error.
	Alerts(account string, state State) ([]Alert, error)
	// FiringAlerts returns account's firing alerts as Alerts(account,
	// Firing) does, but without their findings (Finding nil): Decide reads
	// them at every poll and needs an alert's finding, a kilobyte or two,
	// only when the alert resolves (from Alert).
	FiringAlerts(account string) ([]Alert, error)
	// PutAlert inserts a, or replaces the alert with the same fingerprint,
	// once a.Check accepts it.
	PutAlert(a Alert) error
	// SeeAlert sets the LastSeenAt and MissCount of the firing alert with
	// the given fingerprint to lastSeen (none when zero, as PutAlert) and
	// misses, and changes nothing else of it: the alert firing on, judged
	// again at a poll. An alert that is
	// not stored firing is an error, where the store can tell at once
	// (PostgreSQL's pipelined transactions cannot: call it for an alert
	// read firing in the same transaction).
	SeeAlert(fingerprint string, lastSeen time.Time, misses int) error

	// RecordFinding appends r to the findings log, once r.Check accepts it.
	RecordFinding(r FindingRecord) error
	// Findings returns the findings logged for account (every account when
	// account is empty) at or after since (all when since is zero), oldest
	// first, and in the order they were recorded among equal times.
	Findings(account string, since time.Time) ([]FindingRecord, error)

	// AddSilence stores s, once s.Check accepts it, and returns its id.
	AddSilence(s Silence) (int64, error)
	// Silences returns the silences active at activeAt, or all of them when
	// activeAt is zero, newest (highest id) first.
	Silences(activeAt time.Time) ([]Silence, error)
	// Silenced returns an active silence at at that matches rule and account
	// (the one lasting longest when several do, the newest among those), and
	// false when none does.
	Silenced(rule, account string, at time.Time) (Silence, bool, error)
	// ExpireSilence ends silence id at at, as Silence.Expire allows.
	ExpireSilence(id int64, at time.Time) error
}

// Outbox keeps the notifications to deliver, one item per receiver. Its
// methods keep Book's error contract.
//
// Several processes may drain one outbox at once (a CronJob's check beside a
// daemon, a check run by hand): a sender claims items in a write
// transaction before it sends them, for a lease, and only the sender that
// holds an item's claim marks it. Another sender leaves the item alone until
// it is marked or the lease runs out; a sender that crashed mid-send leaves
// its claims to run out (or to be released by a sender that can tell it is
// gone), and the items are sent again: at least once, never lost.
type Outbox interface {
	// Enqueue stores a pending item, once item.Check accepts it, and
	// returns its id.
	Enqueue(item OutboxItem) (int64, error)
	// Due returns up to limit pending items whose NextAttemptAt is at or
	// before now, by CreatedAt then id; limit <= 0 means no limit. Due
	// claims nothing and returns claimed items too, with their claim
	// (ClaimedBy, ClaimedUntil): Claim says which a sender may send.
	Due(now time.Time, limit int) ([]OutboxItem, error)
	// Claim claims for owner, until until, those of the items ids that
	// Claimable allows at now (pending, due, and not held by another owner
	// under a lease lasting past now), and returns their ids in the order
	// given; the others are left out, which is no error. Claiming an item
	// owner already holds extends its lease. An unknown id fails with
	// ErrNotFound, and what CheckLease rejects fails; neither claims
	// anything.
	Claim(owner string, ids []int64, now, until time.Time) ([]int64, error)
	// Release ends every claim owner holds on a pending item, at once, and
	// returns how many it ended: for a sender known to be gone.
	Release(owner string) (int, error)
	// MarkSent records that pending item id, claimed by owner, was
	// delivered at at, and ends the claim; it is never due again. An item
	// already sent fails with an error wrapping ErrAlreadySent, a dead one
	// as CheckPending says, and one that owner does not hold (CheckClaim)
	// with an error wrapping ErrNotClaimed.
	MarkSent(id int64, owner string, at time.Time) error
	// MarkFailed records a failed attempt at at with its error text, and
	// ends owner's claim. The item is due again at next or, when giveUp is
	// true, never again: it is dead and listed by Dead. It fails as
	// MarkSent does for an item no longer pending or not owner's.
	MarkFailed(id int64, owner string, at time.Time, errText string, next time.Time, giveUp bool) error
	// Dead returns the items given up on, by CreatedAt then id.
	Dead() ([]OutboxItem, error)
	// MessagesSentSince counts the messages delivered to receiver at or
	// after since, for pacing. Items marked sent at the same time (one
	// digest) count once.
	MessagesSentSince(receiver string, since time.Time) (int, error)
}

// Tx is one transaction over the book and the outbox: what Decide writes and
// the notifications it decides are kept together or not at all.
type Tx interface {
	Book
	Outbox
}

// Store runs transactions. Do not call Update or View from inside fn.
type Store interface {
	// Update runs fn in one write transaction. Everything fn wrote is kept
	// when fn returns nil; nothing is when fn returns an error (which Update
	// returns as is) or panics. Writers take turns.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read transaction: fn sees one consistent state, and
	// methods that write fail with ErrReadOnly.
	View(ctx context.Context, fn func(Tx) error) error
}
