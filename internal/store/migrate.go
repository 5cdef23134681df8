package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one step of the schema, applied in a transaction of its own.
// Steps are never edited once released: a change is a new step.
type migration struct {
	name string
	sql  string
}

// migrations lists the schema steps in order; the schema version is the
// number of steps applied. Every table is STRICT, so a column typed INTEGER
// (times, counts) never holds a REAL.
var migrations = []migration{
	{"observations, first-seen facts and polls", `
CREATE TABLE schema_version (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT;

-- One row per observation; data is history.EncodeObservation's JSON.
CREATE TABLE observations (
	id      INTEGER PRIMARY KEY,
	account TEXT    NOT NULL,
	at      INTEGER NOT NULL,
	data    TEXT    NOT NULL,
	UNIQUE (account, at)
) STRICT;
CREATE INDEX observations_at ON observations (at);

-- When guardd first saw each grant or charge: providers back-date grants.
CREATE TABLE first_seen (
	account TEXT    NOT NULL,
	kind    TEXT    NOT NULL CHECK (kind IN ('grant', 'charge')),
	id      TEXT    NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (account, kind, id)
) STRICT, WITHOUT ROWID;

-- Every poll attempt, failed ones included: a guard that cannot see is news.
CREATE TABLE polls (
	id      INTEGER PRIMARY KEY,
	account TEXT    NOT NULL,
	at      INTEGER NOT NULL,
	ok      INTEGER NOT NULL CHECK (ok IN (0, 1)),
	error   TEXT    NOT NULL,
	missing TEXT    NOT NULL -- comma-separated billing.Part values
) STRICT;
CREATE INDEX polls_account_at ON polls (account, at);
CREATE INDEX polls_at ON polls (at);
`},
	{"findings log, alerts and silences", `
CREATE TABLE findings (
	id          INTEGER PRIMARY KEY,
	account     TEXT    NOT NULL,
	rule        TEXT    NOT NULL,
	entity      TEXT    NOT NULL,
	fingerprint TEXT    NOT NULL,
	severity    TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
	at          INTEGER NOT NULL,
	silenced    INTEGER NOT NULL CHECK (silenced IN (0, 1)),
	summary     TEXT    NOT NULL
) STRICT;
CREATE INDEX findings_account_at ON findings (account, at);
CREATE INDEX findings_at ON findings (at);

CREATE TABLE alerts (
	fingerprint  TEXT    PRIMARY KEY,
	account      TEXT    NOT NULL,
	rule         TEXT    NOT NULL,
	entity       TEXT    NOT NULL,
	severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
	state        TEXT    NOT NULL CHECK (state IN ('firing', 'resolved')),
	fired_at     INTEGER NOT NULL,
	last_sent_at INTEGER,
	resolved_at  INTEGER,
	last_seen_at INTEGER,
	miss_count   INTEGER NOT NULL CHECK (miss_count >= 0),
	finding      TEXT,
	receivers    TEXT    NOT NULL, -- JSON object: receiver name → {channel, message_id}
	acked_by     TEXT    NOT NULL,
	acked_at     INTEGER
) STRICT;
CREATE INDEX alerts_account_state ON alerts (account, state);

CREATE TABLE silences (
	id         INTEGER PRIMARY KEY AUTOINCREMENT, -- ids are shown to people: never reused
	rule       TEXT    NOT NULL, -- '' matches any rule
	account    TEXT    NOT NULL, -- '' matches any account
	start_at   INTEGER NOT NULL,
	end_at     INTEGER NOT NULL,
	comment    TEXT    NOT NULL CHECK (comment <> ''),
	created_by TEXT    NOT NULL,
	expired_at INTEGER,
	CHECK (end_at > start_at)
) STRICT;
`},
	{"notification outbox", `
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	receiver        TEXT    NOT NULL,
	fingerprint     TEXT    NOT NULL,
	status          TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
	payload         TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	attempts        INTEGER NOT NULL CHECK (attempts >= 0),
	last_error      TEXT    NOT NULL,
	last_attempt_at INTEGER,
	delivery        TEXT    NOT NULL CHECK (delivery IN ('pending', 'sent', 'dead')),
	sent_at         INTEGER
) STRICT;
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivery = 'pending';
CREATE INDEX outbox_delivery ON outbox (delivery, id);
`},
	{"receipts read from mailboxes, and the mailboxes' cursors", `
-- How far each mailbox has been read (mailbox.Cursor, opaque text).
CREATE TABLE mailbox_cursors (
	mailbox    TEXT    PRIMARY KEY,
	cursor     TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Every receipt filed under an account, once per payment (key), with the
-- cursor that read it: a charge until an observation of its account
-- carries it (delivered_at), then kept so that a mailbox read again never
-- counts it twice. Only the extracted charge is kept, never a message.
CREATE TABLE receipts (
	key          TEXT    PRIMARY KEY,
	account      TEXT    NOT NULL,
	mailbox      TEXT    NOT NULL,
	charge       TEXT    NOT NULL, -- JSON: id, paid_at, amount, tax, currency, trigger; {} for a problem
	problem      TEXT    NOT NULL,
	read_at      INTEGER NOT NULL,
	delivered_at INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX receipts_pending ON receipts (account, read_at) WHERE delivered_at IS NULL;
`},
	{"why each unavailable part of a poll could not be read", `
-- JSON object from part to reason, for the parts listed in missing; polls
-- stored before this step have '{}' and their reasons are lost.
ALTER TABLE polls ADD COLUMN reasons TEXT NOT NULL DEFAULT '{}';
`},
	{"claims on outbox items", `
-- The sender that claimed a pending item to send it, until when: another
-- process leaves the item alone meanwhile. '' and NULL: not claimed.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
`},
	{"ledger checkpoints", `
-- Each account's ledger as of the newest observation it holds, in the
-- ledger package's checkpoint encoding (version and fingerprint repeated
-- here), written in the transaction of each poll: a new process continues
-- it instead of rebuilding the ledger from the stored observations.
CREATE TABLE ledger_checkpoints (
	account     TEXT    PRIMARY KEY,
	version     INTEGER NOT NULL CHECK (version > 0),
	fingerprint TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	data        BLOB    NOT NULL
) STRICT;
`},
}

// migrate applies the steps the database lacks and returns its version. Each
// step re-reads the version inside its own write transaction, so two
// processes opening a new file at once apply every step once.
func (s *Store) migrate(ctx context.Context, migs []migration) (int, error) {
	for {
		v, done, err := s.step(ctx, migs)
		if err != nil || done {
			return v, err
		}
	}
}

// step applies the next missing migration, or reports done.
func (s *Store) step(ctx context.Context, migs []migration) (version int, done bool, err error) {
	// Check first without the write lock: an up-to-date database is never
	// locked for writing by Open.
	v, err := s.readVersion(ctx)
	if err != nil {
		return 0, false, err
	}
	if v > len(migs) {
		return v, false, newerError(v, len(migs))
	}
	if v == len(migs) {
		return v, true, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return v, false, fmt.Errorf("migrate to schema version %d: %w", v+1, s.classify(err))
	}
	defer tx.Rollback()
	v, err = versionIn(ctx, tx)
	if err != nil {
		return 0, false, s.classify(fmt.Errorf("read schema version: %w", err))
	}
	switch {
	case v > len(migs):
		return v, false, newerError(v, len(migs))
	case v == len(migs):
		return v, true, nil
	}
	m := migs[v]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return v, false, fmt.Errorf("migrate to schema version %d (%s): %w", v+1, m.name, s.classify(err))
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
		v+1, time.Now().UnixNano()); err != nil {
		return v, false, fmt.Errorf("migrate to schema version %d (%s): %w", v+1, m.name, s.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return v, false, fmt.Errorf("migrate to schema version %d (%s): commit: %w", v+1, m.name, s.classify(err))
	}
	return v + 1, v+1 == len(migs), nil
}

// versionIn reads the schema version inside tx; 0 when the table is missing.
func versionIn(ctx context.Context, tx *sql.Tx) (int, error) {
	var has int
	if err := tx.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'").Scan(&has); err != nil {
		return 0, err
	}
	if has == 0 {
		return 0, nil
	}
	var v int
	err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&v)
	return v, err
}
