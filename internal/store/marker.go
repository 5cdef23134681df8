package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/proc"
)

// Open markers tell a database closed cleanly from one a process left open
// when it ended (killed, crashed, or the machine lost power), which is the
// one time Open checks the whole file (PRAGMA quick_check) before writing
// to it: a check at every open costs more than the rest of a guardd check.
//
// Each Store holds a marker of its own, the file PATH.open-ID beside the
// database, from before it first writes until it is closed: it holds an
// exclusive flock on it, which the kernel drops when the process ends,
// however it ends, and removes it on a clean Close, before letting go of
// the lock. A marker no process holds was therefore left by one that ended
// without closing the database. Any number of processes may hold markers
// at once (guardd run beside two guardd check), each its own; the daemon's
// own lock (state.db.lock) is another matter and is not needed for this.
//
// Crash at any moment: a marker is made under a temporary name, locked and
// then renamed into place, so that no other process ever sees it unlocked
// while its owner lives; it is in place, and its directory synced, before
// the first write. A process that ends after its last write but before
// removing its marker costs one needless check at the next open, never a
// missed one. Markers found left are removed only once the check has
// passed; a file found damaged keeps them, so every later open checks it
// again and refuses it the same way.
const (
	// markerTemp ends the name a marker is made under.
	markerTemp = ".tmp"
	// tempGrace is how old a temporary marker no process holds must be to
	// be removed: its process ended between making and renaming it.
	tempGrace = time.Hour
)

// OpenMarker is put between the database's path and a Store's random id
// to name the Store's open marker: state.db.open-1f2e3d4c5b6a7988.
const OpenMarker = ".open-"

// marker is a Store's hold on its open marker.
type marker struct {
	f    *os.File
	name string
}

// leftMarker is a marker no process holds.
type leftMarker struct {
	name string
	// who is what its process wrote in it (proc.Process.Name) and since
	// when, for people.
	who string
}

// newMarker makes and locks the open marker of this process's new Store on
// the database at abs.
func newMarker(abs string) (*marker, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("make open marker: %w", err)
	}
	name := abs + OpenMarker + hex.EncodeToString(id[:])
	f, err := os.OpenFile(name+markerTemp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("make open marker: %w", err)
	}
	m := &marker{f: f, name: name + markerTemp}
	fail := func(err error) (*marker, error) {
		os.Remove(m.name)
		f.Close()
		return nil, fmt.Errorf("make open marker %s: %w", name, err)
	}
	if err := tryLock(f); err != nil {
		return fail(err)
	}
	if _, err := io.WriteString(f, proc.Self().Name()+"\n"); err != nil {
		return fail(err)
	}
	if err := os.Rename(m.name, name); err != nil {
		return fail(err)
	}
	m.name = name
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return fail(err)
	}
	return m, nil
}

// syncDir makes a new name in dir durable, so that a marker made before a
// write survives a power loss that keeps the write.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// remove removes the marker, then lets go of it: the database was closed
// cleanly. Removing first means no other process finds it unheld.
func (m *marker) remove() error {
	err := os.Remove(m.name)
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// leave lets go of the marker and leaves it in place, as a process that
// ends without closing the database does: the next Open checks the file.
func (m *marker) leave() { m.f.Close() }

// markers lists the open markers beside the database at abs: those left by
// processes that ended without closing it, and those held by processes that
// have it open now. With tidy, it removes temporary markers left unheld for
// tempGrace.
func markers(abs string, now time.Time, tidy bool) (left, held []leftMarker, err error) {
	dir, base := filepath.Split(abs)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read open markers: %w", err)
	}
	prefix := base + OpenMarker
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || e.IsDir() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		lm, isLeft, ok, err := probe(name)
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("read open marker %s: %w", name, err)
		case !ok:
			// Gone, or removed on a clean close meanwhile.
		case strings.HasSuffix(name, markerTemp):
			if fi, err := e.Info(); tidy && isLeft && err == nil && now.Sub(fi.ModTime()) > tempGrace {
				os.Remove(name)
			}
		case isLeft:
			left = append(left, lm)
		default:
			held = append(held, lm)
		}
	}
	return left, held, nil
}

// probe reads the marker name and tells whether a process holds it. ok is
// false when it is gone: its process closed the database cleanly.
func probe(name string) (m leftMarker, isLeft, ok bool, err error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, false, nil
	}
	if err != nil {
		return m, false, false, err
	}
	defer f.Close()
	who, err := io.ReadAll(io.LimitReader(f, 512))
	if err != nil {
		return m, false, false, err
	}
	m = leftMarker{name: name, who: strings.TrimSpace(string(who))}
	if fi, err := f.Stat(); err == nil {
		m.who += " (since " + fi.ModTime().UTC().Format(time.RFC3339) + ")"
	}
	switch err := tryShared(f); {
	case errors.Is(err, errLocked):
		return m, false, true, nil
	case err != nil:
		return m, false, false, err
	}
	// Unheld: its process ended, unless it closed the database cleanly
	// just now, removing the marker before letting go of it.
	opened, err1 := f.Stat()
	now, err2 := os.Stat(name)
	if err1 != nil || err2 != nil || !os.SameFile(opened, now) {
		return m, false, false, nil
	}
	return m, true, true, nil
}

// whoOf lists who left or holds the markers ms.
func whoOf(ms []leftMarker) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.who)
	}
	return out
}
