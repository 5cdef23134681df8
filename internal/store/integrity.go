package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// LeftOpen names the processes that had left the database open when Open
// opened it (each as "pid 1234 on host-a (pid:[…]) (since …)"): they ended
// without closing it, so Open checked the whole file before writing to it,
// and found no damage. Empty after a clean close.
func (s *Store) LeftOpen() []string { return s.left }

// IntegrityCheck checks the whole open database with PRAGMA quick_check,
// as Open does after an unclean shutdown, reading one snapshot without
// holding up writers. Damage is an error naming the path, worded as Open's
// refusal; from then on Close leaves the Store's open marker behind, so that
// the next Open checks the file again and refuses it.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if s.d.dollar {
		return nil // PostgreSQL checks its own pages
	}
	if err := s.quickCheck(ctx); err != nil {
		if ctx.Err() == nil {
			// Damage, or a file that could not be read: either way the
			// next Open checks it (a needless check costs only time).
			s.damaged.Store(true)
		}
		return fmt.Errorf("check state database %s: %w", s.path, err)
	}
	return nil
}

// CheckReport is what Check found.
type CheckReport struct {
	// Path is the database checked.
	Path string
	// Version is its schema version (0 for an empty file); Known the
	// newest this guardd knows.
	Version, Known int
	// Bytes is the size of the database file, its -wal not included.
	Bytes int64
	// LeftOpen names the processes that had the database open and ended
	// without closing it; OpenBy those that have it open now.
	LeftOpen, OpenBy []string
}

// Check checks the whole state database at path with PRAGMA quick_check
// and reads its schema version, without writing anything: not to the file,
// its -wal and -shm, nor its open markers, and it never creates one.
// Processes may use the database meanwhile. Damage, a file that is not a
// guardd state database and a missing one are errors naming path; damage is
// worded as Open's refusal. A schema newer than this guardd knows is no
// damage: the report says so.
func Check(ctx context.Context, path string, opts Options) (CheckReport, error) {
	r := CheckReport{Path: path, Known: len(migrations)}
	wrap := func(err error) (CheckReport, error) {
		return r, fmt.Errorf("check state database %s: %w", path, err)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return wrap(err)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return wrap(errors.New("no such file"))
	case err != nil:
		return wrap(err)
	case fi.IsDir():
		return wrap(errors.New("it is a directory"))
	case fi.Size() > 0 && fi.Size() < 512:
		return wrap(errors.New(notDatabase))
	}
	r.Bytes = fi.Size()
	abs, err := filepath.Abs(path)
	if err != nil {
		return wrap(err)
	}
	if canLock {
		left, held, err := markers(abs, time.Now(), false)
		if err != nil {
			return wrap(err)
		}
		r.LeftOpen, r.OpenBy = whoOf(left), whoOf(held)
	}
	if r.Version, err = check(ctx, abs, opts, -1, true); err != nil {
		return wrap(err)
	}
	return r, nil
}
