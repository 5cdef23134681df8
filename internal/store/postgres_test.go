package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store/pgtest"
	"github.com/jackc/pgx/v5"
)

func rawPG(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

// TestPostgresRefuses: the same refusals as SQLite's, before anything is
// written: a newer schema, a database that is someone else's.
func TestPostgresRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("newer schema", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		s := postgresBackend.at(t, dsn, Options{})
		s.Close()
		db := rawPG(t, dsn)
		if _, err := db.Exec("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)"); err != nil {
			t.Fatal(err)
		}
		_, err := OpenPostgres(ctx, dsn, Options{})
		want := fmt.Sprintf("schema version 99 is newer than this guardd understands (%d); upgrade guardd or point it at another database", len(migrations))
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("got %v, want …%s", err, want)
		}
		// An older guardd refuses this one's schema.
		db.Exec("DELETE FROM schema_version WHERE version = 99")
		_, err = openPostgres(ctx, dsn, Options{}, migrations[:1])
		if want := fmt.Sprintf("schema version %d is newer than this guardd understands (1)", len(migrations)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("older guardd: got %v, want …%s…", err, want)
		}
	})
	t.Run("foreign database", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		db := rawPG(t, dsn)
		if _, err := db.Exec("CREATE TABLE invoices (id int)"); err != nil {
			t.Fatal(err)
		}
		_, err := OpenPostgres(ctx, dsn, Options{})
		want := "it is not a guardd state database (it has tables but no schema_version table)"
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("got %v, want …%s", err, want)
		}
		if got := tables(t, db); len(got) != 1 {
			t.Errorf("tables after the refusal: got %v, want only invoices", got)
		}
	})
	t.Run("a schema of its own", func(t *testing.T) {
		// guardd keeps to the connection's schema: another schema's
		// tables in the same database are no concern of its.
		dsn := pgtest.DSN(t)
		db := rawPG(t, dsn)
		for _, q := range []string{"CREATE TABLE invoices (id int)", "CREATE SCHEMA guardd"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		s := postgresBackend.at(t, dsn+" search_path=guardd", Options{})
		if s.SchemaVersion() != len(migrations) {
			t.Errorf("schema version: got %d, want %d", s.SchemaVersion(), len(migrations))
		}
	})
}

// TestPostgresSecretNeverShown: the DSN holds a password; no error of
// OpenPostgres shows it, whatever goes wrong.
func TestPostgresSecretNeverShown(t *testing.T) {
	srv := pgtest.Get(t)
	good := pgtest.DSN(t)
	for _, tt := range []struct{ name, dsn, want string }{
		{"wrong password", strings.Replace(good, "password="+srv.Password, "password=hunter2-secret", 1), "password authentication failed"},
		{"nobody listening", strings.Replace(good, fmt.Sprintf("port=%d", srv.Port), "port=1", 1), "connect"},
		{"no such database", strings.Replace(good, "dbname=", "dbname=nope", 1), "does not exist"},
		{"does not parse", "host=127.0.0.1 password=hunter2-secret port=notaport", "does not parse"},
		{"url that does not parse", "postgres://guardd:hunter2-secret@127.0.0.1:notaport/x", "does not parse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := OpenPostgres(ctx, tt.dsn, Options{})
			if err == nil {
				s.Close()
				t.Fatal("got no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want it to say %q", msg, tt.want)
			}
			for _, secret := range []string{"hunter2-secret", srv.Password, tt.dsn} {
				if strings.Contains(msg, secret) {
					t.Errorf("the error shows a secret: %q", msg)
				}
			}
		})
	}
}

// TestPostgresLockedByAnotherConnection: a writer waits for another at most
// BusyTimeout, then fails with ErrLocked, having called nothing.
func TestPostgresLockedByAnotherConnection(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{BusyTimeout: 100 * time.Millisecond})
	db := rawPG(t, dsn)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SELECT pg_advisory_xact_lock($1)", s.lock); err != nil {
		t.Fatal(err)
	}
	called := false
	err = s.Update(ctx, func(tx *Tx) error {
		called = true
		return tx.AppendObservation(account("a"), observation("a", t0, 1))
	})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "begin write transaction: state database is locked by another writer (waited 100ms)") {
		t.Errorf("got %v, want begin write transaction: %v (waited 100ms): …", err, ErrLocked)
	}
	if called {
		t.Error("got fn called while another writer holds the lock")
	}
	tx.Rollback()
	update(t, s, func(tx *Tx) error { return tx.AppendObservation(account("a"), observation("a", t0, 1)) })
}

func TestRebind(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"a = ?1 OR ?1 = '' AND c < ?12", "a = $1 OR $1 = '' AND c < $12"},
	} {
		if got := postgresDialect.rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q): got %q, want %q", tt.in, got, tt.want)
		}
		if got := sqliteDialect.rebind(tt.in); got != tt.in {
			t.Errorf("sqlite rebind(%q): got %q, want it unchanged", tt.in, got)
		}
	}
}

// TestEveryMigrationHasBoth: a migration added for SQLite alone fails here
// (and in TestCopyTablesCoverSchema): write its PostgreSQL twin.
func TestEveryMigrationHasBoth(t *testing.T) {
	for i, m := range migrations {
		if strings.TrimSpace(m.sql) == "" || strings.TrimSpace(m.pg) == "" {
			t.Errorf("migration %d (%s): want both its SQLite and its PostgreSQL step", i+1, m.name)
		}
	}
}

// TestPostgresUpdateAccount: while one account's poll is being written,
// another account's may be, but not the same account's, nor an Update.
func TestPostgresUpdateAccount(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{BusyTimeout: 100 * time.Millisecond})
	other := postgresBackend.at(t, dsn, Options{BusyTimeout: 100 * time.Millisecond})
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- s.UpdateAccount(ctx, "a", func(tx *Tx) error {
			close(holding)
			<-release
			return tx.AppendObservation(account("a"), observation("a", t0, 1))
		})
	}()
	<-holding
	if err := other.UpdateAccount(ctx, "b", func(tx *Tx) error {
		return tx.AppendObservation(account("b"), observation("b", t0, 1))
	}); err != nil {
		t.Errorf("another account meanwhile: got %v, want it written", err)
	}
	for name, err := range map[string]error{
		"the same account": other.UpdateAccount(ctx, "a", func(*Tx) error { return nil }),
		"an update":        other.Update(ctx, func(*Tx) error { return nil }),
	} {
		if !errors.Is(err, ErrLocked) {
			t.Errorf("%s meanwhile: got %v, want ErrLocked", name, err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLockMailboxes: a mailbox one replica holds is not handed to another
// within its wait, and is once the first lets go; other mailboxes are
// handed out meanwhile; a replica whose connection closes lets go of its
// own.
func TestLockMailboxes(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	claimer := func() *Claimer {
		s, err := OpenPostgres(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		c, err := s.NewClaimer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := claimer(), claimer()
	got, unlockA, err := a.LockMailboxes(ctx, []string{"billing", "billing"}, 0)
	if err != nil || fmt.Sprint(got) != "[billing]" {
		t.Fatalf("first replica: locked %v, %v; want [billing]", got, err)
	}
	got, unlockB, err := b.LockMailboxes(ctx, []string{"receipts", "billing"}, 150*time.Millisecond)
	if err != nil || fmt.Sprint(got) != "[receipts]" {
		t.Fatalf("second replica while the first holds billing: locked %v, %v; want [receipts]", got, err)
	}
	unlockB()
	// The first lets go while the second waits: the second gets it.
	time.AfterFunc(100*time.Millisecond, unlockA)
	got, unlockB, err = b.LockMailboxes(ctx, []string{"billing"}, 10*time.Second)
	if err != nil || fmt.Sprint(got) != "[billing]" {
		t.Fatalf("second replica once the first let go: locked %v, %v; want [billing]", got, err)
	}
	// The second's connection closes (a replica that died): its lock goes
	// with it.
	b.Close()
	got, unlockA, err = a.LockMailboxes(ctx, []string{"billing"}, 10*time.Second)
	if err != nil || fmt.Sprint(got) != "[billing]" {
		t.Fatalf("first replica after the second closed: locked %v, %v; want [billing]", got, err)
	}
	unlockA()
	unlockB() // after Close: does nothing, and does not panic
}

// countingConn counts the writes to a connection: with pgx, one per
// round trip (a statement, or a batch of them).
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// countingStore opens the database at dsn with each connection's writes
// counted in the counter returned.
func countingStore(t *testing.T, dsn string) (*Store, *atomic.Int64) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	writes := new(atomic.Int64)
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{c, writes}, err
	}
	s, err := openPostgresConfig(context.Background(), cfg, "test", Options{}, migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, writes
}

// TestPostgresPollRoundTrips: the transaction of one account's poll, as the
// guard writes it, costs 2 round trips (BEGIN with what it reads first;
// COMMIT with what it writes), a new base included (it was one per
// statement: 12 for a new account's first poll with a grant, 11 and one
// per grant and charge after; then 3 when the poll wrote a new base).
func TestPostgresPollRoundTrips(t *testing.T) {
	ctx := context.Background()
	s, writes := countingStore(t, pgtest.DSN(t))
	poll := func(name string, at time.Time) int64 {
		t.Helper()
		before := writes.Load()
		o := observation(name, at, 1)
		err := s.UpdateAccount(ctx, name, func(tx *Tx) error {
			if _, _, err := tx.LastPollAt(name); err != nil {
				return err
			}
			if err := tx.AppendObservation(account(name), o); err != nil {
				return err
			}
			if err := tx.RecordFirstSeen(name, KindGrant, []string{o.Grants[0].ID}, at); err != nil {
				return err
			}
			if err := tx.RecordFirstSeen(name, KindCharge, []string{o.Charges[0].ID}, at); err != nil {
				return err
			}
			if err := tx.RecordPoll(Poll{Account: name, At: at, OK: true}); err != nil {
				return err
			}
			if err := tx.PutLedgerCheckpoint(LedgerCheckpoint{Account: name, Version: 1, Fingerprint: "f", At: at, Data: []byte("{}")}); err != nil {
				return err
			}
			_, err := tx.FiringAlerts(name)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return writes.Load() - before
	}
	// Every statement prepared on the connection (one at a time, the
	// pool hands out the same).
	for i := range 3 {
		poll("warm", t0.Add(time.Duration(i)*time.Minute))
	}
	if got := poll("a", t0); got != 2 {
		t.Errorf("a new account's first poll: %d round trips, want 2 (begin, commit)", got)
	}
	if got := poll("a", t0.Add(time.Minute)); got != 2 {
		t.Errorf("its second poll, which writes a new base: %d round trips, want 2 (begin, commit)", got)
	}
	if got := poll("a", t0.Add(2*time.Minute)); got != 2 {
		t.Errorf("its third poll: %d round trips, want 2 (begin, commit)", got)
	}
	update(t, s, func(tx *Tx) error {
		got, err := tx.FirstSeen("a", KindCharge, "in_1", t0.Add(time.Hour))
		if err == nil && !got.Equal(t0) {
			t.Errorf("charge in_1 first seen %s, want %s", got, t0)
		}
		return err
	})
	var n, bases int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*), count(base) FROM observations WHERE account = 'a'").Scan(&n, &bases); err != nil || n != 3 || bases != 2 {
		t.Errorf("observations of a stored: %d, %d as deltas (%v), want 3, 2", n, bases, err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM polls WHERE account = 'a'").Scan(&n); err != nil || n != 3 {
		t.Errorf("polls of a stored: %d (%v), want 3", n, err)
	}
	// The deltas refer to the base written with the second poll, and
	// read back as written.
	view(t, s, func(tx *Tx) error {
		obs, err := tx.Observations(account("a"), time.Time{})
		if err != nil {
			return err
		}
		if len(obs) != 3 {
			t.Fatalf("read %d observations of a, want 3", len(obs))
		}
		for i, o := range obs {
			want, _ := history.EncodeObservation(observation("a", t0.Add(time.Duration(i)*time.Minute), 1))
			if got, _ := history.EncodeObservation(o); string(got) != string(want) {
				t.Errorf("observation %d of a reads back as\n%s\nwant\n%s", i, got, want)
			}
		}
		return nil
	})
}

// waitingArgs returns the number of arguments of each statement waiting in
// tx's pipeline, in order.
func waitingArgs(tx *Tx) []int {
	var n []int
	for _, l := range tx.pipe.pending {
		n = append(n, len(l.args))
	}
	return n
}

// TestPostgresMergedRows: in an account's pipelined transaction, the
// findings recorded one after the other go out as one INSERT, and so do the
// alerts stored one after the other, but for an alert stored twice, whose
// second write starts a statement of its own (an upsert may not change a
// row twice); every row is kept, the alert as last stored.
func TestPostgresMergedRows(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{})
	alertOf := func(rule string, seen time.Time) lifecycle.Alert {
		return lifecycle.Alert{Fingerprint: billing.Fingerprint(rule, "a", ""), Account: "a", Rule: rule,
			Severity: billing.SeverityWarning, State: lifecycle.Firing, FiredAt: t0, LastSentAt: t0, LastSeenAt: seen}
	}
	finding := func(tx *Tx, account, rule string) error {
		return tx.RecordFinding(lifecycle.FindingRecord{Account: account, Rule: rule,
			Fingerprint: billing.Fingerprint(rule, account, ""), Severity: billing.SeverityWarning, At: t0})
	}
	var statements []int
	// Each finding and its alert in turn, as Decide writes them: the
	// findings join the first finding's statement, over the alerts'.
	err := s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		for i, rule := range []string{"r1", "r2", "r3"} {
			if err := finding(tx, "a", rule); err != nil {
				return err
			}
			a := []lifecycle.Alert{alertOf("r1", t0), alertOf("r2", t0), alertOf("r1", t0.Add(time.Minute))}[i]
			if err := tx.PutAlert(a); err != nil {
				return err
			}
		}
		statements = waitingArgs(tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Arguments per statement: 8 a finding, 15 an alert.
	if want := []int{3 * 8, 2 * 15, 15}; !slices.Equal(statements, want) {
		t.Errorf("arguments of the statements waiting: %v, want %v", statements, want)
	}
	// A write of the same table between two rows keeps them apart: it
	// must run after the first and before the second.
	err = s.UpdateAccount(ctx, "b", func(tx *Tx) error {
		if err := finding(tx, "b", "r1"); err != nil {
			return err
		}
		if err := tx.execLater("findings", "a delete", "DELETE FROM findings WHERE account = 'nobody'"); err != nil {
			return err
		}
		if err := finding(tx, "b", "r2"); err != nil {
			return err
		}
		statements = waitingArgs(tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{8, 0, 8}; !slices.Equal(statements, want) {
		t.Errorf("arguments of the statements waiting, a delete between: %v, want %v", statements, want)
	}
	var findings int
	if err := rawPG(t, dsn).QueryRowContext(ctx, "SELECT count(*) FROM findings WHERE account = 'a'").Scan(&findings); err != nil || findings != 3 {
		t.Errorf("findings stored: %d (%v), want 3", findings, err)
	}
	var as []lifecycle.Alert
	if err := s.View(ctx, func(tx *Tx) (err error) { as, err = tx.Alerts("a", ""); return err }); err != nil {
		t.Fatal(err)
	}
	seen := map[string]time.Time{}
	for _, a := range as {
		seen[a.Rule] = a.LastSeenAt
	}
	if len(as) != 2 || !seen["r1"].Equal(t0.Add(time.Minute)) || !seen["r2"].Equal(t0) {
		t.Errorf("alerts stored: last seen %v, want r1 at %s and r2 at %s", seen, t0.Add(time.Minute), t0)
	}
	// Alerts seen again are one statement, which changes their last
	// sight and misses and nothing else of them.
	err = s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		for i, rule := range []string{"r1", "r2"} {
			if err := tx.SeeAlert(billing.Fingerprint(rule, "a", ""), t0.Add(time.Hour), i+1); err != nil {
				return err
			}
		}
		statements = waitingArgs(tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2 * 3}; !slices.Equal(statements, want) {
		t.Errorf("arguments of the statements waiting, two alerts seen: %v, want %v", statements, want)
	}
	if err := s.View(ctx, func(tx *Tx) (err error) { as, err = tx.Alerts("a", ""); return err }); err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		want := alertOf(a.Rule, t0.Add(time.Hour))
		want.MissCount = map[string]int{"r1": 1, "r2": 2}[a.Rule]
		if !a.LastSeenAt.Equal(want.LastSeenAt) || a.MissCount != want.MissCount || !a.LastSentAt.Equal(t0) ||
			!a.FiredAt.Equal(t0) || a.Severity != want.Severity || a.State != lifecycle.Firing {
			t.Errorf("alert %s seen: got %+v, want %+v", a.Rule, a, want)
		}
	}
	// A merged statement that fails names each write in it.
	err = s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		for _, what := range []string{"a row that fails", "another"} {
			if err := tx.execLaterRow("findings", what, "INSERT INTO findings (no_such_column) VALUES ", "(?)", "", "", 1); err != nil {
				return err
			}
		}
		return nil
	})
	wantErr(t, err, `commit: a row that fails; another: error preprocessing batch (prepare): ERROR: column "no_such_column" of relation "findings" does not exist (SQLSTATE 42703)`)
}

// TestPostgresAlertsSeenInPlace: a firing alert seen again at each poll is
// updated in its page (a heap-only tuple), with its finding of a kilobyte
// or two: with full pages each update wrote a new entry in every index of
// alerts and the table grew by the row.
func TestPostgresAlertsSeenInPlace(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{})
	finding := fmt.Appendf(nil, `{"summary":%q}`, strings.Repeat("a finding explained at length ", 50))
	const alerts, polls = 40, 5
	fps := make([]string, alerts)
	err := s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		for i := range fps {
			rule := fmt.Sprintf("r%d", i)
			fps[i] = billing.Fingerprint(rule, "a", "")
			if err := tx.PutAlert(lifecycle.Alert{Fingerprint: fps[i], Account: "a", Rule: rule, Severity: billing.SeverityWarning,
				State: lifecycle.Firing, FiredAt: t0, LastSentAt: t0, LastSeenAt: t0, Finding: finding}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range polls {
		err := s.UpdateAccount(ctx, "a", func(tx *Tx) error {
			for _, fp := range fps {
				if err := tx.SeeAlert(fp, t0.Add(time.Duration(p+1)*15*time.Minute), 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A server process counts its updates where the others see them
	// when it ends at the latest.
	s.Close()
	db := rawPG(t, dsn)
	var updated, inPlace int64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := db.QueryRowContext(ctx, "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'alerts'").Scan(&updated, &inPlace); err != nil {
			t.Fatal(err)
		}
		if updated >= alerts*polls || time.Now().After(deadline) {
			break
		}
	}
	if updated != alerts*polls || inPlace != updated {
		t.Errorf("alerts updated: %d, of them in their page: %d; want %d, all in their page", updated, inPlace, alerts*polls)
	}
}

// TestPostgresPipelinedFailures: a write of an account's transaction that
// waited for COMMIT and fails there fails the commit, naming it, and
// nothing of the transaction is kept; so does a function that fails with
// writes waiting, or a context cancelled meanwhile; and the connections go
// back to the pool usable, with no transaction left open.
func TestPostgresPipelinedFailures(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{})
	write := func(tx *Tx, at time.Time) error {
		if err := tx.AppendObservation(account("a"), observation("a", at, 1)); err != nil {
			return err
		}
		return tx.RecordPoll(Poll{Account: "a", At: at, OK: true})
	}
	err := s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		if err := write(tx, t0); err != nil {
			return err
		}
		return tx.execLater("polls", "a write that fails", "INSERT INTO polls (no_such_column) VALUES (1)")
	})
	wantErr(t, err, `commit: a write that fails: error preprocessing batch (prepare): ERROR: column "no_such_column" of relation "polls" does not exist (SQLSTATE 42703)`)
	err = s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		if err := write(tx, t0); err != nil {
			return err
		}
		if err := tx.execLater("first_seen", "a sight of no kind", firstSeenInsert, "a", "invoice", "x", 1); err != nil {
			return err
		}
		return tx.PutLedgerCheckpoint(LedgerCheckpoint{Account: "a", Version: 1, Fingerprint: "f", At: t0, Data: []byte("{}")})
	})
	wantErr(t, err, `commit: a sight of no kind: ERROR: new row for relation "first_seen" violates check constraint "first_seen_kind_check" (SQLSTATE 23514)`)
	err = s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		if err := write(tx, t0); err != nil {
			return err
		}
		return errors.New("the poll's decisions failed")
	})
	wantErr(t, err, "the poll's decisions failed")
	cctx, cancel := context.WithCancel(ctx)
	err = s.UpdateAccount(cctx, "a", func(tx *Tx) error {
		if err := write(tx, t0); err != nil {
			return err
		}
		cancel()
		_, err := tx.Alerts("a", "")
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled meanwhile: got %v, want context.Canceled", err)
	}
	var n int
	if err := rawPG(t, dsn).QueryRowContext(ctx, `SELECT (SELECT count(*) FROM polls) + (SELECT count(*) FROM observations) +
		(SELECT count(*) FROM first_seen) + (SELECT count(*) FROM ledger_checkpoints)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows kept of the failed transactions: %d (%v), want none", n, err)
	}
	// As many writes as the pool has connections, at once (they take
	// turns, accountWriters at a time, on the pool's connections): none
	// meets a transaction left open, or the writes would wait or fail.
	errs := make(chan error, poolSize)
	for i := range poolSize {
		go func() {
			name := fmt.Sprintf("b%d", i)
			errs <- s.UpdateAccount(ctx, name, func(tx *Tx) error {
				return tx.RecordPoll(Poll{Account: name, At: t0, OK: true})
			})
		}()
	}
	for range poolSize {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := s.UpdateAccount(ctx, "a", func(tx *Tx) error { return write(tx, t0) }); err != nil {
		t.Fatal(err)
	}
	if err := rawPG(t, dsn).QueryRowContext(ctx, "SELECT count(*) FROM polls").Scan(&n); err != nil || n != poolSize+1 {
		t.Errorf("polls stored: %d (%v), want %d", n, err, poolSize+1)
	}
}

// TestPostgresAccountWritersBounded: at most accountWriters account
// transactions run at once, the others wait for a turn (and give up
// when their context ends, having started nothing), and every one of
// them is written (those that waited, together).
func TestPostgresAccountWritersBounded(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{})
	const writers = accountWriters + 5
	var inside, most atomic.Int32
	release := make(chan struct{})
	errs := make(chan error, writers)
	// The first accountWriters one at a time, each once the one before
	// is inside: started together, they would be written together, in
	// one transaction (together.go).
	for i := range writers {
		go func() {
			name := fmt.Sprintf("w%d", i)
			errs <- s.UpdateAccount(ctx, name, func(tx *Tx) error {
				n := inside.Add(1)
				defer inside.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				return tx.RecordPoll(Poll{Account: name, At: t0, OK: true})
			})
		}()
		deadline := time.Now().Add(10 * time.Second)
		for i < accountWriters && inside.Load() < int32(i+1) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond) // room for any more to start
	if got := inside.Load(); got != accountWriters {
		t.Errorf("%d account transactions at once, want %d", got, accountWriters)
	}
	// One more, whose context ends while it waits for a turn.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := s.UpdateAccount(wctx, "late", func(tx *Tx) error {
		t.Error("a transaction started after its context ended")
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the context's end: got %v, want context.DeadlineExceeded", err)
	}
	close(release)
	for range writers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := most.Load(); got != accountWriters {
		t.Errorf("at most %d account transactions at once, want %d", got, accountWriters)
	}
	var n int
	if err := rawPG(t, dsn).QueryRowContext(ctx, "SELECT count(*) FROM polls").Scan(&n); err != nil || n != writers {
		t.Errorf("polls stored: %d (%v), want %d", n, err, writers)
	}
}

// TestPostgresSilencedFromPrefetch: an account's transaction on
// PostgreSQL answers Silenced from the silences read with BEGIN, as the
// query answers it: for every rule and time, with silences global, of
// the rule, of the account and of another, ended, expired and to come,
// tied in their end; it sees a silence it adds or expires itself; and an
// account with more silences than are read with BEGIN is asked about.
func TestPostgresSilencedFromPrefetch(t *testing.T) {
	ctx := t.Context()
	s := postgresBackend.at(t, pgtest.DSN(t), Options{})
	h := time.Hour
	add := func(ss ...lifecycle.Silence) {
		t.Helper()
		if err := s.Update(ctx, func(tx *Tx) error {
			for _, x := range ss {
				expired := x.ExpiredAt
				x.Comment, x.ExpiredAt = "c", time.Time{}
				id, err := tx.AddSilence(x)
				if err != nil {
					return err
				}
				if !expired.IsZero() {
					if err := tx.ExpireSilence(id, expired); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	add(
		lifecycle.Silence{Start: t0, End: t0.Add(2 * h)},
		lifecycle.Silence{Rule: "low-runway", Start: t0.Add(h), End: t0.Add(5 * h)},
		lifecycle.Silence{Rule: "low-runway", Account: "a", Start: t0.Add(h), End: t0.Add(5 * h)},
		lifecycle.Silence{Account: "a", Start: t0.Add(3 * h), End: t0.Add(9 * h), ExpiredAt: t0.Add(4 * h)},
		lifecycle.Silence{Account: "b", Start: t0, End: t0.Add(20 * h)},
		lifecycle.Silence{Rule: "recharge-burst", Account: "a", Start: t0.Add(6 * h), End: t0.Add(8 * h)},
	)
	rules := []string{"low-runway", "recharge-burst", "phantom-grant"}
	type answer struct {
		id int64
		ok bool
	}
	ask := func(tx *Tx, account string) map[string]answer {
		t.Helper()
		got := map[string]answer{}
		for _, r := range rules {
			for m := -1; m <= 22; m++ {
				at := t0.Add(time.Duration(m) * 30 * time.Minute)
				sl, ok, err := tx.Silenced(r, account, at)
				if err != nil {
					t.Fatal(err)
				}
				got[fmt.Sprint(r, " ", at.Format(time.TimeOnly))] = answer{sl.ID, ok}
			}
		}
		return got
	}
	compare := func(account string, prefetched bool) {
		t.Helper()
		var want, got map[string]answer
		if err := s.View(ctx, func(tx *Tx) error { want = ask(tx, account); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateAccount(ctx, account, func(tx *Tx) error {
			if tx.pipe.pre.haveSilences != prefetched {
				t.Errorf("account %s: silences prefetched %v, want %v", account, tx.pipe.pre.haveSilences, prefetched)
			}
			got = ask(tx, account)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		silenced := 0
		for k, w := range want {
			if got[k] != w {
				t.Errorf("account %s, %s: got silence %d (%v) from the prefetch, the query says %d (%v)", account, k, got[k].id, got[k].ok, w.id, w.ok)
			}
			if w.ok {
				silenced++
			}
		}
		if silenced == 0 || silenced == len(want) {
			t.Errorf("account %s: %d of %d asked silenced: the cases do not tell answers apart", account, silenced, len(want))
		}
	}
	compare("a", true)
	compare("b", true)

	// A silence added in the transaction is seen by it.
	if err := s.UpdateAccount(ctx, "a", func(tx *Tx) error {
		if _, ok, err := tx.Silenced("phantom-grant", "a", t0.Add(15*h)); err != nil || ok {
			t.Fatalf("before: silenced %v, %v", ok, err)
		}
		id, err := tx.AddSilence(lifecycle.Silence{Account: "a", Start: t0.Add(14 * h), End: t0.Add(16 * h), Comment: "c"})
		if err != nil {
			return err
		}
		if sl, ok, err := tx.Silenced("phantom-grant", "a", t0.Add(15*h)); err != nil || !ok || sl.ID != id {
			t.Errorf("after adding silence %d: got %d, %v, %v", id, sl.ID, ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// More than are read with BEGIN: asked about, with the same answers.
	var many []lifecycle.Silence
	for i := range maxPrefetchedSilences {
		many = append(many, lifecycle.Silence{Rule: "phantom-grant", Account: "a", Start: t0.Add(-48 * h), End: t0.Add(time.Duration(-47*60+i) * time.Minute)})
	}
	add(many...)
	compare("a", false)
	compare("b", true)
}

// TestPostgresWriterSeesTheOneBefore: a write transaction that waited for
// another writer of the same account (or for an Update) reads what that
// writer committed, on a server whose default isolation is repeatable read
// or serializable too. There a transaction's snapshot is taken by its
// first statement, the lock it waits in, so reads after the wait would
// miss the write waited for: the poll just recorded, the alert just fired.
func TestPostgresWriterSeesTheOneBefore(t *testing.T) {
	ctx := context.Background()
	for _, level := range []string{"repeatable read", "serializable"} {
		for _, path := range []string{"UpdateAccount", "Update"} {
			t.Run(level+"/"+path, func(t *testing.T) {
				dsn := pgtest.DSN(t) + fmt.Sprintf(" default_transaction_isolation='%s'", level)
				opts := Options{BusyTimeout: 30 * time.Second}
				first, second := postgresBackend.at(t, dsn, opts), postgresBackend.at(t, dsn, opts)
				update := func(s *Store, fn func(*Tx) error) error {
					if path == "Update" {
						return s.Update(ctx, fn)
					}
					return s.UpdateAccount(ctx, "a", fn)
				}
				holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
				go func() {
					done <- update(first, func(tx *Tx) error {
						close(holding)
						<-release
						return tx.RecordPoll(Poll{Account: "a", At: t0, OK: true})
					})
				}()
				<-holding
				type seen struct {
					at    time.Time
					found bool
					err   error
				}
				got := make(chan seen, 1)
				go func() {
					var s seen
					err := update(second, func(tx *Tx) error {
						s.at, s.found, s.err = tx.LastPollAt("a")
						return nil
					})
					got <- seen{s.at, s.found, errors.Join(err, s.err)}
				}()
				// Let the first writer go once the second waits for it.
				db := rawPG(t, dsn)
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					var waiting int
					if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").Scan(&waiting); err != nil {
						t.Fatal(err)
					}
					if waiting > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the second writer never waited for the first")
					}
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				s := <-got
				if s.err != nil || !s.found || !s.at.Equal(t0) {
					t.Errorf("the second writer read the last poll as %v, %v, %v; want %v, the first's", s.at, s.found, s.err, t0)
				}
			})
		}
	}
}

// TestPostgresReplicasMigrateAtOnce: replicas started together on a new
// database each open it, one of them migrating it and the others waiting,
// on a server whose default isolation is repeatable read too (a waiter
// that read the schema version from before its wait would apply the same
// migration again, and fail).
func TestPostgresReplicasMigrateAtOnce(t *testing.T) {
	for _, level := range []string{"read committed", "repeatable read"} {
		t.Run(level, func(t *testing.T) {
			dsn := pgtest.DSN(t) + fmt.Sprintf(" default_transaction_isolation='%s'", level)
			const replicas = 4
			errs := make(chan error, replicas)
			for range replicas {
				go func() {
					s, err := OpenPostgres(context.Background(), dsn, Options{BusyTimeout: 30 * time.Second})
					if err == nil {
						if s.version != len(migrations) {
							err = fmt.Errorf("opened at schema version %d, want %d", s.version, len(migrations))
						}
						s.Close()
					}
					errs <- err
				}()
			}
			for range replicas {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestPostgresClaims: a claim hands out, in the order asked, up to its
// limit of the accounts with no poll since the tick that no other replica
// holds, with their last poll; says which are done of those it got to;
// holds a lock on what it hands out and on nothing else; and costs two
// round trips.
func TestPostgresClaims(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s, writes := countingStore(t, dsn)
	claimer := func(s *Store) *Claimer {
		c, err := s.NewClaimer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	mine := claimer(s)
	other, third := claimer(postgresBackend.at(t, dsn, Options{})), claimer(postgresBackend.at(t, dsn, Options{}))
	locks := func(c *Claimer) int {
		t.Helper()
		var n int
		if err := c.conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	claim := func(c *Claimer, accounts []string, limit int) (string, string) {
		t.Helper()
		claimed, done, err := c.Claim(ctx, accounts, t0, limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, cl := range claimed {
			got = append(got, cl.Account+"@"+cl.LastPoll.UTC().Format("15:04"))
		}
		return strings.Join(got, " "), strings.Join(done, " ")
	}
	update(t, s, func(tx *Tx) error {
		return errors.Join(tx.RecordPoll(Poll{Account: "done", At: t0, OK: true}),
			tx.RecordPoll(Poll{Account: "old", At: t0.Add(-15 * time.Minute), OK: true}))
	})
	if got, _ := claim(other, []string{"held"}, 1); got != "held@00:00" {
		t.Fatalf("another replica claimed %q, want held", got)
	}
	claim(mine, []string{"warm"}, 1) // the statements prepared
	mine.Release(ctx, []string{"warm"})
	accounts := []string{"done", "held", "old", "new1", "new2", "new3"}
	before := writes.Load()
	got, done := claim(mine, accounts, 2)
	if n := writes.Load() - before; n != 2 {
		t.Errorf("a claim took %d round trips, want 2", n)
	}
	if got != "old@11:45 new1@00:00" || done != "done" {
		t.Errorf("claimed %q, done %q; want %q, %q", got, done, "old@11:45 new1@00:00", "done")
	}
	if n := locks(mine); n != 2 {
		t.Errorf("the claimer holds %d locks, want 2 (those it handed out)", n)
	}
	// A third replica gets what neither holds.
	if got, done := claim(third, accounts, 10); got != "new2@00:00 new3@00:00" || done != "done" {
		t.Errorf("the third replica claimed %q, done %q; want new2 and new3, done", got, done)
	}
	// Polled and let go: done for the others, and not locked by them.
	update(t, s, func(tx *Tx) error { return tx.RecordPoll(Poll{Account: "old", At: t0.Add(time.Minute), OK: true}) })
	if err := mine.Release(ctx, []string{"old", "new1"}); err != nil {
		t.Fatal(err)
	}
	if got, done := claim(other, []string{"old", "new1"}, 10); got != "new1@00:00" || done != "old" {
		t.Errorf("after the first let go: claimed %q, done %q; want new1, old", got, done)
	}
	if n := locks(other); n != 2 {
		t.Errorf("the other claimer holds %d locks, want 2 (held and new1)", n)
	}
	// A claim that takes its limit before the end of the accounts asked
	// about does not read the polls of those after its last lock: done
	// is said of the accounts it got to.
	update(t, s, func(tx *Tx) error { return tx.RecordPoll(Poll{Account: "late", At: t0, OK: true}) })
	if got, done := claim(mine, []string{"done", "new4", "late"}, 1); got != "new4@00:00" || done != "done" {
		t.Errorf("a claim stopping at its limit: claimed %q, done %q; want new4, done", got, done)
	}
	if got, done := claim(mine, []string{"late", "new5"}, 1); got != "new5@00:00" || done != "late" {
		t.Errorf("the next claim: claimed %q, done %q; want new5, late", got, done)
	}
}

// TestPostgresClaimPlans: each statement of a claim reads polls by index
// probes, on a table never analyzed (a new database's first tick) and on
// an analyzed one alike: a scan of the whole table at every claim made a
// first tick of 10,000 accounts 1.4 times slower (BenchmarkReplicaCycle).
func TestPostgresClaimPlans(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	postgresBackend.at(t, dsn, Options{})
	db := rawPG(t, dsn)
	accounts := []string{"acct-1", "acct-2", "never"}
	plans := func(when string) {
		t.Helper()
		for name, q := range map[string]struct {
			query string
			args  []any
		}{
			"claimLocksQuery":     {claimLocksQuery, []any{accounts, 7, 2, int64(5)}},
			"claimLastPollsQuery": {claimLastPollsQuery, []any{accounts}},
		} {
			rows, err := db.QueryContext(ctx, "EXPLAIN "+q.query, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan strings.Builder
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			rows.Close()
			if p := plan.String(); strings.Contains(p, "Seq Scan on polls") || strings.Contains(p, "hashed") ||
				!strings.Contains(p, "polls_account_at") {
				t.Errorf("%s, %s: not an index probe of polls a row:\n%s", when, name, p)
			}
		}
	}
	plans("table never analyzed")
	if _, err := db.ExecContext(ctx, `INSERT INTO polls (account, at, ok, error, missing)
		SELECT 'acct-' || g % 300, g, true, '', '' FROM generate_series(1, 30000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE polls"); err != nil {
		t.Fatal(err)
	}
	plans("table analyzed")
}
