package store

import (
	"context"
	"database/sql"
	"strings"
)

// Drivers: the two databases a Store keeps its state in.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Drivers lists the drivers, the default first.
var Drivers = []string{DriverSQLite, DriverPostgres}

// dialect is what differs between the two databases, kept small so that
// every query and the contract are written once: the queries are written
// in SQLite's syntax with ? and ?N placeholders, which PostgreSQL's differ
// from only in their spelling ($N) and in a handful of functions.
type dialect struct {
	name string
	// dollar: placeholders are $N.
	dollar bool
	// prepare: Tx prepares each query once per connection through
	// database/sql (Tx.stmt); otherwise the driver does.
	prepare bool
	// least is the function of the smaller of its arguments.
	least string
	// tables counts the tables of the database (schema_version, and the
	// others), for telling a guardd database from a foreign one.
	tables string
	// view is the isolation a read transaction takes to see one snapshot.
	view sql.IsolationLevel
	// write is the isolation a write transaction takes: one whose reads
	// after lockWrite see what the writer it waited for committed, whatever
	// the server's default (a snapshot taken by the lock's own statement,
	// as repeatable read takes it, is from before the wait).
	write sql.IsolationLevel
	// lockWrite runs first in every write transaction but UpdateAccount's
	// on PostgreSQL (pipelined: accountsLock): it makes writers take
	// turns, as SQLite's BEGIN IMMEDIATE does.
	lockWrite func(ctx context.Context, tx *sql.Tx, s *Store) error
	// accountsLock is the statements (and their arguments) that take
	// the locks of a writer of accounts alone, in one order for every
	// writer, for a pipelined transaction: such writers may run beside
	// those of other accounts.
	accountsLock func(s *Store, accounts []string) []statement
	// pipeline: UpdateAccount's transactions are pipelined (pipeline.go).
	pipeline bool
	// classify turns the driver's errors into this package's.
	classify func(s *Store, err error) error
}

var sqliteDialect = &dialect{
	name:    DriverSQLite,
	prepare: true,
	least:   "min",
	tables: `SELECT
		count(*) FILTER (WHERE name = 'schema_version'),
		count(*) FILTER (WHERE name <> 'schema_version' AND name NOT LIKE 'sqlite\_%' ESCAPE '\')
		FROM sqlite_schema WHERE type = 'table'`,
	view: sql.LevelDefault,
	// BEGIN IMMEDIATE: the lock comes before any read.
	write:     sql.LevelDefault,
	lockWrite: func(context.Context, *sql.Tx, *Store) error { return nil }, // _txlock=immediate
	classify:  classifySQLite,
}

// statement is a query and its arguments.
type statement struct {
	query string
	args  []any
}

// rebind rewrites a query's ? and ?N placeholders as $N for PostgreSQL.
// The queries hold no question mark in a string literal.
func (d *dialect) rebind(query string) string {
	if !d.dollar || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	next := 1
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c != '?' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		b.WriteByte('$')
		if j > i+1 {
			b.WriteString(query[i+1 : j])
		} else {
			b.WriteString(itoa(next))
			next++
		}
		i = j - 1
	}
	return b.String()
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
