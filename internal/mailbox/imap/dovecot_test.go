package imap_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/mailbox/dovecottest"
	"github.com/guardd/guardd/internal/mailbox/imap"
	"github.com/guardd/guardd/internal/mailbox/mailboxtest"
)

// These tests run a real Dovecot (dovecottest), which enforces EXAMINE
// as a mail provider does. They fail, never skip, when Dovecot is missing.

func dovecotReader(t *testing.T, port int, edit func(*imap.Options)) *imap.Reader {
	return reader(t, "127.0.0.1", port, dovecottest.User, dovecottest.Password, edit)
}

// dovecotMailbox is a Dovecot's INBOX for the contract suite.
type dovecotMailbox struct{ srv *dovecottest.Server }

func (m dovecotMailbox) Deliver(t *testing.T, raw []byte) { m.srv.Deliver(t, raw, time.Time{}) }

func (m dovecotMailbox) Reader(t *testing.T, l mailbox.Limits) mailbox.Reader {
	return dovecotReader(t, m.srv.Port, func(o *imap.Options) { o.Limits = l })
}

func TestDovecotContract(t *testing.T) {
	t.Parallel() // each starts its own Dovecot, mostly waiting for it
	mailboxtest.Run(t, func(t *testing.T) mailboxtest.Mailbox { return dovecotMailbox{dovecottest.Start(t)} })
}

func TestDovecotReadsEachMessageOnce(t *testing.T) {
	t.Parallel() // each starts its own Dovecot, mostly waiting for it
	srv := dovecottest.Start(t)
	day := time.Now().Add(-time.Hour)
	srv.Deliver(t, receipt(anthropic, "one", 0), day)
	srv.Deliver(t, receipt(newsletter, "news", 0), day)
	// Unquoted comma in the display name: Dovecot splits it into two
	// addresses, the second of which is allowed.
	srv.Deliver(t, receipt(`OpenRouter, Inc <receipts@openrouter.ai>`, "two", 0), day)
	srv.Deliver(t, receipt(lookalike, "lookalike", 0), day)
	p := newProxy(t, srv.Addr())
	r := dovecotReader(t, p.port(), nil)

	msgs, c := read(t, r, "")
	if got, want := subjects(msgs), "one, two"; got != want {
		t.Fatalf("first read: got %q, want %q", got, want)
	}

	// A message that arrives during a Read (after its search) is read by
	// the next one, not lost.
	p.on(`UID SEARCH`, "hook", func() { srv.Deliver(t, receipt(anthropic, "during", 0), time.Time{}) })
	msgs, c = read(t, r, c)
	if len(msgs) != 0 {
		t.Fatalf("second read: got %q, want nothing", subjects(msgs))
	}
	p.off()
	srv.Deliver(t, receipt(anthropic, "after", 0), time.Time{})
	msgs, c = read(t, r, c)
	if got, want := subjects(msgs), "during, after"; got != want {
		t.Fatalf("third read: got %q, want %q", got, want)
	}

	// A restart: a new Reader from the stored cursor, here over TLS.
	for _, mode := range []struct {
		tls  imap.TLS
		port int
	}{{imap.Implicit, srv.TLSPort}, {imap.StartTLS, srv.Port}} {
		srv.Deliver(t, receipt(anthropic, "via "+string(mode.tls), 0), time.Time{})
		r := dovecotReader(t, mode.port, func(o *imap.Options) { o.TLS, o.TLSConfig = mode.tls, srv.TLSConfig() })
		msgs, c = read(t, r, mailbox.Cursor(string(c)))
		if got, want := subjects(msgs), "via "+string(mode.tls); got != want {
			t.Fatalf("after a restart with tls %s: got %q, want %q", mode.tls, got, want)
		}
	}
	if msgs, _ := read(t, dovecotReader(t, srv.Port, nil), c); len(msgs) != 0 {
		t.Fatalf("last read: got %q, want nothing", subjects(msgs))
	}

	checkReadOnly(t, p)
	checkNoneSeen(t, srv, 8)
}

// checkNoneSeen fails when a message of srv's INBOX has \Seen, in the
// Maildir's file names or as Dovecot reports it.
func checkNoneSeen(t *testing.T, srv *dovecottest.Server, want int) {
	t.Helper()
	files := srv.Files(t)
	if len(files) != want {
		t.Errorf("files: got %d, want %d: %q", len(files), want, files)
	}
	for _, f := range files {
		if _, flags, ok := strings.Cut(f, ":2,"); ok && strings.Contains(flags, "S") {
			t.Errorf("file %s is marked seen", f)
		}
	}
	c, err := imapclient.DialInsecure(srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(dovecottest.User, dovecottest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	bufs, err := c.Fetch(goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(bufs) != want {
		t.Errorf("Dovecot lists %d messages, want %d", len(bufs), want)
	}
	for _, b := range bufs {
		if slices.Contains(b.Flags, goimap.FlagSeen) {
			t.Errorf("message %d has \\Seen", b.SeqNum)
		}
	}
}

func TestDovecotFailuresAreUnavailable(t *testing.T) {
	t.Parallel() // each starts its own Dovecot, mostly waiting for it
	srv := dovecottest.Start(t)
	srv.Deliver(t, receipt(anthropic, "one", 0), time.Time{})
	_, c := read(t, dovecotReader(t, srv.Port, nil), "")
	srv.Deliver(t, receipt(anthropic, "two", 0), time.Time{})
	ctx := context.Background()
	short := func(o *imap.Options) { o.Timeout = 300 * time.Millisecond }

	t.Run("wrong password", func(t *testing.T) {
		err := wantUnavailable(t, reader(t, "127.0.0.1", srv.Port, dovecottest.User, "not-the-password", nil), ctx, c)
		if !strings.Contains(err.Error(), "AUTHENTICATIONFAILED") || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("got %v, want Dovecot's AUTHENTICATIONFAILED and no password", err)
		}
	})
	t.Run("no such folder", func(t *testing.T) {
		wantUnavailable(t, dovecotReader(t, srv.Port, func(o *imap.Options) { o.Folder = "Receipts" }), ctx, c)
	})
	t.Run("never greets", func(t *testing.T) {
		wantUnavailable(t, dovecotReader(t, hangingServer(t), short), ctx, c, context.DeadlineExceeded)
	})
	t.Run("stops answering", func(t *testing.T) {
		p := newProxy(t, srv.Addr())
		p.on(`UID FETCH`, "stall", nil)
		wantUnavailable(t, dovecotReader(t, p.port(), short), ctx, c, context.DeadlineExceeded)
	})
	t.Run("connection drops", func(t *testing.T) {
		p := newProxy(t, srv.Addr())
		p.on(`BODY\.PEEK`, "cut", nil)
		wantUnavailable(t, dovecotReader(t, p.port(), nil), ctx, c)
	})
	// Nothing was lost to the failures.
	if msgs, _ := read(t, dovecotReader(t, srv.Port, nil), c); subjects(msgs) != "two" {
		t.Fatalf("after the failures: got %q, want %q", subjects(msgs), "two")
	}
	t.Run("server killed mid-session", func(t *testing.T) {
		p := newProxy(t, srv.Addr())
		p.on(`BODY\.PEEK`, "hook", srv.Kill)
		wantUnavailable(t, dovecotReader(t, p.port(), nil), ctx, c)
	})
	t.Run("server gone", func(t *testing.T) {
		wantUnavailable(t, dovecotReader(t, srv.Port, nil), ctx, c)
	})
}
