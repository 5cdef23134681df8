package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/storetest"
)

// known is the newest schema version this guardd knows.
func known(t *testing.T) int {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "new.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return st.SchemaVersion()
}

// TestOpenRejectsWithWAL refuses databases beside a -wal and -shm left by
// a process that has them open: the refusal reads them only, and leaves all
// three files byte for byte as they were.
func TestOpenRejectsWithWAL(t *testing.T) {
	newer := fmt.Sprintf("schema version 99 is newer than this guardd understands (%d)", known(t))
	// A corrupt file is refused when a process left it open as a killed
	// one does (a clean open does not check the whole file: TestCleanOpen).
	corrupt := func(t *testing.T, path string) []string {
		names := storetest.LeftOpen(t, path, nil, storetest.Poll)
		storetest.Corrupt(t, path)
		return append(names, storetest.Killed(t, path))
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string) []string
		want string // after "open state database PATH: "
	}{
		{"corrupt file", corrupt, "the database is corrupt: database disk image is malformed"},
		{"newer schema in the -wal", func(t *testing.T, path string) []string {
			return storetest.LeftOpen(t, path, nil, storetest.Newer)
		}, newer},
		{"newer schema in the file", func(t *testing.T, path string) []string {
			return storetest.LeftOpen(t, path, []string{storetest.Newer}, storetest.Poll)
		}, newer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			names := tt.make(t, path)
			before := storetest.ReadAll(t, names)
			s, err := store.Open(context.Background(), path, store.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("got no error, want %s", tt.want)
			}
			if want := "open state database " + path + ": " + tt.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got error %s\nwant       %s", err, want)
			}
			storetest.Unchanged(t, names, before)
		})
	}

	// A -wal left without its -shm: SQLite needs a -shm to read the -wal,
	// so one is made, and the database and the -wal are left as they were.
	t.Run("corrupt file, -wal without -shm", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		names := corrupt(t, path)
		if err := os.Remove(names[2]); err != nil {
			t.Fatal(err)
		}
		names = append(names[:2], names[3])
		before := storetest.ReadAll(t, names)
		if s, err := store.Open(context.Background(), path, store.Options{}); err == nil {
			s.Close()
			t.Fatal("got no error, want the database refused")
		}
		storetest.Unchanged(t, names, before)
	})

	// What a crashed guardd left in its -wal is kept and read.
	path := filepath.Join(t.TempDir(), "state.db")
	storetest.LeftOpen(t, path, nil, storetest.Poll)
	s, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(context.Background(), func(tx *store.Tx) error {
		polls, err := tx.RecentPolls("acme", 10)
		if len(polls) != 1 {
			t.Errorf("polls in the -wal a crash left: got %d, want 1", len(polls))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
