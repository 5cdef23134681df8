// Package mailboxtest is the contract every mailbox.Reader keeps: each
// type's tests run it against a mailbox of their own (go-imap's in-memory
// server, Dovecot, a Maildir, a folder of .eml files).
package mailboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/mailbox"
)

// Mailbox is one empty mailbox of the type under test.
type Mailbox interface {
	// Deliver adds raw to the mailbox, newer than every message before.
	Deliver(t *testing.T, raw []byte)
	// Reader reads the mailbox within l.
	Reader(t *testing.T, l mailbox.Limits) mailbox.Reader
}

// Message composes a receipt-like message from one of the default
// senders, with subject, padded with body lines to at least size bytes.
func Message(subject string, size int) []byte {
	return MessageFrom(`"Anthropic, PBC" <invoice+statements@mail.anthropic.com>`, subject, size)
}

// MessageFrom is Message from the sender from (a From header's value).
func MessageFrom(from, subject string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: bot@example.com\r\n", from)
	fmt.Fprintf(&b, "Subject: %s\r\nDate: Sun, 16 Aug 2026 09:10:08 +0000\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: <%s@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", strings.ReplaceAll(subject, " ", "."))
	b.WriteString("Receipt from Example AI, PBC\r\nAmount paid $51.50\r\n")
	for b.Len() < size {
		b.WriteString("Powered by stripe. Padding to make the message larger than it needs to be.\r\n")
	}
	return b.Bytes()
}

// Read calls r.Read and fails the test on an error.
func Read(t *testing.T, r mailbox.Reader, c mailbox.Cursor) ([]mailbox.Message, mailbox.Cursor) {
	t.Helper()
	msgs, next, err := r.Read(context.Background(), c)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return msgs, next
}

// Subjects lists the messages' subjects ("skipped" for a skipped one),
// to compare reads in one line.
func Subjects(msgs []mailbox.Message) string {
	var out []string
	for _, m := range msgs {
		if m.Skipped != "" {
			out = append(out, "skipped")
			continue
		}
		s := "?"
		for _, line := range strings.Split(string(m.Raw), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\r"), "Subject: "); ok {
				s = v
				break
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// Run runs the contract; fresh makes a new empty mailbox for each case.
func Run(t *testing.T, fresh func(t *testing.T) Mailbox) {
	t.Run("reads each message once", func(t *testing.T) {
		mb := fresh(t)
		mb.Deliver(t, Message("a", 0))
		mb.Deliver(t, Message("b", 0))
		r := mb.Reader(t, mailbox.Limits{})
		msgs, c := Read(t, r, "")
		want(t, "first read", msgs, "a, b")
		if !bytes.Equal(msgs[0].Raw, Message("a", 0)) {
			t.Errorf("raw message changed on the way:\n%q", msgs[0].Raw)
		}
		for _, m := range msgs {
			if m.ID == "" || m.Received.IsZero() || m.Received.Location() != time.UTC || m.Size != int64(len(m.Raw)) {
				t.Errorf("message: got ID %q, received %v, size %d for %d bytes; want an ID, a UTC time, the size", m.ID, m.Received, m.Size, len(m.Raw))
			}
		}
		if msgs[0].ID == msgs[1].ID {
			t.Errorf("two messages share the ID %q", msgs[0].ID)
		}
		msgs, c = Read(t, r, c)
		want(t, "second read", msgs, "")
		mb.Deliver(t, Message("c", 0))
		msgs, c = Read(t, r, c)
		want(t, "after a delivery", msgs, "c")
		msgs, _ = Read(t, mb.Reader(t, mailbox.Limits{}), c)
		want(t, "after a restart", msgs, "")
	})
	t.Run("limits one read", func(t *testing.T) {
		mb := fresh(t)
		for _, s := range []string{"a", "b", "c"} {
			mb.Deliver(t, Message(s, 0))
		}
		r := mb.Reader(t, mailbox.Limits{Messages: 2})
		msgs, c := Read(t, r, "")
		want(t, "first read", msgs, "a, b")
		msgs, c = Read(t, r, c)
		want(t, "second read", msgs, "c")
		msgs, _ = Read(t, r, c)
		want(t, "third read", msgs, "")
	})
	t.Run("skips a message above the limit", func(t *testing.T) {
		mb := fresh(t)
		mb.Deliver(t, Message("big", 8<<10))
		mb.Deliver(t, Message("small", 0))
		r := mb.Reader(t, mailbox.Limits{MessageBytes: 2 << 10})
		msgs, c := Read(t, r, "")
		want(t, "first read", msgs, "skipped, small")
		if m := msgs[0]; m.Raw != nil || m.ID == "" || !strings.Contains(m.Skipped, "larger than the 2 KiB limit") {
			t.Errorf("skipped: got ID %q, %d bytes, reason %q; want an ID, no bytes, the limit", m.ID, len(m.Raw), m.Skipped)
		}
		msgs, _ = Read(t, r, c)
		want(t, "next read", msgs, "")
	})
	t.Run("another reader's cursor reads from the start", func(t *testing.T) {
		mb := fresh(t)
		mb.Deliver(t, Message("a", 0))
		msgs, _ := Read(t, mb.Reader(t, mailbox.Limits{}), mailbox.EncodeCursor("mailboxtest", map[string]int{"uid": 99}))
		want(t, "read", msgs, "a")
	})
	t.Run("a damaged cursor is an error", func(t *testing.T) {
		mb := fresh(t)
		mb.Deliver(t, Message("a", 0))
		msgs, next, err := mb.Reader(t, mailbox.Limits{}).Read(context.Background(), "{damaged")
		if !errors.Is(err, mailbox.ErrCursor) || msgs != nil || next != "{damaged" {
			t.Errorf("got %d messages, cursor %q, error %v; want none, the cursor back, ErrCursor", len(msgs), next, err)
		}
	})
	t.Run("a cancelled read is unavailable", func(t *testing.T) {
		mb := fresh(t)
		mb.Deliver(t, Message("a", 0))
		r := mb.Reader(t, mailbox.Limits{})
		_, c := Read(t, r, "")
		mb.Deliver(t, Message("b", 0))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		msgs, next, err := r.Read(ctx, c)
		if !errors.Is(err, mailbox.ErrUnavailable) || !errors.Is(err, context.Canceled) || msgs != nil || next != c {
			t.Errorf("got %d messages, cursor %q, error %v; want none, the cursor back, ErrUnavailable and Canceled", len(msgs), next, err)
		}
		msgs, _ = Read(t, r, c)
		want(t, "after the cancelled read", msgs, "b")
	})
}

func want(t *testing.T, what string, msgs []mailbox.Message, subjects string) {
	t.Helper()
	if got := Subjects(msgs); got != subjects {
		t.Fatalf("%s: got %q, want %q", what, got, subjects)
	}
}
