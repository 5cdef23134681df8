package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// markerNames lists the open markers beside the database at path.
func markerNames(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), filepath.Base(path)+OpenMarker) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestCleanOpen: after a clean close, Open reads the header and the schema
// version only; the whole file is checked when a process left it open.
func TestCleanOpen(t *testing.T) {
	if !canLock {
		t.Skip("no flock here: every open checks the whole file")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path, Options{})
	update(t, s, func(tx *Tx) error { return tx.AppendObservation(account("a"), observation("a", t0, 3)) })
	if got := markerNames(t, path); len(got) != 1 {
		t.Fatalf("open markers while open: got %v, want one", got)
	}
	// A second store beside the first (another guardd check) sees a
	// marker that is held, and checks nothing.
	before := quickChecks.Load()
	other := openAt(t, path, Options{})
	if got := quickChecks.Load() - before; got != 0 {
		t.Errorf("open beside an open store: got %d quick_checks, want 0", got)
	}
	if got := other.LeftOpen(); len(got) != 0 {
		t.Errorf("LeftOpen beside an open store: got %v, want none", got)
	}
	other.Close()
	s.Close()
	if got := markerNames(t, path); len(got) != 0 {
		t.Errorf("open markers after a clean close: got %v, want none", got)
	}

	before = quickChecks.Load()
	for range 3 {
		s := openAt(t, path, Options{})
		s.Close()
	}
	if got := quickChecks.Load() - before; got != 0 {
		t.Errorf("three clean opens: got %d quick_checks, want 0", got)
	}

	// A process that ended with it open: the next open checks it once,
	// says who left it, and takes the marker away.
	leaveMarker(t, path)
	before = quickChecks.Load()
	s = openAt(t, path, Options{})
	if got := quickChecks.Load() - before; got != 1 {
		t.Errorf("open after a kill: got %d quick_checks, want 1", got)
	}
	if got := s.LeftOpen(); len(got) != 1 || !strings.HasPrefix(got[0], "pid 4242 on killed-host (pid:[1]) (since ") {
		t.Errorf("LeftOpen: got %q, want the killed process", got)
	}
	s.Close()
	before = quickChecks.Load()
	s = openAt(t, path, Options{})
	s.Close()
	if got := quickChecks.Load() - before; got != 0 {
		t.Errorf("open after the checked one: got %d quick_checks, want 0", got)
	}

	// A store whose process ends before Close leaves its marker unheld.
	s = openAt(t, path, Options{})
	s.db.Close()
	s.marker.leave()
	before = quickChecks.Load()
	s = openAt(t, path, Options{})
	if got := quickChecks.Load() - before; got != 1 {
		t.Errorf("open after a store left open: got %d quick_checks, want 1", got)
	}
	if _, err := Check(ctx, path, Options{}); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// closedDamaged returns a database closed cleanly with badFreelist's damage.
func closedDamaged(t *testing.T) string {
	if !canLock {
		t.Skip("no flock here: every open checks the whole file")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	badFreelist(t, path)
	return path
}

// TestDamageFoundByCheck: damage no read touches (a wrong free-page count)
// is not found by a clean open, which proves that the open does not check
// the whole file; Check and IntegrityCheck find it, and a store that found
// it leaves its marker, so that every later open refuses the file.
func TestDamageFoundByCheck(t *testing.T) {
	ctx, path := context.Background(), closedDamaged(t)
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("clean open of a file with damage no read touches: got %v, want it opened unchecked", err)
	}
	var n int
	view(t, s, func(tx *Tx) error { return tx.queryRow([]any{&n}, "SELECT count(*) FROM schema_version") })
	if n != len(migrations) {
		t.Errorf("schema_version rows: got %d, want %d", n, len(migrations))
	}

	want := "check state database " + path + ": " + freelistDamage
	r, err := Check(ctx, path, Options{})
	wantErr(t, err, want)
	if len(r.OpenBy) != 1 || len(r.LeftOpen) != 0 {
		t.Errorf("Check: got open by %v, left open by %v, want open by this process only", r.OpenBy, r.LeftOpen)
	}
	wantErr(t, s.IntegrityCheck(ctx), want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := markerNames(t, path); len(got) != 1 {
		t.Errorf("open markers after a close that found damage: got %v, want its own", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s, err := Open(ctx, path, Options{})
		if err == nil {
			s.Close()
		}
		wantErr(t, err, "open state database "+path+": "+freelistDamage)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
		t.Error("got the refused file changed, want it unchanged")
	}
	r, err = Check(ctx, path, Options{})
	wantErr(t, err, want)
	if len(r.LeftOpen) != 1 || len(r.OpenBy) != 0 {
		t.Errorf("Check: got left open by %v, open by %v, want left open by this process once", r.LeftOpen, r.OpenBy)
	}
}

// TestDamageFoundByAWrite: a write that meets damage fails, and its store
// leaves its marker, so that the next open checks the file and refuses it.
func TestDamageFoundByAWrite(t *testing.T) {
	ctx, path := context.Background(), closedDamaged(t)
	s := openAt(t, path, Options{})
	// 30 grants need a new page, which SQLite looks for in the free list.
	err := s.Update(ctx, func(tx *Tx) error { return tx.AppendObservation(account("a"), observation("a", t0, 30)) })
	wantErr(t, err, `append observation of account "a": the database is corrupt: database disk image is malformed (11)`)
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err == nil {
		s.Close()
	}
	wantErr(t, err, "open state database "+path+": "+freelistDamage)
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s := openAt(t, path, Options{})
	update(t, s, func(tx *Tx) error { return tx.AppendObservation(account("a"), observation("a", t0, 3)) })
	s.Close()
	before := dirNames(t, dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Check(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != path || r.Version != len(migrations) || r.Known != len(migrations) || r.Bytes != int64(len(data)) ||
		len(r.LeftOpen) != 0 || len(r.OpenBy) != 0 {
		t.Errorf("report: got %+v, want %s at version %d of %d bytes, open by none", r, path, len(migrations), len(data))
	}
	if got := dirNames(t, dir); !slices.Equal(got, before) {
		t.Errorf("files after Check: got %v, want %v", got, before)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
		t.Error("got the file changed by Check, want it unchanged")
	}

	// A file Check refuses, and one it never creates.
	for _, tt := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "none.db"), "no such file"},
		{"directory", dir, "it is a directory"},
		{"text", filepath.Join(dir, "text.db"), notDatabase},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "text" {
				writeFile(bytes.Repeat([]byte("accounts: []\n"), 100))(t, tt.path)
			}
			_, err := Check(ctx, tt.path, Options{})
			wantErr(t, err, "check state database "+tt.path+": "+tt.want)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Errorf("Check of a missing file: got a file (%v), want none", err)
	}
}

// TestTemporaryMarkers: a marker being made is never taken for one left;
// one left half-made an hour ago (its process ended between making and
// renaming it, before any write) is tidied away.
func TestTemporaryMarkers(t *testing.T) {
	if !canLock {
		t.Skip("no flock here")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path, Options{})
	s.Close()
	fresh, old := path+OpenMarker+"aaaa"+markerTemp, path+OpenMarker+"bbbb"+markerTemp
	for _, name := range []string{fresh, old} {
		writeFile(nil)(t, name)
	}
	hourAgo := time.Now().Add(-2 * tempGrace)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	before := quickChecks.Load()
	s = openAt(t, path, Options{})
	s.Close()
	if got := quickChecks.Load() - before; got != 0 {
		t.Errorf("open beside temporary markers: got %d quick_checks, want 0", got)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a marker being made: got %v, want it left alone", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a marker left half-made: got %v, want it removed", err)
	}
}
