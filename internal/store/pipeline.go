package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The transaction of one account's poll on PostgreSQL (UpdateAccount) is
// sent in a few round trips instead of one per statement: 11 or 12 of them,
// each a wait for the server and tens of microseconds of both processes'
// CPU, were most of a replica's time per account. Statements go out
// together in a pipeline (a pgx batch), and the server runs them in order,
// one after the other, as it would have one at a time:
//   - BEGIN, the account's locks, and the reads the poll's transaction
//     starts with (prefetched: its last poll, its last observation and
//     that one's base, its firing alerts, the silences that could apply
//     to it) go in one round trip. Each statement of a pipeline takes its
//     own snapshot when it starts, after the locks are held, as a
//     statement sent alone after them would; and every other writer of
//     these rows holds one of the locks too, but for silences: one added
//     by another process after the prefetch mutes the account from its
//     next poll, as one added just after the poll would.
//   - Writes whose result the caller does not use (execLater: the poll, the
//     observation, the checkpoint, first sights, findings, alerts) wait,
//     and go with the next statement that writes or that reads a table
//     they write, or with COMMIT. A write that fails therefore fails that
//     later statement or the commit, naming the write; either way the
//     transaction is rolled back and nothing of it is kept, as before.
// The transaction runs on a connection taken from database/sql's pool
// (sql.Conn); the statements that go alone go through database/sql as
// everywhere else, so their results read the same on both paths. When
// several accounts' transactions wait for a turn, they are one such
// transaction (together.go): BEGIN, then each account's locks and
// prefetch, in the first round trip, each account's writes with COMMIT.

// pipe is the pipelined transaction's connection and what waits to be sent.
type pipe struct {
	conn    *sql.Conn
	pending []later
	// pre holds the account's rows read with BEGIN, until used or
	// written over.
	pre prefetched
}

// later is a write waiting to be sent.
type later struct {
	table, query string
	args         []any
	// what the write was, for its error.
	what string
	// rows, when not nil, is the statement of a write of one row that
	// may take the rows of the writes of the same statement right after
	// it; query is set when it is sent.
	rows *rowsOf
}

// rowsOf is an INSERT of several rows: head, then n times row (a row's
// placeholders, "(?, ?)"), then tail; keys are the rows' conflict keys,
// which a statement holds once (an upsert may not change a row twice).
type rowsOf struct {
	head, row, tail string
	n               int
	keys            []string
	// whats names the rows after the first (whose write's what names it),
	// joined only for an error: joined at each row, the names of a batch's
	// rows were 3% of what a replica allocated.
	whats []string
}

// maxRowsMerged bounds the rows of one merged statement, so that its
// text and arguments stay small.
const maxRowsMerged = 32

// query returns the statement of r's rows, for d.
func (r *rowsOf) query(d *dialect) string {
	var b strings.Builder
	b.WriteString(r.head)
	for i := range r.n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.row)
	}
	b.WriteString(r.tail)
	return d.rebind(b.String())
}

// prefetched is what UpdateAccount reads of its account with BEGIN: the
// last poll's time (LastPollAt), the last stored observation (lastRow),
// its firing alerts.
type prefetched struct {
	account  string
	poll     sql.NullInt64
	havePoll bool
	row      storedRow
	haveRow  bool
	// firing are its firing alerts (FiringAlerts(account)), given
	// once: Decide reads them once, and may change what it is given.
	firing     []lifecycle.Alert
	haveFiring bool
	// silences are those that could apply to it (its own and every
	// account's, at any time), when there are at most
	// maxPrefetchedSilences: Silenced chooses among them instead of
	// asking in a round trip of its own, which every poll with a finding
	// paid. A silence added or expired in the transaction drops them.
	silences     []lifecycle.Silence
	haveSilences bool
}

// maxPrefetchedSilences bounds the silences read with BEGIN; an account
// with more (retention keeps ended ones for its length) is asked about
// each time.
const maxPrefetchedSilences = 64

// Queries of one account whose answers the prefetch gives (begin reads
// them for every account of a batch at once).
const (
	lastPollQuery = "SELECT max(at) FROM polls WHERE account = ?"
	// The row's base is read with it: compact needs it.
	lastRowQuery = `SELECT o.at, o.base, o.data, b.account, b.data FROM observations o
		LEFT JOIN observation_bases b ON b.id = o.base WHERE o.account = ? ORDER BY o.at DESC LIMIT 1`
)

// runPipelined runs the transactions of batch's accounts (writeBatch) as
// one pipelined transaction, each account's fn in turn.
func (s *Store) runPipelined(ctx context.Context, batch []*accountWrite) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", s.classify(err))
	}
	p := &pipe{conn: conn}
	open := false
	defer func() {
		if open {
			// A connection whose rollback failed is closed, not
			// given back with a transaction open.
			if rerr := p.rollback(ctx); rerr != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}
		conn.Close()
	}()
	tx := &Tx{ctx: ctx, q: conn, s: s, write: true, pipe: p}
	open = true
	pres, err := tx.begin(batch)
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", s.classify(err))
	}
	for i, w := range batch {
		p.pre = pres[i]
		if err := w.fn(tx); err != nil {
			return err
		}
	}
	open = false
	if err := tx.commit(); err != nil {
		open = true
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// pgxConn runs f on the pgx connection under p's.
func (p *pipe) pgxConn(f func(c *pgx.Conn) error) error { return pgxOn(p.conn, f) }

// pgxOn runs f on the pgx connection under conn, for what database/sql
// cannot say: a batch of statements sent at once.
func pgxOn(conn *sql.Conn, f func(c *pgx.Conn) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("connection is a %T, not pgx's", dc)
		}
		return f(c.Conn())
	})
}

func (p *pipe) rollback(ctx context.Context) error {
	// The transaction's context may be done: the rollback must run, but
	// not wait forever for a server gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	return p.pgxConn(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "ROLLBACK")
		return err
	})
}

// rollbackTimeout bounds a rollback; a connection whose rollback did not
// end in time is closed, which ends its transaction too.
const rollbackTimeout = 10 * time.Second

// pgReadCommitted begins a pipelined transaction at the dialect's write
// isolation (postgresDialect.write): a statement after a lock sees what
// was committed before the lock was had.
const pgReadCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED"

// The prefetch of a batch's accounts (the answers of lastPollQuery,
// lastRowQuery, alertsQuery(account, Firing) and of the silences that
// could apply to each), one statement each for all the accounts, their
// rows in the accounts' order where a row is an account's: four
// statements for each account were most of the statements of a batch.
const (
	lastPollsQuery = `SELECT (SELECT max(at) FROM polls WHERE account = u.a)
		FROM unnest(?::text[]) WITH ORDINALITY AS u(a, i) ORDER BY u.i`
	lastRowsQuery = `SELECT o.at, o.base, o.data, b.account, b.data
		FROM unnest(?::text[]) WITH ORDINALITY AS u(a, i)
		LEFT JOIN LATERAL (SELECT at, base, data FROM observations WHERE account = u.a ORDER BY at DESC LIMIT 1) o ON true
		LEFT JOIN observation_bases b ON b.id = o.base ORDER BY u.i`
	firingOfQuery = "SELECT " + firingColumns + " FROM alerts WHERE account = ANY(?::text[]) AND state = ? ORDER BY fired_at, fingerprint"
	// Every account's silences and the global ones, all of them when
	// fewer than the limit come back (prefetchSilences).
	silencesOfQuery = "SELECT " + silenceColumns + " FROM silences WHERE account = '' OR account = ANY(?::text[]) LIMIT ?"
)

// begin sends BEGIN, and batch's accounts' locks and prefetch; it returns
// the prefetches, in batch's order.
func (tx *Tx) begin(batch []*accountWrite) ([]prefetched, error) {
	s := tx.s
	accounts := make([]string, len(batch))
	at := make(map[string]int, len(batch))
	pres := make([]prefetched, len(batch))
	for i, w := range batch {
		accounts[i], at[w.account] = w.account, i
		pres[i].account = w.account
	}
	silencesLimit := (maxPrefetchedSilences+1)*(len(batch)+1) + 1
	err := tx.pipe.pgxConn(func(c *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue(pgReadCommitted)
		locks := s.d.accountsLock(s, accounts)
		for _, l := range locks {
			b.Queue(l.query, l.args...)
		}
		b.Queue(s.d.rebind(lastPollsQuery), accounts)
		b.Queue(s.d.rebind(lastRowsQuery), accounts)
		b.Queue(s.d.rebind(firingOfQuery), accounts, string(lifecycle.Firing))
		b.Queue(s.d.rebind(silencesOfQuery), accounts, silencesLimit)
		br := c.SendBatch(tx.ctx, b)
		defer br.Close()
		for range 1 + len(locks) {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := eachRow(br, len(batch), func(rows pgx.Rows, i int) error {
			return rows.Scan(&pres[i].poll)
		}); err != nil {
			return err
		}
		if err := eachRow(br, len(batch), func(rows pgx.Rows, i int) error {
			var when sql.NullInt64
			r := storedRow{}
			if err := rows.Scan(&when, &r.base, &r.data, &r.owner, &r.baseText); err != nil {
				return err
			}
			if when.Valid {
				r.found, r.at = true, when.Int64
				pres[i].row = r
			}
			return nil
		}); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		firing, err := tx.scanAlerts(rows)
		rows.Close()
		if err != nil {
			return err
		}
		for _, a := range firing {
			i, ok := at[a.Account]
			if !ok {
				return fmt.Errorf("the prefetch read an alert of account %q, not of the transaction's", a.Account)
			}
			pres[i].firing = append(pres[i].firing, a)
		}
		if rows, err = br.Query(); err != nil {
			return err
		}
		silences, err := tx.scanSilences(rows)
		rows.Close()
		if err != nil {
			return err
		}
		if err := prefetchSilences(pres, at, silences, len(silences) < silencesLimit); err != nil {
			return err
		}
		for i := range pres {
			pres[i].havePoll, pres[i].haveRow, pres[i].haveFiring = true, true, true
		}
		return br.Close()
	})
	return pres, err
}

// eachRow reads the next statement's rows of br, which must be n, the
// i-th with row.
func eachRow(br pgx.BatchResults, n int, row func(rows pgx.Rows, i int) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		if i == n {
			return fmt.Errorf("the prefetch read more than %d rows", n)
		}
		if err := row(rows, i); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i != n {
		return fmt.Errorf("the prefetch read %d rows, want %d", i, n)
	}
	return nil
}

// prefetchSilences gives each account of pres (at: its index) the
// silences that could apply to it, the global ones and its own, when all
// were read (all) and there are at most maxPrefetchedSilences.
func prefetchSilences(pres []prefetched, at map[string]int, silences []lifecycle.Silence, all bool) error {
	if !all {
		return nil
	}
	for _, sl := range silences {
		if sl.Account == "" {
			for i := range pres {
				pres[i].silences = append(pres[i].silences, sl)
			}
			continue
		}
		i, ok := at[sl.Account]
		if !ok {
			return fmt.Errorf("the prefetch read a silence of account %q, not of the transaction's", sl.Account)
		}
		pres[i].silences = append(pres[i].silences, sl)
	}
	for i := range pres {
		pres[i].haveSilences = len(pres[i].silences) <= maxPrefetchedSilences
		if !pres[i].haveSilences {
			pres[i].silences = nil
		}
	}
	return nil
}

// commit sends the writes waiting, and COMMIT.
func (tx *Tx) commit() error {
	return tx.flush(func(br pgx.BatchResults) error {
		ct, err := br.Exec()
		if err != nil {
			return tx.s.classify(err)
		}
		// COMMIT of a transaction that failed rolls it back.
		if ct.String() != "COMMIT" {
			return fmt.Errorf("the transaction was rolled back (%s)", ct)
		}
		return nil
	}, "COMMIT")
}

// flush sends the writes waiting, then query with args when query is not
// "", and hands the batch's results to last for query's.
func (tx *Tx) flush(last func(pgx.BatchResults) error, query string, args ...any) error {
	p := tx.pipe
	pending := p.pending
	p.pending = nil
	return p.pgxConn(func(c *pgx.Conn) error {
		b := &pgx.Batch{}
		for i := range pending {
			if r := pending[i].rows; r != nil {
				pending[i].query = r.query(tx.s.d)
			}
			b.Queue(pending[i].query, pending[i].args...)
		}
		if query != "" {
			b.Queue(query, args...)
		}
		br := c.SendBatch(tx.ctx, b)
		defer br.Close()
		for _, l := range pending {
			if _, err := br.Exec(); err != nil {
				return tx.laterErr(pending, l, err)
			}
		}
		if last != nil {
			if err := last(br); err != nil {
				return err
			}
		}
		return tx.s.classify(br.Close())
	})
}

// laterErr names in err the write waiting that failed: l, the one whose
// result err came with, unless err came before any ran (a statement that
// would not prepare, or arguments that would not encode, fail the whole
// batch) and names another statement, or one not waiting.
func (tx *Tx) laterErr(pending []later, l later, err error) error {
	var pe pgx.ErrPreprocessingBatch
	if errors.As(err, &pe) {
		i := slices.IndexFunc(pending, func(l later) bool { return l.query == pe.SQL() })
		if i < 0 {
			return tx.s.classify(err)
		}
		l = pending[i]
	}
	what := l.what
	if l.rows != nil && len(l.rows.whats) > 0 {
		what += "; " + strings.Join(l.rows.whats, "; ")
	}
	return fmt.Errorf("%s: %w", what, tx.s.classify(err))
}

// execLater runs a write whose result the caller does not need: at once on
// SQLite and in other transactions, and in a pipelined transaction with the
// next statement that needs it sent. table is the table it writes; what
// names it in an error.
func (tx *Tx) execLater(table, what, query string, args ...any) error {
	p := tx.pipe
	if p == nil {
		_, err := tx.exec(query, args...)
		return err
	}
	p.written(query)
	p.pending = append(p.pending, later{table: table, query: tx.s.d.rebind(query), args: args, what: what})
	return nil
}

// execLaterRow is execLater for an INSERT of one row (head, row, tail: see
// rowsOf) whose conflict key is key: in a pipelined transaction, it is sent
// in one statement with the writes of the same statement waiting before
// it, as long as their keys differ and no write of the same table waits
// between them. The row then goes before the writes of other tables
// between: no table's rows depend on another's (but for an observation
// and its new base, which are one statement). The finding and the alert of
// each of an account's findings took a statement each: with two alerts
// firing, four of the ten statements of a poll; and the accounts written
// together (together.go) each took a statement of every kind.
func (tx *Tx) execLaterRow(table, what, head, row, tail, key string, args ...any) error {
	p := tx.pipe
	if p == nil {
		return tx.execLater(table, what, head+row+tail, args...)
	}
	p.written(head)
	for i := len(p.pending) - 1; i >= 0 && len(p.pending)-i <= maxMergeLook; i-- {
		l := &p.pending[i]
		if r := l.rows; r != nil && r.head == head && r.row == row && r.tail == tail {
			if r.n >= maxRowsMerged || (key != "" && slices.Contains(r.keys, key)) {
				break
			}
			r.n++
			if key != "" {
				r.keys = append(r.keys, key)
			}
			l.args = append(l.args, args...)
			r.whats = append(r.whats, what)
			return nil
		}
		if strings.Contains(l.table, table) || strings.Contains(table, l.table) {
			break // a write of the same table, which must stay after
		}
	}
	r := &rowsOf{head: head, row: row, tail: tail, n: 1}
	if key != "" {
		r.keys = []string{key}
	}
	p.pending = append(p.pending, later{table: table, args: args, what: what, rows: r})
	return nil
}

// maxMergeLook bounds how many writes waiting execLaterRow looks back
// through for a statement to join: a few kinds of write an account, for
// the accounts of a batch.
const maxMergeLook = 64

// written forgets what the prefetch read of a table query writes.
func (p *pipe) written(query string) {
	if strings.Contains(query, "polls") {
		p.pre.havePoll = false
	}
	if strings.Contains(query, "observations") {
		p.pre.haveRow = false
	}
	if strings.Contains(query, "alerts") {
		p.pre.haveFiring = false
	}
}

// before readies a pipelined transaction for query: it returns true when
// the writes waiting must be sent before it (with it): when it writes, or
// reads a table they write.
func (tx *Tx) before(query string, write bool) (together bool) {
	p := tx.pipe
	if p == nil || len(p.pending) == 0 {
		if p != nil && write {
			p.written(query)
		}
		return false
	}
	if write {
		p.written(query)
		return true
	}
	for _, l := range p.pending {
		if strings.Contains(query, l.table) {
			return true
		}
	}
	return false
}

// writes reports whether query may write: anything but a SELECT.
func writes(query string) bool {
	q := strings.TrimSpace(query)
	return len(q) < 6 || !strings.EqualFold(q[:6], "SELECT")
}

// queryRowWith sends the writes waiting and query in one round trip, and
// scans query's row into dest.
func (tx *Tx) queryRowWith(dest []any, query string, args ...any) error {
	return tx.flush(func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			return sql.ErrNoRows
		}
		return tx.s.classify(err)
	}, query, args...)
}

// execWith sends the writes waiting and query in one round trip.
func (tx *Tx) execWith(query string, args ...any) (sql.Result, error) {
	var n int64
	err := tx.flush(func(br pgx.BatchResults) error {
		ct, err := br.Exec()
		if err != nil {
			return tx.s.classify(err)
		}
		n = ct.RowsAffected()
		return nil
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(n), nil
}

// beforeQuery is before for a statement whose rows are read: when it
// writes, the writes waiting are sent first, on their own.
func (tx *Tx) beforeQuery(query string) error {
	if !tx.before(query, writes(query)) {
		return nil
	}
	return tx.flush(nil, "")
}
