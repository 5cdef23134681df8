package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
)

func TestOpenNew(t *testing.T) {
	// A space, '?' and '#' would cut a file name or URI short.
	dir := filepath.Join(t.TempDir(), "guardd state?#x")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.db")
	s := openAt(t, path, Options{})
	if got, want := s.SchemaVersion(), len(migrations); got != want {
		t.Errorf("schema version: got %d, want %d", got, want)
	}
	if got := s.Path(); got != path {
		t.Errorf("path: got %s, want %s", got, path)
	}
	update(t, s, func(tx *Tx) error { return tx.RecordPoll(Poll{Account: "a", At: t0, OK: true}) })
	for _, name := range []string{path, path + "-wal", path + "-shm", s.marker.name} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: got mode %v, want -rw-------", filepath.Base(name), got)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 4 {
		t.Errorf("got %d files in the directory (%v), want the database, its WAL, its shared memory and its open marker", len(entries), err)
	}
	var versions []int
	view(t, s, func(tx *Tx) error {
		rows, err := tx.query("SELECT version FROM schema_version ORDER BY version")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return err
			}
			versions = append(versions, v)
		}
		return rows.Err()
	})
	if len(versions) != len(migrations) || versions[0] != 1 || versions[len(versions)-1] != len(migrations) {
		t.Errorf("schema_version rows: got %v, want 1 to %d", versions, len(migrations))
	}
}

// TestPragmas checks the settings of a pooled connection, which each get
// them from the DSN.
func TestPragmas(t *testing.T) {
	s := openTest(t, Options{BusyTimeout: 1500 * time.Millisecond})
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "1500"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			view(t, s, func(tx *Tx) error { return tx.queryRow([]any{&got}, "PRAGMA "+tt.pragma) })
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		opts Options
		want string
	}{
		{"no parent directory", filepath.Join(dir, "nope", "state.db"), Options{},
			"open state database " + dir + "/nope/state.db: directory " + dir + "/nope does not exist"},
		{"a directory", dir, Options{}, "open state database " + dir + ": it is a directory"},
		{"parent is a file", filepath.Join(file, "state.db"), Options{},
			"open state database " + file + "/state.db: " + file + " is not a directory"},
		{"empty path", "", Options{}, "open state database: empty path"},
		{"negative retention", filepath.Join(dir, "a.db"), Options{Retention: -time.Hour},
			"open state database " + dir + "/a.db: retention must not be negative (got -1h0m0s)"},
		{"negative busy timeout", filepath.Join(dir, "a.db"), Options{BusyTimeout: -time.Second},
			"open state database " + dir + "/a.db: busy timeout must not be negative (got -1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path, tt.opts)
			if err == nil {
				s.Close()
			}
			wantErr(t, err, tt.want)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad options: got a file (stat: %v), want none", err)
	}
}

// TestOpenRejects checks that files that are not guardd state databases are
// refused with an error naming them and left byte for byte as they were.
func TestOpenRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want string // after "open state database PATH: "
	}{
		// Damage is looked for when a process left the database open
		// (killed); a clean open does not (TestCleanOpen).
		{"random bytes", writeFile(random), "it is not a guardd state database (file is not a database)"},
		{"text file", writeFile([]byte("accounts:\n  - name: prod\n    provider: openai\n")),
			"it is not a guardd state database (file is not a database)"},
		{"one byte", writeFile([]byte("x")), "it is not a guardd state database (file is not a database)"},
		{"sqlite header then garbage", writeFile(append([]byte("SQLite format 3\x00"), random...)),
			"it is not a guardd state database (file is not a database)"},
		{"another program's database", func(t *testing.T, path string) {
			db := rawDB(t, path)
			if _, err := db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, "it is not a guardd state database (it has tables but no schema_version table)"},
		{"corrupt pages", killed(corruptDB), "the database is corrupt: database disk image is malformed"},
		{"bad freelist count", killed(badFreelist), freelistDamage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			files := dirNames(t, filepath.Dir(path))
			s, err := Open(context.Background(), path, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("got no error, want %s", tt.want)
			}
			t.Logf("error: %v", err)
			if want := "open state database " + path + ": " + tt.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got error %s\nwant       %s", err, want)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, before) {
				t.Errorf("got the file changed (%d bytes, was %d), want it unchanged", len(after), len(before))
			}
			for _, suffix := range []string{"-wal", "-journal"} {
				if fi, err := os.Stat(path + suffix); err == nil && fi.Size() > 0 {
					t.Errorf("got %s of %d bytes, want none", filepath.Base(path+suffix), fi.Size())
				}
			}
			// A killed process's marker stays: the next open refuses too.
			if got := dirNames(t, filepath.Dir(path)); !slices.Equal(got, files) {
				t.Errorf("files beside the database: got %v, want %v", got, files)
			}
		})
	}
}

// dirNames lists the names in dir but empty -wal and -shm files, which a
// read-only check may leave.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Size() == 0 && (strings.HasSuffix(e.Name(), "-wal") || strings.HasSuffix(e.Name(), "-shm")) {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

// freelistDamage is what quick_check says of badFreelist's file.
const freelistDamage = "the database is corrupt (quick_check: Freelist: size is 0 but should be 5)"

// badFreelist writes a guardd database, closed cleanly, whose header counts
// 5 free pages it does not have: damage that no read meets, only a
// whole-file check or a write that needs a new page.
func badFreelist(t *testing.T, path string) {
	s := openAt(t, path, Options{})
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(data[36:], 5) // the header's freelist page count
	writeFile(data)(t, path)
}

// killed makes what make makes, then leaves the open marker of a process
// killed while it had the database open (as storetest.Killed does).
func killed(make func(t *testing.T, path string)) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		make(t, path)
		leaveMarker(t, path)
	}
}

// leaveMarker leaves beside the database at path the open marker of a
// process killed while it had the database open.
func leaveMarker(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path+OpenMarker+"0123456789abcdef", []byte("pid 4242 on killed-host (pid:[1])\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeFile(data []byte) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// corruptDB writes a guardd database with some observations, then
// overwrites the middle of the file, keeping the header intact.
func corruptDB(t *testing.T, path string) {
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		for h := range 50 {
			if err := tx.AppendObservation(account("a"), observation("a", t0.Add(time.Duration(h)*time.Hour), 20)); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := 4096
	if len(data) < 8*page {
		t.Fatalf("database: got %d bytes, want at least %d", len(data), 8*page)
	}
	for i := 2 * page; i < 6*page; i++ {
		data[i] = 0xA5
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rawDB opens path directly, as another program (or a second guardd) would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, Options{})
	if got, want := s.SchemaVersion(), len(migrations); got != want {
		t.Errorf("schema version: got %d, want %d", got, want)
	}
}

func TestMigrateFromOlder(t *testing.T) { eachBackend(t, testMigrateFromOlder) }

func testMigrateFromOlder(t *testing.T, b backend) {
	ctx := context.Background()
	path := b.place(t)
	old, err := b.migs(ctx, path, Options{}, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	if got := old.SchemaVersion(); got != 1 {
		t.Errorf("old schema version: got %d, want 1", got)
	}
	appendFull(t, old, account("a"), observation("a", t0, 3))
	// The old schema has no outbox.
	err = old.Update(ctx, func(tx *Tx) error {
		_, err := tx.Enqueue(lifecycle.OutboxItem{Receiver: "r", Fingerprint: "f", Status: lifecycle.Firing, Payload: []byte("{}"), CreatedAt: t0})
		return err
	})
	noTable := map[string]string{DriverSQLite: "no such table: outbox", DriverPostgres: `relation "outbox" does not exist`}[b.name]
	if err == nil || !strings.Contains(err.Error(), noTable) {
		t.Errorf("enqueue at version 1: got %v, want %s", err, noTable)
	}
	old.Close()

	s := b.at(t, path, Options{})
	if got, want := s.SchemaVersion(), len(migrations); got != want {
		t.Errorf("schema version: got %d, want %d", got, want)
	}
	view(t, s, func(tx *Tx) error {
		n, err := tx.ObservationCount("a")
		if n != 1 {
			t.Errorf("observations kept: got %d, want 1", n)
		}
		return err
	})
	update(t, s, func(tx *Tx) error {
		_, err := tx.Enqueue(lifecycle.OutboxItem{Receiver: "r", Fingerprint: "f", Status: lifecycle.Firing, Payload: []byte("{}"), CreatedAt: t0})
		return err
	})
}

func TestOpenNewer(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		migs  []migration
		want  string
	}{
		{"a newer version", func(t *testing.T, path string) {
			s := openAt(t, path, Options{})
			s.Close()
			db := rawDB(t, path)
			if _, err := db.Exec("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", len(migrations)+1); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, migrations, fmt.Sprintf("schema version %d is newer than this guardd understands (%d); upgrade guardd or point it at another file", len(migrations)+1, len(migrations))},
		{"an older guardd", func(t *testing.T, path string) {
			s := openAt(t, path, Options{})
			s.Close()
		}, migrations[:1], fmt.Sprintf("schema version %d is newer than this guardd understands (1); upgrade guardd or point it at another file", len(migrations))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tt.setup(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := open(context.Background(), path, Options{}, tt.migs)
			if err == nil {
				s.Close()
			}
			wantErr(t, err, "open state database "+path+": "+tt.want)
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, before) {
				t.Errorf("got the file changed (%d bytes, was %d), want it unchanged", len(after), len(before))
			}
		})
	}
}

func TestUpdateRollsBack(t *testing.T) { eachBackend(t, testUpdateRollsBack) }

func testUpdateRollsBack(t *testing.T, b backend) {
	s := b.open(t, Options{})
	a := account("a")
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := tx.AppendObservation(a, observation("a", t0, 2)); err != nil {
			return err
		}
		if _, err := tx.FirstSeen("a", KindGrant, "cg_00", t0); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Errorf("got error %v, want %v", err, boom)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic in fn" {
				t.Errorf("got panic %v, want the panic of fn", r)
			}
		}()
		s.Update(context.Background(), func(tx *Tx) error {
			if err := tx.AppendObservation(a, observation("a", t0, 2)); err != nil {
				return err
			}
			panic("panic in fn")
		})
	}()
	view(t, s, func(tx *Tx) error {
		if n, _ := tx.ObservationCount("a"); n != 0 {
			t.Errorf("observations: got %d, want 0", n)
		}
		return nil
	})
	// The first-seen row was rolled back too: a later time is now first.
	update(t, s, func(tx *Tx) error {
		got, err := tx.FirstSeen("a", KindGrant, "cg_00", t0.Add(time.Hour))
		if !got.Equal(t0.Add(time.Hour)) {
			t.Errorf("first seen: got %s, want %s", got, t0.Add(time.Hour))
		}
		return err
	})
}

func TestViewIsReadOnly(t *testing.T) { eachBackend(t, testViewIsReadOnly) }

func testViewIsReadOnly(t *testing.T, b backend) {
	s := b.open(t, Options{})
	err := s.View(context.Background(), func(tx *Tx) error {
		return tx.AppendObservation(account("a"), observation("a", t0, 1))
	})
	wantErr(t, err, `append observation of account "a": called in a read-only transaction (use Store.Update)`)
}

// TestTwoStores opens the same file twice, as two guardd check processes
// would.
func TestTwoStores(t *testing.T) { eachBackend(t, testTwoStores) }

func testTwoStores(t *testing.T, be backend) {
	path := be.place(t)
	a := be.at(t, path, Options{})
	b := be.at(t, path, Options{BusyTimeout: 200 * time.Millisecond})
	acct := account("prod")
	count := func(s *Store) int {
		var n int
		view(t, s, func(tx *Tx) (err error) { n, err = tx.ObservationCount("prod"); return err })
		return n
	}

	t.Run("both read and write", func(t *testing.T) {
		update(t, a, func(tx *Tx) error { return tx.AppendObservation(acct, observation("prod", t0, 2)) })
		if got := count(b); got != 1 {
			t.Errorf("b sees: got %d observations, want 1", got)
		}
		update(t, b, func(tx *Tx) error { return tx.AppendObservation(acct, observation("prod", t0.Add(time.Hour), 2)) })
		if got := count(a); got != 2 {
			t.Errorf("a sees: got %d observations, want 2", got)
		}
	})

	t.Run("writes serialise", func(t *testing.T) {
		const writers, each = 4, 25
		errs := make(chan error, 2*writers)
		// b waits 200ms at most, for the next subtest: too little for
		// eight writers on a busy machine. This one waits the default.
		for _, s := range []*Store{a, be.at(t, path, Options{})} {
			for w := range writers {
				go func() {
					for i := range each {
						err := s.Update(context.Background(), func(tx *Tx) error {
							return tx.RecordPoll(Poll{Account: "prod", At: t0.Add(time.Duration(w*each+i) * time.Second), OK: true})
						})
						if err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
		}
		for range 2 * writers {
			if err := <-errs; err != nil {
				t.Errorf("concurrent write: got %v, want no error", err)
			}
		}
		var n int
		view(t, b, func(tx *Tx) error { return tx.queryRow([]any{&n}, "SELECT count(*) FROM polls") })
		if want := 2 * writers * each; n != want {
			t.Errorf("polls: got %d, want %d", n, want)
		}
	})

	t.Run("a writer past busy_timeout gets locked", func(t *testing.T) {
		holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
		go func() {
			done <- a.Update(context.Background(), func(tx *Tx) error {
				if err := tx.AppendObservation(acct, observation("prod", t0.Add(2*time.Hour), 2)); err != nil {
					return err
				}
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		// Readers do not wait for the writer, and do not see its rows yet.
		if got := count(b); got != 2 {
			t.Errorf("b reads while a writes: got %d observations, want 2", got)
		}
		called := false
		err := b.Update(context.Background(), func(tx *Tx) error {
			called = true
			return tx.AppendObservation(acct, observation("prod", t0.Add(3*time.Hour), 2))
		})
		if !errors.Is(err, ErrLocked) {
			t.Errorf("got error %v, want one wrapping ErrLocked", err)
		}
		if err != nil && !strings.Contains(err.Error(), "locked") {
			t.Errorf("got error %v, want it to say locked", err)
		}
		if called {
			t.Error("got fn called, want it not called while another writer holds the lock")
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("a's write: %v", err)
		}
		if got := count(b); got != 3 {
			t.Errorf("after a commits: got %d observations, want 3", got)
		}
	})
}

// TestLockedByAnotherConnection holds a write transaction on a connection of
// its own, like another program would.
func TestLockedByAnotherConnection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	old, err := open(ctx, path, Options{}, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	appendFull(t, old, account("a"), observation("a", t0, 1))
	old.Close()

	db := rawDB(t, path)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO polls (account, at, ok, error, missing) VALUES ('a', 1, 1, '', '')"); err != nil {
		t.Fatal(err)
	}

	// Open needs the write lock to migrate.
	fast := Options{BusyTimeout: 100 * time.Millisecond}
	s, err := Open(ctx, path, fast)
	if err == nil {
		s.Close()
		t.Fatal("open while locked: got no error, want a locked error")
	}
	if !errors.Is(err, ErrLocked) || !strings.HasPrefix(err.Error(), "open state database "+path+": migrate to schema version 2") {
		t.Errorf("open while locked: got %v, want open state database %s: migrate to schema version 2 …: %v", err, path, ErrLocked)
	}

	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, fast)
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO polls (account, at, ok, error, missing) VALUES ('a', 2, 1, '', '')"); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		return tx.AppendObservation(account("a"), observation("a", t0.Add(time.Hour), 1))
	})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "begin write transaction: state database is locked by another writer (waited 100ms)") {
		t.Errorf("update while locked: got %v, want begin write transaction: %v (waited 100ms): …", err, ErrLocked)
	}
	var polls int
	view(t, s, func(tx *Tx) error { return tx.queryRow([]any{&polls}, "SELECT count(*) FROM polls") })
	if polls != 1 {
		t.Errorf("polls seen while the other transaction is open: got %d, want 1", polls)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx *Tx) error {
		n, err := tx.ObservationCount("a")
		if n != 1 {
			t.Errorf("observations: got %d, want 1 (the locked update wrote nothing)", n)
		}
		return err
	})
}

// TestStatementsKept: a query is prepared once and kept, used by
// transactions on other connections too (an Update and a View at once),
// and let go by Close.
func TestStatementsKept(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	a := account("a")
	count := func(tx *Tx) int {
		n, err := tx.ObservationCount("a")
		if err != nil {
			t.Error(err)
		}
		return n
	}
	for i := range 3 {
		update(t, s, func(tx *Tx) error {
			return tx.AppendObservation(a, observation("a", t0.Add(time.Duration(i)*time.Hour), 2))
		})
	}
	kept := len(s.stmts)
	if kept == 0 {
		t.Fatal("no statement kept after three writes")
	}
	// The View runs on a second connection while the Update holds the
	// first, both with the statements kept.
	update(t, s, func(tx *Tx) error {
		if err := tx.AppendObservation(a, observation("a", t0.Add(3*time.Hour), 2)); err != nil {
			return err
		}
		done := make(chan int)
		go func() {
			n := 0
			if err := s.View(context.Background(), func(tx *Tx) error { n = count(tx); return nil }); err != nil {
				t.Error(err)
			}
			done <- n
		}()
		if got, inView := count(tx), <-done; got != 4 || inView != 3 {
			t.Errorf("observations: got %d in the write and %d beside it, want 4 and 3", got, inView)
		}
		return nil
	})
	if s.db.Stats().OpenConnections < 2 {
		t.Errorf("got %d connections, want the View on its own", s.db.Stats().OpenConnections)
	}
	if got := len(s.stmts); got != kept+1 {
		t.Errorf("statements kept: got %d, want the %d of the writes and the count's", got, kept)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.stmts != nil {
		t.Errorf("after Close: %d statements kept, want none", len(s.stmts))
	}
}
