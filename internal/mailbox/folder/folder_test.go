package folder_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/mailbox/folder"
	"github.com/guardd/guardd/internal/mailbox/mailboxtest"
)

var t0 = time.Date(2026, 8, 16, 9, 0, 0, 0, time.UTC)

// put writes a message file named name under dir with modification time
// at and returns its path.
func put(t *testing.T, dir, name string, at time.Time, size int) string {
	t.Helper()
	body := "Subject: " + name + "\r\n\r\nReceipt from Example AI, PBC\r\n"
	body += strings.Repeat("x", max(0, size-len(body)))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
	return p
}

func maildir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func newReader(t *testing.T, o folder.Options) *folder.Reader {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return t0.Add(24 * time.Hour) }
	}
	r, err := folder.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var read = mailboxtest.Read

// ids lists the messages' IDs ("ID (skipped)" for a skipped one).
func ids(msgs []mailbox.Message) string {
	var out []string
	for _, m := range msgs {
		s := m.ID
		if m.Skipped != "" {
			s += " (skipped)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// snapshot records every file under root with its mode, time and
// contents' hash, to prove a Read changed nothing.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s %d", p, info.Mode(), info.ModTime().UnixNano())
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dir is a Maildir or a folder of .eml files for the contract suite;
// each delivery is a minute newer than the last.
type dir struct {
	root, sub, ext string
	n              int
}

func (d *dir) Deliver(t *testing.T, raw []byte) {
	d.n++
	p := filepath.Join(d.root, d.sub, fmt.Sprintf("%d.M%d.test%s", 1000+d.n, d.n, d.ext))
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Duration(d.n) * time.Minute)
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

func (d *dir) Reader(t *testing.T, l mailbox.Limits) mailbox.Reader {
	return newReader(t, folder.Options{Path: d.root, Limits: l})
}

func TestContract(t *testing.T) {
	t.Run("maildir", func(t *testing.T) {
		mailboxtest.Run(t, func(t *testing.T) mailboxtest.Mailbox { return &dir{root: maildir(t), sub: "new"} })
	})
	t.Run("eml", func(t *testing.T) {
		mailboxtest.Run(t, func(t *testing.T) mailboxtest.Mailbox { return &dir{root: t.TempDir(), ext: ".eml"} })
	})
}

func TestMaildirReadsEachMessageOnceAndChangesNothing(t *testing.T) {
	root := maildir(t)
	put(t, filepath.Join(root, "new"), "1002.M2.host", t0.Add(2*time.Minute), 0)
	put(t, filepath.Join(root, "new"), "1001.M1.host", t0.Add(time.Minute), 0)
	// Already read by the mailbox's owner: still new to guardd.
	put(t, filepath.Join(root, "cur"), "1000.M0.host:2,S", t0, 0)
	put(t, filepath.Join(root, "new"), ".hidden", t0, 0)
	put(t, filepath.Join(root, "tmp"), "1003.M3.host", t0, 0) // still being delivered
	r := newReader(t, folder.Options{Path: root})
	before := snapshot(t, root)

	msgs, c := read(t, r, "")
	if got, want := ids(msgs), "1000.M0.host, 1001.M1.host, 1002.M2.host"; got != want {
		t.Fatalf("first read: got %q, want %q", got, want)
	}
	if m := msgs[1]; !m.Received.Equal(t0.Add(time.Minute)) || m.Received.Location() != time.UTC || !strings.HasPrefix(string(m.Raw), "Subject: 1001.M1.host") {
		t.Errorf("message: got received %v and raw %.30q", m.Received, m.Raw)
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("the Maildir changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if msgs, _ := read(t, r, c); len(msgs) != 0 {
		t.Fatalf("second read: got %q, want nothing", ids(msgs))
	}

	// The owner's mail program moves a message to cur/ and flags it: the
	// same message, not a new one.
	if err := os.Rename(filepath.Join(root, "new", "1001.M1.host"), filepath.Join(root, "cur", "1001.M1.host:2,RS")); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(root, "new"), "1004.M4.host", t0.Add(time.Hour), 0)
	msgs, c = read(t, r, c)
	if got, want := ids(msgs), "1004.M4.host"; got != want {
		t.Fatalf("after a move and a delivery: got %q, want %q", got, want)
	}
	// A restart: a new Reader from the stored cursor.
	if msgs, _ := read(t, newReader(t, folder.Options{Path: root}), c); len(msgs) != 0 {
		t.Fatalf("after a restart: got %q, want nothing", ids(msgs))
	}
}

func TestEMLFolder(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "a.eml", t0, 0)
	put(t, dir, "B.EML", t0.Add(time.Second), 0)
	put(t, dir, "notes.txt", t0, 0)
	put(t, dir, ".hidden.eml", t0, 0)
	if err := os.Mkdir(filepath.Join(dir, "sub.eml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.eml"), filepath.Join(dir, "link.eml")); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	r := newReader(t, folder.Options{Path: dir, Now: func() time.Time { return now }})
	msgs, c := read(t, r, "")
	if got, want := ids(msgs), "a.eml, B.EML"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	// A file modified a moment ago may be half written: it waits.
	put(t, dir, "c.eml", now.Add(-time.Second), 0)
	msgs, c = read(t, r, c)
	if len(msgs) != 0 {
		t.Fatalf("fresh file: got %q, want nothing yet", ids(msgs))
	}
	now = now.Add(folder.DefaultSettle)
	msgs, _ = read(t, r, c)
	if got, want := ids(msgs), "c.eml"; got != want {
		t.Fatalf("settled file: got %q, want %q", got, want)
	}
}

func TestLimitsAndBoundedCursorLoseNothing(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 10 {
		name := fmt.Sprintf("%02d.eml", i)
		put(t, dir, name, t0.Add(time.Duration(i)*time.Minute), 0)
		want = append(want, name)
	}
	r := newReader(t, folder.Options{Path: dir, MaxSeen: 3, Limits: mailbox.Limits{Messages: 4}})
	var got []string
	var c mailbox.Cursor
	for range 4 {
		var msgs []mailbox.Message
		msgs, c = read(t, r, c)
		if len(msgs) > 4 {
			t.Fatalf("one read returned %d messages, want at most 4", len(msgs))
		}
		for _, m := range msgs {
			got = append(got, m.ID)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("over the reads: got %q, want %q, each once", got, want)
	}
	var st struct {
		Seen map[string]int64 `json:"seen"`
	}
	if _, err := mailbox.DecodeCursor(c, "folder", &st); err != nil || len(st.Seen) > 3 {
		t.Fatalf("cursor keeps %d names (%v), want at most 3: %s", len(st.Seen), err, c)
	}
	// A new file is read; one that shows up with a time older than every
	// name kept (copied with its time) is below the floor, as documented.
	put(t, dir, "old.eml", t0, 0)
	put(t, dir, "new.eml", t0.Add(time.Hour), 0)
	if msgs, _ := read(t, r, c); ids(msgs) != "new.eml" {
		t.Errorf("after the bound: got %q, want %q", ids(msgs), "new.eml")
	}
}

func TestFailures(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "a.eml", t0, 0)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		path string
		ctx  context.Context
		want error
	}{
		{"missing folder", filepath.Join(dir, "nope"), ctx, fs.ErrNotExist},
		{"a file", filepath.Join(dir, "a.eml"), ctx, nil},
		{"cancelled", dir, cancelled(), context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReader(t, folder.Options{Path: tc.path})
			msgs, next, err := r.Read(tc.ctx, "")
			if !errors.Is(err, mailbox.ErrUnavailable) || (tc.want != nil && !errors.Is(err, tc.want)) || msgs != nil || next != "" {
				t.Errorf("got %d messages, cursor %q, error %v; want none, the cursor back, ErrUnavailable (%v)", len(msgs), next, err, tc.want)
			}
		})
	}
	t.Run("damaged cursor", func(t *testing.T) {
		_, next, err := newReader(t, folder.Options{Path: dir}).Read(ctx, "[1,2]")
		if !errors.Is(err, mailbox.ErrCursor) || next != "[1,2]" {
			t.Errorf("got %q, %v; want the cursor back and ErrCursor", next, err)
		}
	})
	t.Run("another folder's cursor starts over", func(t *testing.T) {
		other := t.TempDir()
		put(t, other, "a.eml", t0, 0)
		_, c := read(t, newReader(t, folder.Options{Path: other}), "")
		if msgs, _ := read(t, newReader(t, folder.Options{Path: dir}), c); ids(msgs) != "a.eml" {
			t.Errorf("got %q, want %q", ids(msgs), "a.eml")
		}
	})
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
