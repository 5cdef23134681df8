// Package folder reads receipts from a folder on disk, read-only: a
// Maildir (its new/ and cur/) or a plain folder of .eml files, for people
// who route receipts with their own mail tools.
//
// It never renames, moves, deletes or writes a file: a Maildir message
// stays in new/ with its flags as they were. Only regular files are read
// (no symbolic links, no subfolders, no names starting with a dot).
//
// The cursor holds the names read, with their modification times, and a
// floor: a file is read when its name was not read before and it is not
// older than the floor. When the names pass a bound the oldest are
// dropped and the floor rises to the oldest name kept, so a file that
// appears later with an older modification time than that (copied with
// its time kept) is not read. A Maildir message is named by its unique
// name, the part before ":", which a mail program keeps when it moves the
// message to cur/ and adds flags, so that move does not make it new.
//
// In a plain folder, a file modified in the last moments (Options.Settle)
// is left for the next Read: it may still be being written. Maildir
// delivery writes in tmp/ and renames, so new/ and cur/ hold whole files.
package folder

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/mailbox"
)

// Defaults.
const (
	DefaultSettle  = 2 * time.Second
	DefaultMaxSeen = 1000
)

// Options configure a Reader.
type Options struct {
	// Path is the Maildir (a folder with new/ and cur/) or the folder of
	// .eml files.
	Path string
	// Limits bound one Read.
	Limits mailbox.Limits
	// Settle is how long a plain folder's file must be left unmodified
	// before it is read; DefaultSettle when zero.
	Settle time.Duration
	// MaxSeen bounds the names a cursor keeps; DefaultMaxSeen when zero.
	MaxSeen int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Reader reads one folder.
type Reader struct{ o Options }

var _ mailbox.Reader = (*Reader)(nil)

// New returns the Reader of o.Path; it does not look at the folder yet.
func New(o Options) (*Reader, error) {
	if o.Path == "" {
		return nil, errors.New("folder: no path")
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	o.Path = abs
	o.Limits = o.Limits.WithDefaults()
	o.Settle = cmp.Or(o.Settle, DefaultSettle)
	o.MaxSeen = cmp.Or(o.MaxSeen, DefaultMaxSeen)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Reader{o: o}, nil
}

// state is what a folder cursor holds.
type state struct {
	Path string `json:"path"`
	// Floor (Unix nanoseconds): files modified before it are not read.
	Floor int64 `json:"floor,omitempty"`
	// Seen maps each name read (or skipped) to its modification time.
	Seen map[string]int64 `json:"seen,omitempty"`
}

const cursorKind = "folder"

// file is a message file found in the folder.
type file struct {
	key   string // the name that identifies it (a Maildir unique name)
	path  string
	size  int64
	mtime time.Time
}

// Read implements mailbox.Reader.
func (r *Reader) Read(ctx context.Context, c mailbox.Cursor) ([]mailbox.Message, mailbox.Cursor, error) {
	var st state
	ok, err := mailbox.DecodeCursor(c, cursorKind, &st)
	if err != nil {
		return nil, c, err
	}
	if !ok || st.Path != r.o.Path {
		st = state{Path: r.o.Path}
	}
	if st.Seen == nil {
		st.Seen = make(map[string]int64)
	}
	msgs, err := r.read(ctx, &st)
	if err != nil {
		return nil, c, mailbox.Unavailable(fmt.Errorf("folder %s: %w", r.o.Path, err))
	}
	return msgs, mailbox.EncodeCursor(cursorKind, st), nil
}

func (r *Reader) read(ctx context.Context, st *state) ([]mailbox.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, maildir, err := r.list()
	if err != nil {
		return nil, err
	}
	var fresh []file
	for _, f := range files {
		if _, seen := st.Seen[f.key]; !seen && f.mtime.UnixNano() >= st.Floor {
			fresh = append(fresh, f)
		}
	}
	slices.SortFunc(fresh, func(a, b file) int {
		return cmp.Or(a.mtime.Compare(b.mtime), strings.Compare(a.key, b.key))
	})

	lim := r.o.Limits
	budget := lim.ReadBytes
	var msgs []mailbox.Message
	fetched := 0
	// left is the modification time of the oldest file left for a later
	// Read, or -1: the floor must not pass it.
	left := int64(-1)
	leave := func(f file) {
		if left < 0 {
			left = f.mtime.UnixNano() // fresh is sorted: the first is the oldest
		}
	}
	for _, f := range fresh {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(msgs) == lim.Messages ||
			(!maildir && r.o.Now().Sub(f.mtime) < r.o.Settle) ||
			(f.size <= lim.MessageBytes && f.size > budget && fetched > 0) {
			leave(f)
			break
		}
		m := mailbox.Message{ID: f.key, Received: f.mtime.UTC(), Size: f.size}
		if f.size > lim.MessageBytes {
			m.Skipped = lim.TooLarge(f.size)
		} else {
			raw, err := readFile(f.path, lim.MessageBytes)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				// Moved since the listing (a Maildir message to cur/):
				// the next Read finds it under its new name.
				leave(f)
				continue
			case errors.Is(err, errTooLarge):
				m.Skipped = lim.TooLarge(int64(len(raw)))
			case err != nil:
				m.Skipped = "unreadable: " + err.Error()
			default:
				m.Raw = raw
				budget -= int64(len(raw))
				fetched++
			}
		}
		st.Seen[f.key] = f.mtime.UnixNano()
		msgs = append(msgs, m)
	}
	st.prune(r.o.MaxSeen, left)
	return msgs, nil
}

var errTooLarge = errors.New("too large")

// readFile reads the file at path, up to max bytes; a larger one gives
// errTooLarge with what was read.
func readFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return b, errTooLarge
	}
	return b, nil
}

// prune keeps at most max names, dropping the oldest, and raises the floor
// to the oldest kept; never past limit (when not -1), the oldest file
// still to read.
func (st *state) prune(max int, limit int64) {
	if len(st.Seen) <= max {
		return
	}
	times := make([]int64, 0, len(st.Seen))
	for _, t := range st.Seen {
		times = append(times, t)
	}
	slices.Sort(times)
	floor := times[len(times)-max]
	if limit >= 0 {
		floor = min(floor, limit)
	}
	if floor <= st.Floor {
		return
	}
	st.Floor = floor
	for k, t := range st.Seen {
		if t < floor {
			delete(st.Seen, k)
		}
	}
}

// list finds the message files: a Maildir's in new/ and cur/, else the
// folder's .eml files.
func (r *Reader) list() (files []file, maildir bool, err error) {
	fi, err := os.Stat(r.o.Path)
	if err != nil {
		return nil, false, err
	}
	if !fi.IsDir() {
		return nil, false, fmt.Errorf("not a folder")
	}
	if isDir(filepath.Join(r.o.Path, "new")) && isDir(filepath.Join(r.o.Path, "cur")) {
		var files []file
		for _, sub := range []string{"new", "cur"} {
			fs, err := scan(filepath.Join(r.o.Path, sub), func(name string) (string, bool) {
				key, _, _ := strings.Cut(name, ":")
				return key, key != ""
			})
			if err != nil {
				return nil, true, err
			}
			files = append(files, fs...)
		}
		// A message being moved from new/ to cur/ may be listed twice.
		slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.key, b.key) })
		files = slices.CompactFunc(files, func(a, b file) bool { return a.key == b.key })
		return files, true, nil
	}
	files, err = scan(r.o.Path, func(name string) (string, bool) {
		return name, strings.EqualFold(filepath.Ext(name), ".eml")
	})
	return files, false, err
}

// scan lists the regular files of dir whose name keep accepts, under the
// key it gives.
func scan(dir string, keep func(name string) (string, bool)) ([]file, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []file
	for _, e := range entries {
		key, ok := keep(e.Name())
		if !ok || strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		files = append(files, file{key: key, path: filepath.Join(dir, e.Name()), size: info.Size(), mtime: info.ModTime()})
	}
	return files, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
