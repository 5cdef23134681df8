package imap_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/mailbox/imap"
	"github.com/guardd/guardd/internal/mailbox/mailboxtest"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/testcert"
)

const (
	memUser     = "bot@example.com"
	memPassword = "mem-password"
	memToken    = "ya29.test-token"
)

func secretOf(s string) secret.Value { return secret.New(s) }

// memServer is go-imap's in-memory server on 127.0.0.1. It does not
// enforce EXAMINE (a BODY[] fetch would set \Seen), so a message that
// stays unseen there proves the reader peeked.
type memServer struct {
	user *imapmemserver.User
	port int
}

type memOptions struct {
	tls      *tls.Config // offer STARTTLS with it
	implicit bool        // speak TLS from the start
}

func startMem(t *testing.T, o memOptions) *memServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(memUser, memPassword)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &oauthSession{Session: mem.NewSession()}, nil, nil
		},
		Caps:         goimap.CapSet{goimap.CapIMAP4rev1: {}},
		TLSConfig:    o.tls,
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.implicit {
		ln = tls.NewListener(ln, o.tls)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &memServer{user: user, port: ln.Addr().(*net.TCPAddr).Port}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// oauthSession adds SASL XOAUTH2 to the in-memory server's session,
// accepting memToken for memUser as Google documents the exchange.
type oauthSession struct{ imapserver.Session }

func (s *oauthSession) AuthenticateMechanisms() []string { return []string{"PLAIN", "XOAUTH2"} }

func (s *oauthSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.Login(user, pass) }), nil
	case "XOAUTH2":
		return &xoauth2Server{s: s}, nil
	}
	return nil, &goimap.Error{Type: goimap.StatusResponseTypeNo, Text: "unsupported mechanism"}
}

type xoauth2Server struct {
	s      *oauthSession
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		// The client acknowledged the error challenge.
		return nil, true, &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeAuthenticationFailed, Text: "Invalid credentials (Failure)"}
	}
	if string(resp) == "user="+memUser+"\x01auth=Bearer "+memToken+"\x01\x01" {
		return nil, true, x.s.Login(memUser, memPassword)
	}
	x.failed = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
}

// deliver appends a message to folder with its arrival time.
func (m *memServer) deliver(t *testing.T, folder string, raw []byte, received time.Time) {
	t.Helper()
	if received.IsZero() {
		received = time.Now()
	}
	if _, err := m.user.Append(folder, literal{bytes.NewReader(raw)}, &goimap.AppendOptions{Time: received}); err != nil {
		t.Fatal(err)
	}
}

// unseen counts the folder's messages without \Seen, and all of them.
func (m *memServer) unseen(t *testing.T, folder string) (unseen, all uint32) {
	t.Helper()
	st, err := m.user.Status(folder, &goimap.StatusOptions{NumUnseen: true, NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return *st.NumUnseen, *st.NumMessages
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

func memReader(t *testing.T, port int, edit func(*imap.Options)) *imap.Reader {
	return reader(t, "127.0.0.1", port, memUser, memPassword, edit)
}

// memMailbox is the in-memory server's INBOX for the contract suite.
type memMailbox struct{ srv *memServer }

func (m memMailbox) Deliver(t *testing.T, raw []byte) { m.srv.deliver(t, "INBOX", raw, time.Time{}) }

func (m memMailbox) Reader(t *testing.T, l mailbox.Limits) mailbox.Reader {
	return memReader(t, m.srv.port, func(o *imap.Options) { o.Limits = l })
}

func TestContract(t *testing.T) {
	mailboxtest.Run(t, func(t *testing.T) mailboxtest.Mailbox { return memMailbox{startMem(t, memOptions{})} })
}

func TestReadsNewMessagesOnceAndPeeks(t *testing.T) {
	srv := startMem(t, memOptions{})
	p := newProxy(t, "127.0.0.1:"+itoa(srv.port))
	srv.deliver(t, "INBOX", receipt(anthropic, "first", 0), time.Time{})
	srv.deliver(t, "INBOX", receipt(newsletter, "not a receipt", 0), time.Time{})
	srv.deliver(t, "INBOX", receipt(lookalike, "lookalike", 0), time.Time{})
	srv.deliver(t, "INBOX", receipt(openrouter, "second", 0), time.Time{})
	r := memReader(t, p.port(), nil)

	msgs, c := read(t, r, "")
	if got, want := subjects(msgs), "first, second"; got != want {
		t.Fatalf("first read: got %q, want %q", got, want)
	}
	if msgs[0].ID != "imap:1:1" || msgs[1].ID != "imap:1:4" {
		t.Errorf("IDs: got %s and %s, want imap:1:1 and imap:1:4", msgs[0].ID, msgs[1].ID)
	}
	if !bytes.Equal(msgs[0].Raw, receipt(anthropic, "first", 0)) {
		t.Errorf("raw message changed on the way:\n%s", msgs[0].Raw)
	}
	if msgs[0].Received.Location() != time.UTC || msgs[0].Received.IsZero() {
		t.Errorf("received: got %v, want a UTC time", msgs[0].Received)
	}

	msgs, c2 := read(t, r, c)
	if len(msgs) != 0 {
		t.Fatalf("second read with the cursor: got %q, want nothing", subjects(msgs))
	}
	srv.deliver(t, "INBOX", receipt(anthropic, "third", 0), time.Time{})
	msgs, _ = read(t, r, c2)
	if got, want := subjects(msgs), "third"; got != want {
		t.Fatalf("after a new message: got %q, want %q", got, want)
	}

	// The in-memory server would have set \Seen on a BODY[] fetch.
	if unseen, all := srv.unseen(t, "INBOX"); unseen != all {
		t.Errorf("unseen messages: got %d of %d, want all (a fetch without PEEK sets \\Seen)", unseen, all)
	}
	checkReadOnly(t, p)
}

func TestUIDValidityChangeRescans(t *testing.T) {
	srv := startMem(t, memOptions{})
	srv.deliver(t, "INBOX", receipt(anthropic, "old 1", 0), time.Time{})
	srv.deliver(t, "INBOX", receipt(anthropic, "old 2", 0), time.Time{})
	r := memReader(t, srv.port, nil)
	_, c := read(t, r, "")

	// The folder is rebuilt: same name, new UIDVALIDITY, UIDs from 1 again.
	if err := srv.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := srv.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	srv.deliver(t, "INBOX", receipt(anthropic, "old 1", 0), time.Time{})
	srv.deliver(t, "INBOX", receipt(anthropic, "old 2", 0), time.Time{})
	srv.deliver(t, "INBOX", receipt(anthropic, "new", 0), time.Time{})
	msgs, _ := read(t, r, c)
	if got, want := subjects(msgs), "old 1, old 2, new"; got != want {
		t.Fatalf("after UIDVALIDITY changed: got %q, want %q (a rescan; duplicates go downstream)", got, want)
	}
	if msgs[0].ID != "imap:2:1" {
		t.Errorf("ID: got %s, want imap:2:1 (the new UIDVALIDITY)", msgs[0].ID)
	}
}

func TestSkipsOversizeWithoutFetchingIt(t *testing.T) {
	srv := startMem(t, memOptions{})
	p := newProxy(t, "127.0.0.1:"+itoa(srv.port))
	srv.deliver(t, "INBOX", receipt(anthropic, "huge", 256<<10), time.Time{})
	srv.deliver(t, "INBOX", receipt(anthropic, "small", 0), time.Time{})
	r := memReader(t, p.port(), func(o *imap.Options) { o.Limits.MessageBytes = 4 << 10 })

	msgs, c := read(t, r, "")
	if got, want := subjects(msgs), "skipped, small"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	big := msgs[0]
	if big.Raw != nil || big.ID != "imap:1:1" || !strings.Contains(big.Skipped, "larger than the 4 KiB limit") {
		t.Errorf("skipped message: got ID %s, %d raw bytes, reason %q; want imap:1:1, none, a reason naming the limit", big.ID, len(big.Raw), big.Skipped)
	}
	if n := p.receivedBytes(); n >= 256<<10 {
		t.Errorf("the server sent %d bytes: the oversize message was transferred", n)
	}
	if msgs, _ := read(t, r, c); len(msgs) != 0 {
		t.Errorf("next read: got %q, want nothing (the skipped message is not retried)", subjects(msgs))
	}
}

func TestLimitsSpreadAMailboxOverReads(t *testing.T) {
	srv := startMem(t, memOptions{})
	for _, s := range []string{"1", "2", "3", "4", "5"} {
		srv.deliver(t, "INBOX", receipt(anthropic, s, 1000), time.Time{})
	}
	size := int64(len(receipt(anthropic, "1", 1000)))
	for _, tc := range []struct {
		name   string
		limits mailbox.Limits
		want   []string
	}{
		{"messages", mailbox.Limits{Messages: 2}, []string{"1, 2", "3, 4", "5", ""}},
		{"bytes", mailbox.Limits{ReadBytes: 3*size - 1}, []string{"1, 2", "3, 4", "5", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := memReader(t, srv.port, func(o *imap.Options) { o.Limits = tc.limits })
			var c mailbox.Cursor
			for i, want := range tc.want {
				var msgs []mailbox.Message
				msgs, c = read(t, r, c)
				if got := subjects(msgs); got != want {
					t.Fatalf("read %d: got %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

// TestTimeoutBoundsSilenceNotTransfer: a large message that arrives
// slowly but steadily is read, though it takes longer than the timeout.
func TestTimeoutBoundsSilenceNotTransfer(t *testing.T) {
	srv := startMem(t, memOptions{})
	srv.deliver(t, "INBOX", receipt(anthropic, "slow", 96<<10), time.Time{})
	p := newProxy(t, "127.0.0.1:"+itoa(srv.port))
	p.throttle(4<<10, 20*time.Millisecond) // about 0.5 s for the message
	r := memReader(t, p.port(), func(o *imap.Options) { o.Timeout = 200 * time.Millisecond })
	msgs, _ := read(t, r, "")
	if got := subjects(msgs); got != "slow" {
		t.Fatalf("got %q, want %q", got, "slow")
	}
}

func TestSinceSkipsOlderMessages(t *testing.T) {
	srv := startMem(t, memOptions{})
	srv.deliver(t, "INBOX", receipt(anthropic, "2025", 0), time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC))
	srv.deliver(t, "INBOX", receipt(anthropic, "2026", 0), time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC))
	r := memReader(t, srv.port, func(o *imap.Options) { o.Since = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
	msgs, _ := read(t, r, "")
	if got, want := subjects(msgs), "2026"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCursorOfAnotherQuestionStartsOver(t *testing.T) {
	srv := startMem(t, memOptions{})
	if err := srv.user.Create("Receipts", nil); err != nil {
		t.Fatal(err)
	}
	srv.deliver(t, "INBOX", receipt(anthropic, "inbox", 0), time.Time{})
	srv.deliver(t, "Receipts", receipt(anthropic, "label", 0), time.Time{})
	_, c := read(t, memReader(t, srv.port, nil), "")

	for _, tc := range []struct {
		name string
		edit func(*imap.Options)
		want string
	}{
		{"same", nil, ""},
		{"other folder", func(o *imap.Options) { o.Folder = "Receipts" }, "label"},
		{"other senders", func(o *imap.Options) { o.Senders = []string{"mail.anthropic.com"} }, "inbox"},
		{"since added", func(o *imap.Options) { o.Since = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }, "inbox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, _ := read(t, memReader(t, srv.port, tc.edit), c)
			if got := subjects(msgs); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFailuresAreUnavailable(t *testing.T) {
	srv := startMem(t, memOptions{})
	srv.deliver(t, "INBOX", receipt(anthropic, "first", 0), time.Time{})
	_, c := read(t, memReader(t, srv.port, nil), "")
	srv.deliver(t, "INBOX", receipt(anthropic, "second", 0), time.Time{})
	ctx := context.Background()

	t.Run("wrong password", func(t *testing.T) {
		r := reader(t, "127.0.0.1", srv.port, memUser, "wrong-password-1234", nil)
		err := wantUnavailable(t, r, ctx, c)
		if strings.Contains(err.Error(), "wrong-password-1234") {
			t.Errorf("error shows the password: %v", err)
		}
	})
	t.Run("no such folder", func(t *testing.T) {
		wantUnavailable(t, memReader(t, srv.port, func(o *imap.Options) { o.Folder = "Nope" }), ctx, c)
	})
	t.Run("nothing listens", func(t *testing.T) {
		wantUnavailable(t, memReader(t, closedPort(t), nil), ctx, c)
	})
	t.Run("never greets", func(t *testing.T) {
		r := memReader(t, hangingServer(t), func(o *imap.Options) { o.Timeout = 200 * time.Millisecond })
		wantUnavailable(t, r, ctx, c, context.DeadlineExceeded)
	})
	t.Run("stops answering", func(t *testing.T) {
		p := newProxy(t, "127.0.0.1:"+itoa(srv.port))
		p.on(`UID SEARCH`, "stall", nil)
		r := memReader(t, p.port(), func(o *imap.Options) { o.Timeout = 200 * time.Millisecond })
		wantUnavailable(t, r, ctx, c, context.DeadlineExceeded)
	})
	t.Run("connection drops", func(t *testing.T) {
		p := newProxy(t, "127.0.0.1:"+itoa(srv.port))
		p.on(`BODY\.PEEK`, "cut", nil)
		wantUnavailable(t, memReader(t, p.port(), nil), ctx, c)
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		r := memReader(t, hangingServer(t), nil)
		time.AfterFunc(50*time.Millisecond, cancel)
		wantUnavailable(t, r, cctx, c, context.Canceled)
	})
	// After all that, the cursor still reads what is new.
	msgs, _ := read(t, memReader(t, srv.port, nil), c)
	if got := subjects(msgs); got != "second" {
		t.Errorf("after the failures: got %q, want %q", got, "second")
	}
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, tc := range []struct {
		name     string
		mode     imap.TLS
		implicit bool
	}{
		{"implicit", imap.Implicit, true},
		{"starttls", imap.StartTLS, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startMem(t, memOptions{tls: cfg, implicit: tc.implicit})
			srv.deliver(t, "INBOX", receipt(anthropic, "over tls", 0), time.Time{})
			r := memReader(t, srv.port, func(o *imap.Options) { o.TLS, o.TLSConfig = tc.mode, &tls.Config{RootCAs: pool} })
			msgs, _ := read(t, r, "")
			if got := subjects(msgs); got != "over tls" {
				t.Errorf("got %q, want %q", got, "over tls")
			}
			// An untrusted certificate is refused (an empty pool rather
			// than the system's, which a test need not load).
			r = memReader(t, srv.port, func(o *imap.Options) { o.TLS, o.TLSConfig = tc.mode, &tls.Config{RootCAs: x509.NewCertPool()} })
			err := wantUnavailable(t, r, context.Background(), "")
			if !errors.As(err, new(*tls.CertificateVerificationError)) {
				t.Errorf("got %v, want a certificate verification error", err)
			}
		})
	}
	t.Run("starttls not offered", func(t *testing.T) {
		srv := startMem(t, memOptions{})
		r := memReader(t, srv.port, func(o *imap.Options) { o.TLS = imap.StartTLS })
		wantUnavailable(t, r, context.Background(), "")
	})
}

func TestXOAUTH2(t *testing.T) {
	srv := startMem(t, memOptions{})
	srv.deliver(t, "INBOX", receipt(anthropic, "oauth", 0), time.Time{})
	oauth := func(token string) func(*imap.Options) {
		return func(o *imap.Options) { o.Password, o.OAuthToken = secret.Value{}, secretOf(token) }
	}
	msgs, _ := read(t, memReader(t, srv.port, oauth(memToken)), "")
	if got := subjects(msgs); got != "oauth" {
		t.Errorf("got %q, want %q", got, "oauth")
	}
	err := wantUnavailable(t, memReader(t, srv.port, oauth("ya29.expired-token")), context.Background(), "")
	if !strings.Contains(err.Error(), "token refused: status 401") || strings.Contains(err.Error(), "expired-token") {
		t.Errorf("got %v, want the refusal's status and no token", err)
	}
}

func TestNewRefusesUnsafeOptions(t *testing.T) {
	base := imap.Options{Host: "imap.example.com", Port: 993, TLS: imap.Implicit, Username: "u",
		Password: secretOf("p"), Senders: imap.DefaultSenders}
	for _, tc := range []struct {
		name string
		edit func(*imap.Options)
		want string
	}{
		{"plain to another machine", func(o *imap.Options) { o.TLS = imap.None }, "unencrypted"},
		{"two credentials", func(o *imap.Options) { o.OAuthToken = secretOf("t") }, "exactly one"},
		{"no credential", func(o *imap.Options) { o.Password = secret.Value{} }, "exactly one"},
		{"no senders", func(o *imap.Options) { o.Senders = nil }, "no senders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			if _, err := imap.New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}
