package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL keeps the same tables as SQLite, in the connection's current
// schema (search_path), and the same contract:
//   - Writers take turns: every write transaction first takes one
//     transaction-scoped advisory lock, waiting at most Options.BusyTimeout
//     (lock_timeout) before failing with ErrLocked, as SQLite's BEGIN
//     IMMEDIATE does. Each query's reasoning (read, then write what was
//     read) therefore holds on both databases unchanged. The one exception
//     is UpdateAccount, for the poll of one account: it shares that lock
//     with other accounts' and takes one of its account, so replicas
//     write their accounts' polls at once; its statements are sent in a
//     few batches, not one at a time (pipeline.go). Reads never wait: a
//     read transaction is a REPEATABLE READ snapshot.
//   - A database whose schema is newer than this guardd knows, or that
//     has tables but no schema_version table (someone else's), is refused
//     before anything is written.
// The SQLite-only parts (the file checks, WAL, the daemon lock file) have
// no counterpart: PostgreSQL keeps its own files.

// writeLock is the advisory lock key writers take turns with ("guardd" in
// ASCII); the schema's name is hashed into it, so that two guardd states in
// two schemas of one database do not wait for each other.
const writeLock int64 = 0x677561726464

// poolSize is how many connections a Store keeps to PostgreSQL, open and
// idle alike (the Claimer's among them). A replica writes each account's
// poll in a transaction of its own as its poll returns, several at once
// (accountWriters), beside its claims, mailbox turns, deliveries and
// reads: database/sql keeps only 2 idle connections by default, and
// closed every other one after its transaction, so that most polls paid
// for a new connection (a server process forked, a SCRAM handshake, every
// statement prepared and planned again). Unbounded, replicas would also
// run the server out of connections (max_connections, 100 by default): 16
// per replica leaves room for several.
const poolSize = 16

// accountWriters bounds the account transactions (UpdateAccount) a Store
// runs on PostgreSQL at once; the pool's other connections stay free for
// the Claimer, the mailbox turns, deliveries and reads. Every poll of a
// replica writes as it returns, up to poll.concurrency at once, and more
// transactions at once than the server has cores cost more CPU each, not
// less time: backends switching and spinning on shared locks. Probed on
// the 2-core test machine (a poll's two inserts in a transaction, 2,000
// accounts), the server's CPU per transaction was 252 us with 2 at once,
// 269 with 4, 324 with 8, 506 with 16 and 765 with 48; and 3 was the best
// bound while each account had a transaction of its own. Since the
// accounts that wait are written together (together.go), one writer does
// better still: everything that waits goes in its next transaction. In
// BenchmarkReplicaCycle, three replicas of 64 polls in flight, paired
// runs: 1.57 and 1.84x the ideal with 3 writers, 1.64 and 1.50 with 2, 1.34
// and 1.60 with 1 (PostgreSQL 286 and 385 us an account, against 414 and
// 502 with 3). There one writer each wrote some 2,900 polls a second for
// the three replicas, which shared the two cores with the server, where a
// 15-minute schedule over 100,000 accounts asks for about 110.
const accountWriters = 1

var postgresDialect = &dialect{
	name:   DriverPostgres,
	dollar: true,
	least:  "least",
	tables: `SELECT
		count(*) FILTER (WHERE table_name = 'schema_version'),
		count(*) FILTER (WHERE table_name <> 'schema_version')
		FROM information_schema.tables WHERE table_schema = current_schema()`,
	view:  sql.LevelRepeatableRead,
	write: sql.LevelReadCommitted, // and pgReadCommitted, for the pipelined ones
	// The wait is bounded by lock_timeout, set on each connection as it
	// opens (openPostgresConfig): set in each transaction, it was one more
	// round trip of every account's poll.
	lockWrite: func(ctx context.Context, tx *sql.Tx, s *Store) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", s.lock)
		return err
	},
	accountsLock: postgresAccountsLock,
	pipeline:     true,
	classify:     classifyPostgres,
}

// postgresAccountsLock is the statements that take the locks of a writer
// of accounts alone: the lock shared with other accounts' writers,
// exclusive of Update's, first (an aggregate's query would take it after
// the others); then each account's own, apart from the claims'
// (claims.go), in one statement, in the order of their keys. An account's
// key is a 32-bit hash of its name, so two accounts' keys may be the
// same: taken in the accounts' order, two batches whose accounts' keys
// collided could each hold a key the other waited for, a deadlock that
// the server ended after a second by failing one of them
// (TestPostgresAccountLocksByKey). Taken in the keys' order, every writer
// takes them in one order.
func postgresAccountsLock(s *Store, accounts []string) []statement {
	return []statement{
		{"SELECT pg_advisory_xact_lock_shared($1)", []any{s.lock}},
		{accountKeysLock, []any{int32(s.lock >> 32), accounts}},
	}
}

const accountKeysLock = `SELECT count(pg_advisory_xact_lock($1::int, k))
	FROM (SELECT DISTINCT hashtext(a) AS k FROM unnest($2::text[]) AS a ORDER BY k) AS keys`

// OpenPostgres opens the guardd state kept in the PostgreSQL database dsn
// names (a libpq connection string or URL), in the connection's current
// schema, and brings its schema up to date, one transaction per migration.
// It refuses a database whose schema is newer than this guardd knows or
// that holds tables that are not guardd's. The dsn holds a password: no
// error names it (nor the dsn), only the database's name and host.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	return openPostgres(ctx, dsn, opts, migrations)
}

// CheckDSN says what is wrong with a PostgreSQL connection string, without
// quoting it, or returns "".
func CheckDSN(dsn string) string {
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return "not a PostgreSQL connection string: " + badDSN
	}
	return ""
}

// badDSN never says more: pgx's error quotes the string, password and all.
const badDSN = "it does not parse as a libpq key=value string or a postgres:// URL (it is not shown: it holds a password)"

func openPostgres(ctx context.Context, dsn string, opts Options, migs []migration) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("open state database on PostgreSQL: the connection string is not one: " + badDSN)
	}
	name := fmt.Sprintf("PostgreSQL database %q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	s, err := openPostgresConfig(ctx, cfg, name, opts, migs)
	if err != nil {
		return nil, redact(fmt.Errorf("open state database %s: %w", name, err), cfg.Password, dsn)
	}
	return s, nil
}

func openPostgresConfig(ctx context.Context, cfg *pgx.ConnConfig, name string, opts Options, migs []migration) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	ms := max(opts.BusyTimeout.Milliseconds(), 1)
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d", ms))
		return err
	}))
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	s := &Store{db: db, d: postgresDialect, name: name, opts: opts, writers: make(chan struct{}, accountWriters)}
	if err := s.initPostgres(ctx, migs); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) initPostgres(ctx context.Context, migs []migration) error {
	var schema sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return s.classify(err)
	}
	if !schema.Valid {
		return errors.New("the connection has no current schema (search_path names no schema that exists)")
	}
	if err := s.db.QueryRowContext(ctx, "SELECT $1::bigint # hashtextextended($2, 0)", writeLock, schema.String).Scan(&s.lock); err != nil {
		return s.classify(err)
	}
	v, err := s.readVersion(ctx)
	if err != nil {
		return err
	}
	if v > len(migs) {
		return s.newerError(v, len(migs))
	}
	s.version, err = s.migrate(ctx, migs)
	return err
}

// classifyPostgres classifies PostgreSQL's SQLSTATEs: a lock waited for too
// long is ErrLocked.
func classifyPostgres(s *Store, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "55P03": // lock_not_available: lock_timeout passed
		return fmt.Errorf("%w (waited %s): %w", ErrLocked, s.opts.BusyTimeout, err)
	}
	return err
}

// redact replaces every occurrence of the secrets in err's text: the
// password, and the whole connection string.
func redact(err error, secrets ...string) error {
	msg := err.Error()
	changed := false
	for _, sec := range secrets {
		if sec != "" && strings.Contains(msg, sec) {
			msg = strings.ReplaceAll(msg, sec, "<secret>")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return redacted{msg: msg, err: err}
}

// redacted is an error whose text had a secret taken out. It does not
// unwrap (the original's text has the secret), but it answers errors.Is
// for what it wraps (ErrLocked).
type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string        { return r.msg }
func (r redacted) Is(target error) bool { return errors.Is(r.err, target) }
