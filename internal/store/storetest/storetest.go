// Package storetest makes state databases in the states tests need them
// in: left open by a process, with a -wal and a -shm beside them.
package storetest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardd/guardd/internal/store"
)

// LeftOpen writes a guardd state database at path as a process that has it
// open (running, or killed) leaves it: the statements earlier are in the
// database file (checkpointed), the statement last is only in the -wal, with
// its index in the -shm. It returns the three files' names.
func LeftOpen(t testing.TB, path string, earlier []string, last string) []string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(context.Background(), src, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	exec(t, src, earlier...) // closing checkpoints
	db, err := sql.Open("sqlite", src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(last); err != nil {
		t.Fatal(err)
	}
	names := []string{path, path + "-wal", path + "-shm"}
	for i, from := range []string{src, src + "-wal", src + "-shm"} {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatalf("the open database has no %s: %v", filepath.Base(from), err)
		}
		if err := os.WriteFile(names[i], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// exec runs statements on the database at path and closes it.
func exec(t testing.TB, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range statements {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// Statements for LeftOpen.
const (
	// Poll records a poll.
	Poll = "INSERT INTO polls (account, at, ok, error, missing) VALUES ('acme', 1, 1, '', '')"
	// Newer makes the schema version 99, newer than any guardd knows.
	Newer = "INSERT INTO schema_version (version, applied_at) VALUES (99, 0)"
)

// Corrupt overwrites every page of the database file at path but the
// first, which holds the header: SQLite reads it as malformed.
func Corrupt(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(data); i++ {
		data[i] = 0xA5
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ReadAll returns the contents of the files names, nil for one missing.
func ReadAll(t testing.TB, names []string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if data == nil && err == nil {
			data = []byte{}
		}
		out = append(out, data)
	}
	return out
}

// Unchanged fails for every file of names that is not as before says
// (ReadAll's result before).
func Unchanged(t testing.TB, names []string, before [][]byte) {
	t.Helper()
	for i, after := range ReadAll(t, names) {
		switch {
		case after == nil && before[i] != nil:
			t.Errorf("%s: got it deleted, want it unchanged", filepath.Base(names[i]))
		case string(after) != string(before[i]):
			t.Errorf("%s: got it changed (%d bytes, was %d), want it unchanged", filepath.Base(names[i]), len(after), len(before[i]))
		}
	}
}

// Killed leaves beside the database at path what a guardd process killed
// while it had the database open leaves (besides its -wal and -shm, which
// LeftOpen makes): an open marker no process holds. The next store.Open
// checks the whole file before writing to it. It returns the marker's name.
func Killed(t testing.TB, path string) string {
	t.Helper()
	name := path + store.OpenMarker + "0123456789abcdef"
	if err := os.WriteFile(name, []byte("pid 4242 on killed-host (pid:[1])\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}
