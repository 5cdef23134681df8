// Package store keeps guardd's durable state in an embedded SQLite database:
// the observations of each account (providers keep no balance history, so
// guardd keeps its own), when each grant and charge was first seen, every
// poll attempt, each account's ledger checkpoint (LedgerCheckpoint), a log
// of findings, the lifecycle of each alert, silences, and an outbox of
// notifications not yet delivered.
//
// Several processes may share one file (a CronJob running guardd check every
// 15 minutes, a daemon, a person running guardd silence): the database runs
// in WAL mode, so readers never wait, and writers take the write lock up
// front (BEGIN IMMEDIATE) and queue for at most Options.BusyTimeout before
// failing with ErrLocked. Keep write transactions short. The outbox's claims
// (lifecycle.Outbox) keep them from sending a notification twice, and
// LockDaemon keeps a second daemon off the file.
//
// Every time is stored as Unix nanoseconds in UTC (an INTEGER column, NULL
// when zero), which limits times to the years 1678 to 2262. Amounts are never
// stored as numbers: findings and notification payloads are opaque JSON in
// the lifecycle's stored format, and an observation is the JSON text of
// history.EncodeObservation.
//
// How observations are kept: each is a row of the observations table, at
// its time, holding either its full text (base NULL, as every row written
// before schema version 8) or, when most of it repeats an earlier poll (the
// same credit grants, the same settled cost buckets, the same sources), a
// delta against a base: the full text of an earlier observation of the
// account, in the observation_bases table, shared by the rows that refer to
// it. Package delta (pure Go over bytes, for any backend) holds the delta
// encoding and chooses, poll after poll, the form each observation is
// stored in; a delta is stored only when it rebuilds the full text byte for
// byte, so reading (whole and delta rows side by side) returns exactly what
// the full text decodes to. compact.go does the SQL: the new base is
// written in the transaction of the observation, and Prune deletes a base
// with the last row that refers to it. At 15-minute polls this keeps the
// state's growth per account per day under 100 KB for every provider shape
// (BenchmarkStateGrowth).
//
// The alerts, silences, findings log and outbox belong to the alert
// lifecycle: their types and the ports they are kept through (Book, Outbox,
// Tx, Store) are the lifecycle package's, and this package implements them
// (see Store.Lifecycle).
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Defaults for Options fields left zero.
const (
	DefaultRetention   = 400 * 24 * time.Hour
	DefaultBusyTimeout = 5 * time.Second
)

// sentRetention is how long delivered outbox rows are kept.
const sentRetention = 30 * 24 * time.Hour

// ErrLocked is wrapped by every error caused by another connection holding
// the database's write lock for longer than Options.BusyTimeout.
var ErrLocked = errors.New("state database is locked by another writer")

// ErrNotFound is wrapped by errors about a silence or outbox item id that
// does not exist. It is lifecycle.ErrNotFound, as the ports promise.
var ErrNotFound = lifecycle.ErrNotFound

// Options tune a Store. The zero value is valid: every zero field takes its
// default.
type Options struct {
	// Retention is how long observations, polls and findings are kept by
	// Prune (and resolved alerts, ended silences and dead outbox items,
	// counted from when they ended). Zero means DefaultRetention.
	Retention time.Duration
	// BusyTimeout is how long a writer waits for another writer to finish
	// before failing with ErrLocked. Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Retention < 0 {
		return o, fmt.Errorf("retention must not be negative (got %s)", o.Retention)
	}
	if o.BusyTimeout < 0 {
		return o, fmt.Errorf("busy timeout must not be negative (got %s)", o.BusyTimeout)
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	return o, nil
}

// Store is an open state database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  *dialect
	// path is the SQLite file's path; name what errors call the database
	// (the path, or a PostgreSQL database's name and host, never its
	// password).
	path, name string
	opts       Options
	version    int
	// lock is the PostgreSQL advisory lock writers take turns with.
	lock int64
	// marker is the Store's open marker (marker.go); nil where markers
	// cannot be locked, and on PostgreSQL.
	marker *marker
	// left names the processes that had left the database open, whose
	// ending Open checked the file for.
	left []string
	// damaged is set when the Store meets damage: Close then leaves the
	// marker, so that the next Open checks and refuses the file.
	damaged atomic.Bool
	// stmts are the queries of Tx's methods, each prepared once per
	// connection (see Tx.stmt; SQLite only).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
	// writers holds a token for each account transaction running on
	// PostgreSQL (accountWriters); nil on SQLite, whose writers take
	// turns on the file. queue holds those waiting for one (together.go).
	writers chan struct{}
	queue   writeQueue
}

// Open opens the state database at path, creating the file (mode 0600) if it
// does not exist, and brings its schema up to date, one transaction per
// migration. It never writes to a file that is not a guardd state database,
// or whose schema is newer than this guardd understands, nor, when a process
// that had it open ended without closing it (see marker.go), to one that
// PRAGMA quick_check finds corrupt; each of these is an error naming path.
// A file closed cleanly is not checked whole: that is IntegrityCheck's and
// Check's job. The checks read the file read-only, so a file refused is left
// byte for byte as it was, its -wal and -shm files included (but for a -wal
// left without its -shm, beside which SQLite must create one to read the
// -wal). The parent directory must exist.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	return open(ctx, path, opts, migrations)
}

// open is Open with the list of migrations to apply; tests pass a prefix of
// migrations to create a database at an older version.
func open(ctx context.Context, path string, opts Options, migs []migration) (*Store, error) {
	if path == "" {
		return nil, errors.New("open state database: empty path")
	}
	s, err := openDB(ctx, path, opts, migs)
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	return s, nil
}

func openDB(ctx context.Context, path string, opts Options, migs []migration) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := createFile(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// The whole file is checked when a process left it open, or when no
	// marker can tell.
	var left []leftMarker
	if canLock {
		if left, _, err = markers(abs, time.Now(), true); err != nil {
			return nil, err
		}
	}
	if _, err := check(ctx, abs, opts, len(migs), !canLock || len(left) > 0); err != nil {
		return nil, err
	}
	for _, l := range left {
		// Checked: the next open need not check for it again.
		if err := os.Remove(l.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove open marker: %w", err)
		}
	}
	s := &Store{d: sqliteDialect, path: path, name: path, opts: opts, left: whoOf(left)}
	if canLock {
		if s.marker, err = newMarker(abs); err != nil {
			return nil, err
		}
	}
	if s.db, err = sql.Open("sqlite", dsn(abs, opts.BusyTimeout)); err == nil {
		if err = s.init(ctx, migs); err != nil {
			s.db.Close()
		}
	}
	if err != nil {
		if s.marker != nil {
			s.marker.remove()
		}
		return nil, err
	}
	return s, nil
}

// createFile creates path with mode 0600 unless it exists, so that SQLite
// (which would use 0644) opens a file only its owner can read. It reports a
// missing parent directory or a directory at path clearly, and refuses a file
// shorter than a database page: SQLite takes a 1-byte file for an empty
// database and would write over it.
func createFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return errors.New("it is a directory")
	case err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() < 512:
		return errors.New(notDatabase)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return err
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("directory %s does not exist", dir)
		}
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	// O_EXCL: another process creating the file at the same moment wins,
	// and both then open the same (empty, hence new) database.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn builds the connection string. The "file:" form keeps a path holding
// '?' or '#' intact; the pragmas apply to every connection in the pool, and
// _txlock makes every read-write transaction BEGIN IMMEDIATE.
func dsn(abs string, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", busyTimeout(busy))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return fileURI(abs, q)
}

func busyTimeout(busy time.Duration) string {
	return fmt.Sprintf("busy_timeout(%d)", max(busy.Milliseconds(), 1))
}

func fileURI(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// readOnlyDSN builds the connection string the checks read the file with,
// writing nothing, not even to the -shm file: SQLite's mode=ro alone would
// still write read marks to the -shm, and run WAL recovery into it.
//   - With a -shm file (a process has the database open, or crashed with
//     it open), readonly_shm=1 maps it read-only; the -wal is read as well.
//   - With a -wal but no -shm, the -wal has to be read and SQLite cannot
//     without a -shm: mode=ro lets it create one.
//   - With neither, nothing is using the database and the file is all of
//     it: immutable=1 reads it without locking (check reads again if the
//     file changes meanwhile).
func readOnlyDSN(abs string, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", busyTimeout(busy))
	q.Set("mode", "ro")
	switch {
	case exists(abs + "-shm"):
		q.Set("readonly_shm", "1")
	case nonEmpty(abs + "-wal"):
	default:
		q.Del("mode")
		q.Set("immutable", "1")
	}
	return fileURI(abs, q)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func nonEmpty(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0
}

// check checks the database at abs before anything opens it for writing:
// that it is a guardd state database of a schema version this guardd knows
// (up to known; known < 0 takes any), and, when full, PRAGMA quick_check.
// It opens the file read-only, so a file it refuses is left as it was. When
// the refusal may come from reading the file while another process changed
// it (immutable reads take no lock), it reads again. It returns the schema
// version.
func check(ctx context.Context, abs string, opts Options, known int, full bool) (int, error) {
	for try := 1; ; try++ {
		before := stamp(abs)
		v, err := checkOnce(ctx, abs, opts, known, full)
		if err == nil || try == 3 || stamp(abs) == before {
			return v, err
		}
	}
}

// stamp is what tells that the database files changed.
func stamp(abs string) string {
	var b strings.Builder
	for _, name := range []string{abs, abs + "-wal", abs + "-shm"} {
		if fi, err := os.Stat(name); err == nil {
			fmt.Fprintf(&b, "%d %d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

func checkOnce(ctx context.Context, abs string, opts Options, known int, full bool) (int, error) {
	db, err := sql.Open("sqlite", readOnlyDSN(abs, opts.BusyTimeout))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	c := &Store{db: db, d: sqliteDialect, opts: opts}
	if full {
		if err := c.quickCheck(ctx); err != nil {
			return 0, err
		}
	}
	v, err := c.readVersion(ctx)
	if err != nil {
		return 0, err
	}
	if known >= 0 && v > known {
		return v, c.newerError(v, known)
	}
	return v, nil
}

// init switches the checked file to WAL and migrates it.
func (s *Store) init(ctx context.Context, migs []migration) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return s.classify(fmt.Errorf("switch to WAL journal mode: %w", err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("switch to WAL journal mode: the file system kept journal mode %q", mode)
	}
	var err error
	s.version, err = s.migrate(ctx, migs)
	return err
}

func (s *Store) newerError(v, known int) error {
	other := "file"
	if s.d.dollar {
		other = "database"
	}
	return fmt.Errorf("schema version %d is newer than this guardd understands (%d); "+
		"upgrade guardd or point it at another %s", v, known, other)
}

// quickChecks counts the runs of quickCheck, for the tests that prove
// when it runs.
var quickChecks atomic.Int64

// quickCheck runs PRAGMA quick_check, which also reads the header: a file
// that is not a database fails here, before anything is written.
func (s *Store) quickCheck(ctx context.Context) error {
	quickChecks.Add(1)
	rows, err := s.db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return s.classify(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return s.classify(err)
		}
		if line != "ok" && len(problems) < 3 {
			line = strings.TrimPrefix(line, "*** in database main ***\n")
			problems = append(problems, strings.ReplaceAll(line, "\n", "; "))
		}
	}
	if err := rows.Err(); err != nil {
		return s.classify(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the database is corrupt (quick_check: %s)", strings.Join(problems, "; "))
	}
	return nil
}

// readVersion returns the schema version, 0 for a new database. A database
// with tables but no schema_version table belongs to something else.
func (s *Store) readVersion(ctx context.Context) (int, error) {
	return s.versionIn(ctx, s.db)
}

// versionIn is readVersion through q (the database, or a transaction).
func (s *Store) versionIn(ctx context.Context, q querier) (int, error) {
	var has, others int
	if err := q.QueryRowContext(ctx, s.d.tables).Scan(&has, &others); err != nil {
		return 0, s.classify(fmt.Errorf("read schema version: %w", err))
	}
	if has == 0 {
		if others > 0 {
			return 0, errors.New("it is not a guardd state database (it has tables but no schema_version table)")
		}
		return 0, nil
	}
	var v int
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&v); err != nil {
		return 0, s.classify(fmt.Errorf("read schema version: %w", err))
	}
	return v, nil
}

const notDatabase = "it is not a guardd state database (file is not a database)"

// classify turns the driver's errors into the errors this package
// promises: a file that is not a database, a corrupt one (which the Store
// remembers, see Close), or a lock held too long.
func (s *Store) classify(err error) error { return s.d.classify(s, err) }

// classifySQLite classifies SQLite's result codes.
func classifySQLite(s *Store, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return errors.New(notDatabase)
	case sqlite3.SQLITE_CORRUPT:
		// Close leaves the marker: the next Open checks the whole file.
		s.damaged.Store(true)
		return fmt.Errorf("the database is corrupt: %w", err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w (waited %s): %w", ErrLocked, s.opts.BusyTimeout, err)
	}
	return err
}

// Close closes the database and removes the Store's open marker, unless it
// met damage (IntegrityCheck, or a read or write SQLite found corrupt):
// then it leaves the marker, as a process killed with the database open
// does, so that the next Open checks the whole file. Call it once every
// Update and View has returned.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	err := s.db.Close()
	if m := s.marker; m != nil {
		switch {
		case err != nil || s.damaged.Load():
			m.leave()
		default:
			err = m.remove()
		}
	}
	if err != nil {
		return fmt.Errorf("close state database %s: %w", s.name, err)
	}
	return nil
}

// SchemaVersion returns the schema version of the open database, which is
// the newest this guardd knows.
func (s *Store) SchemaVersion() int { return s.version }

// Path returns the path the database was opened with ("" on PostgreSQL).
func (s *Store) Path() string { return s.path }

// Name says which database this is: the SQLite file's path, or the
// PostgreSQL database's name and host (never its password).
func (s *Store) Name() string { return s.name }

// Driver returns DriverSQLite or DriverPostgres.
func (s *Store) Driver() string { return s.d.name }

// Update runs fn in one write transaction, begun with BEGIN IMMEDIATE so that
// it waits up to Options.BusyTimeout for other writers up front and then
// cannot fail for lock reasons half-way. It commits when fn returns nil and
// rolls back when fn returns an error (which Update returns as is) or panics.
// Do not call Update or View from inside fn.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, true, "", fn)
}

// View runs fn in a read transaction: fn sees one consistent snapshot and
// never waits for writers. Methods that write fail inside View.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, false, "", fn)
}

// UpdateAccount is Update for a transaction that writes only what belongs
// to account (its poll, observation, findings, alerts, receipts, and
// outbox items it adds) and reads nothing another account's transaction
// writes. On PostgreSQL such transactions of different accounts run at
// once: each waits only for one of the same account and for an Update;
// those of different accounts that wait for a turn are written in one
// transaction (together.go), and fn may then run a second time, alone,
// when another account's part of it failed: fn must leave nothing behind
// but what it writes through its Tx. On SQLite it is Update.
func (s *Store) UpdateAccount(ctx context.Context, account string, fn func(*Tx) error) error {
	if account == "" {
		return errors.New("update account: empty account")
	}
	return s.run(ctx, true, account, fn)
}

func (s *Store) run(ctx context.Context, write bool, account string, fn func(*Tx) error) error {
	if write && account != "" && s.d.pipeline {
		return s.writeAccount(ctx, account, fn)
	}
	kind := "read"
	if write {
		kind = "write"
	}
	opts := &sql.TxOptions{ReadOnly: !write, Isolation: s.d.view}
	if write {
		opts.Isolation = s.d.write
	}
	t, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin %s transaction: %w", kind, s.classify(err))
	}
	done := false
	defer func() {
		if !done {
			t.Rollback()
		}
	}()
	if write {
		if err := s.d.lockWrite(ctx, t, s); err != nil {
			return fmt.Errorf("begin %s transaction: %w", kind, s.classify(err))
		}
	}
	if err := fn(&Tx{ctx: ctx, tx: t, q: t, s: s, write: write}); err != nil {
		return err
	}
	done = true
	if !write {
		// A read transaction has nothing to commit.
		if err := t.Rollback(); err != nil {
			return fmt.Errorf("end read transaction: %w", s.classify(err))
		}
		return nil
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.classify(err))
	}
	return nil
}

// Tx is a transaction handed to the function given to Update or View. It is
// valid only until that function returns and must not be shared between
// goroutines.
type Tx struct {
	ctx context.Context
	// tx is the transaction (nil in a pipelined one); q runs its
	// statements: tx, or the pipelined transaction's connection.
	tx    *sql.Tx
	q     execQuerier
	s     *Store
	write bool
	// pipe is set in a pipelined transaction (pipeline.go).
	pipe *pipe
}

// execQuerier is a *sql.Tx or a *sql.Conn.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writable fails when a method that writes is called inside View.
func (tx *Tx) writable() error {
	if !tx.write {
		return fmt.Errorf("%w (use Store.Update)", lifecycle.ErrReadOnly)
	}
	return nil
}

// exec, query and queryRow run one SQL statement (never several joined by
// ";": only the first would run), prepared by stmt when the dialect says so.
func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, q, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	if tx.before(q, true) {
		return tx.execWith(q, args...)
	}
	var r sql.Result
	if st != nil {
		r, err = st.ExecContext(tx.ctx, args...)
	} else {
		r, err = tx.q.ExecContext(tx.ctx, q, args...)
	}
	if err != nil {
		return nil, tx.classify(err)
	}
	return r, nil
}

// classify classifies an error of one of tx's statements. pgx's database/sql
// driver answers a statement it had yet to prepare, on a context already
// done, with driver.ErrBadConn (so that database/sql tries another
// connection; a transaction's cannot): the context's error is the cause.
func (tx *Tx) classify(err error) error {
	if cerr := tx.ctx.Err(); cerr != nil && errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return tx.s.classify(err)
}

func (tx *Tx) query(query string, args ...any) (*sql.Rows, error) {
	st, q, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	if err := tx.beforeQuery(q); err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(tx.ctx, args...)
	} else {
		rows, err = tx.q.QueryContext(tx.ctx, q, args...)
	}
	if err != nil {
		return nil, tx.classify(err)
	}
	return rows, nil
}

func (tx *Tx) queryRow(dest []any, query string, args ...any) error {
	st, q, err := tx.stmt(query)
	if err != nil {
		return err
	}
	if tx.before(q, writes(q)) {
		return tx.queryRowWith(dest, q, args...)
	}
	var row *sql.Row
	if st != nil {
		row = st.QueryRowContext(tx.ctx, args...)
	} else {
		row = tx.q.QueryRowContext(tx.ctx, q, args...)
	}
	if err := row.Scan(dest...); err != nil {
		return tx.classify(err)
	}
	return nil
}

// stmt returns query in the dialect's spelling and, when the dialect
// prepares (SQLite), prepared on the transaction's connection. SQLite's
// parser costs more than running most of these queries does (a third of
// the CPU of a cycle's writes), so each query is prepared once per
// connection and kept until Close; the statement returned ends with the
// transaction. PostgreSQL's driver (pgx) prepares each query once per
// connection by itself; preparing through database/sql would also take a
// second connection from the pool for the first use of a query, which
// never comes when every connection is in a transaction waiting for it.
func (tx *Tx) stmt(query string) (*sql.Stmt, string, error) {
	s := tx.s
	query = s.d.rebind(query)
	if !s.d.prepare {
		return nil, query, nil
	}
	s.stmtMu.Lock()
	st := s.stmts[query]
	s.stmtMu.Unlock()
	if st == nil {
		// Prepared on a connection of the pool, not necessarily the
		// transaction's: StmtContext prepares it there once.
		fresh, err := s.db.PrepareContext(tx.ctx, query)
		if err != nil {
			return nil, "", s.classify(err)
		}
		s.stmtMu.Lock()
		if st = s.stmts[query]; st != nil {
			fresh.Close() // another transaction prepared it first
		} else {
			if s.stmts == nil {
				s.stmts = make(map[string]*sql.Stmt)
			}
			s.stmts[query], st = fresh, fresh
		}
		s.stmtMu.Unlock()
	}
	return tx.tx.StmtContext(tx.ctx, st), query, nil
}
