package email_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/email"
	"github.com/guardd/guardd/internal/alert/email/smtptest"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	user     = "guardd@example.com"
	password = "SMTPpa55-Secret-k9"
)

func options(s *smtptest.Server) email.Options {
	return email.Options{
		Host: s.Host(), Port: s.Port(), Username: user, Password: secret.New(password),
		From: "guardd <guardd@example.com>", To: []string{"oncall@example.com", "finance@example.com"},
		RootCAs: s.CertPool(), Timeout: 5 * time.Second,
	}
}

func TestContract(t *testing.T) {
	receivertest.Run(t, func(t *testing.T, mode receivertest.Mode, log *zap.Logger) receivertest.Target {
		srv := smtptest.New(t, smtptest.Options{Username: user, Password: password, Hang: mode == receivertest.Hang})
		o := options(srv)
		o.Log = log
		switch mode {
		case receivertest.RateLimited:
			srv.SetFault(smtptest.Fault{Stage: smtptest.MailFrom, Code: 451, Text: "4.7.1 Rate limit exceeded, try again later"})
		case receivertest.ServerError:
			srv.SetFault(smtptest.Fault{Stage: smtptest.Greeting, Code: 421, Text: "4.3.2 Service not available"})
		case receivertest.Rejected:
			o.Password = secret.New(password + "-old")
		case receivertest.Down:
			srv.Close()
		}
		return receivertest.Target{
			Notifier:   email.New(o),
			Secrets:    []string{password, password + "-old"},
			Delivered:  func() int { return len(srv.Messages()) },
			RejectHint: "check the username and password",
			Refs:       true,
		}
	})
}

func TestMessage(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{Username: user, Password: password})
	o := options(srv)
	o.Links = map[string]string{"acme-openai": "https://platform.openai.com/settings/organization/billing/overview"}
	r := email.New(o)
	n := receivertest.ByRule("recharge-burst")
	// As the outbox sends them: the first message's ref rides with the
	// repeat and the resolution.
	ref, _, err := r.Send(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	ns := []alert.Notification{n, receivertest.Repeat(n), receivertest.Resolved(n)}
	ns[1].Ref, ns[2].Ref = ref, ref
	for _, x := range ns[1:] {
		if got, _, err := r.Send(t.Context(), x); err != nil || !got.IsZero() {
			t.Fatalf("got ref %+v, error %v; want no ref (it threads under the first), nil", got, err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3", len(msgs))
	}
	first := ""
	for i, m := range msgs {
		if !m.TLS || m.User != user {
			t.Errorf("message %d: got TLS %t, user %q; want it sent after STARTTLS and login", i, m.TLS, m.User)
		}
		if m.From != "guardd@example.com" || strings.Join(m.To, ",") != "oncall@example.com,finance@example.com" {
			t.Errorf("message %d: got envelope %s → %v", i, m.From, m.To)
		}
		pm, err := m.Parse()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		// One subject for the whole alert: Gmail threads only messages
		// whose subjects match.
		subject, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		if want := "[guardd] recharge-burst on acme-openai"; err != nil || subject != want {
			t.Errorf("message %d: got subject %q (%v), want %q", i, subject, err, want)
		}
		id := pm.Header.Get("Message-ID")
		if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "."+n.Finding.Fingerprint()+"@example.com>") || pm.Header.Get("Date") == "" {
			t.Errorf("message %d: got Message-ID %q and Date %q, want an id at the domain of from", i, id, pm.Header.Get("Date"))
		}
		wantRefs, wantReply := "<"+n.Finding.Fingerprint()+"@guardd>", ""
		if i == 0 {
			first = id
			if ref.MessageID != id {
				t.Errorf("got ref %q, want the first message's Message-ID %q", ref.MessageID, id)
			}
		} else {
			wantRefs, wantReply = wantRefs+" "+first, first
		}
		if got := pm.Header.Get("References"); got != wantRefs {
			t.Errorf("message %d: got References %q, want %q", i, got, wantRefs)
		}
		if got := pm.Header.Get("In-Reply-To"); got != wantReply {
			t.Errorf("message %d: got In-Reply-To %q, want %q", i, got, wantReply)
		}
		if got := pm.Header.Get("Auto-Submitted"); got != "auto-generated" {
			t.Errorf("message %d: got Auto-Submitted %q, want auto-generated", i, got)
		}
		body := decodeBody(t, pm.Header.Get("Content-Transfer-Encoding"), pm.Body)
		if want := email.Body(ns[i], o.Links["acme-openai"], ""); body != strings.ReplaceAll(want, "\n", "\r\n") && body != want {
			t.Errorf("message %d: got body\n%q\nwant\n%q", i, body, want)
		}
		if !strings.HasPrefix(pm.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("message %d: got Content-Type %q, want text/plain", i, pm.Header.Get("Content-Type"))
		}
	}
	for i, want := range []string{"[CRITICAL] recharge-burst", "Still firing as of 2026-10-14 07:00 UTC.\n\n[CRITICAL] recharge-burst", "[RESOLVED] recharge-burst"} {
		if body := email.Body(ns[i], "", ""); !strings.HasPrefix(body, want) {
			t.Errorf("message %d: got body %q, want it to start %q", i, body, want)
		}
	}
}

// TestMessageIDDomain: message_id_domain, when set, ends every Message-ID.
func TestMessageIDDomain(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{Username: user, Password: password})
	o := options(srv)
	o.MessageIDDomain = "alerts.example.org"
	ref, _, err := email.New(o).Send(t.Context(), receivertest.ByRule("runway-low"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := srv.Messages()[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if id := pm.Header.Get("Message-ID"); !strings.HasSuffix(id, "@alerts.example.org>") || id != ref.MessageID {
		t.Errorf("got Message-ID %q and ref %q, want the same id at alerts.example.org", id, ref.MessageID)
	}
}

func decodeBody(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(cte, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// TestBodyGolden keeps each rule's email text as a file.
func TestBodyGolden(t *testing.T) {
	for _, n := range receivertest.Findings() {
		got := "Subject: " + email.Subject(n) + "\n\n" + email.Body(n, receivertest.Links[n.Finding.Account], "")
		path := filepath.Join("testdata", n.Finding.Rule+".txt")
		if *update {
			_ = os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden file (run go test -update to create it): %v", err)
		}
		if !bytes.Equal([]byte(got), want) {
			t.Errorf("%s differs (run go test -update to accept):\ngot\n%s\nwant\n%s", path, got, want)
		}
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		server    smtptest.Options
		fault     *smtptest.Fault
		change    func(*email.Options)
		wantRetry bool
		wantErr   string
	}{
		{
			name:    "no STARTTLS offered",
			server:  smtptest.Options{Username: user, Password: password, NoStartTLS: true, AuthBeforeTLS: true},
			wantErr: "the SMTP server does not offer STARTTLS",
		},
		{
			name:    "certificate not trusted",
			server:  smtptest.Options{Username: user, Password: password},
			change:  func(o *email.Options) { o.RootCAs = nil },
			wantErr: "the SMTP server's certificate does not verify",
		},
		{
			name:    "recipient refused",
			server:  smtptest.Options{Username: user, Password: password},
			fault:   &smtptest.Fault{Stage: smtptest.RcptTo, Code: 550, Text: "5.1.1 No such user"},
			wantErr: `550 "5.1.1 No such user", affected recipient(s): <oncall@example.com>, <finance@example.com>`,
		},
		{
			name:      "mailbox busy",
			server:    smtptest.Options{Username: user, Password: password},
			fault:     &smtptest.Fault{Stage: smtptest.Data, Code: 452, Text: "4.3.1 Insufficient system storage"},
			wantRetry: true,
			wantErr:   `closing SMTP DATA writer: 452 "4.3.1 Insufficient system storage"`,
		},
		{
			name:    "login refused",
			server:  smtptest.Options{Username: user, Password: password},
			change:  func(o *email.Options) { o.Username = "someone@example.com" },
			wantErr: "the SMTP server answered 535 5.7.8 Authentication credentials invalid: it refused the login; check the username and password",
		},
		{
			name:    "bad sender",
			server:  smtptest.Options{Username: user, Password: password},
			change:  func(o *email.Options) { o.From = "not an address" },
			wantErr: `sender address "not an address"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.New(t, tt.server)
			if tt.fault != nil {
				srv.SetFault(*tt.fault)
			}
			o := options(srv)
			if tt.change != nil {
				tt.change(&o)
			}
			_, retry, err := email.New(o).Send(t.Context(), receivertest.ByRule("runway-low"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if retry != tt.wantRetry {
				t.Errorf("got retry %t, want %t", retry, tt.wantRetry)
			}
			if len(srv.Messages()) != 0 {
				t.Errorf("got %d messages accepted, want 0", len(srv.Messages()))
			}
			receivertest.NoSecret(t, []string{password}, err, nil)
		})
	}
}

func TestImplicitTLSAndNone(t *testing.T) {
	implicit := smtptest.New(t, smtptest.Options{Username: user, Password: password, Implicit: true})
	o := options(implicit)
	o.TLS = email.Implicit
	if _, _, err := email.New(o).Send(t.Context(), receivertest.ByRule("runway-low")); err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	if m := implicit.Messages(); len(m) != 1 || !m[0].TLS || m[0].User != user {
		t.Errorf("implicit TLS: got %+v, want one message over TLS after login", m)
	}

	// A local relay without TLS or login.
	relay := smtptest.New(t, smtptest.Options{NoStartTLS: true})
	o = options(relay)
	o.TLS, o.Username, o.Password = email.None, "", secret.Value{}
	if _, _, err := email.New(o).Send(t.Context(), receivertest.ByRule("runway-low")); err != nil {
		t.Fatalf("tls none: %v", err)
	}
	if m := relay.Messages(); len(m) != 1 || m[0].TLS {
		t.Errorf("tls none: got %+v, want one message in clear text", m)
	}
}

func TestErrorType(t *testing.T) {
	srv := smtptest.New(t, smtptest.Options{Username: user, Password: password})
	srv.SetFault(smtptest.Fault{Stage: smtptest.MailFrom, Code: 554, Text: "5.7.1 Sender blocked"})
	_, _, err := email.New(options(srv)).Send(t.Context(), receivertest.ByRule("runway-low"))
	var ee *email.Error
	if !errors.As(err, &ee) || ee.Code != 554 {
		t.Errorf("got error %v, want an *email.Error with code 554", err)
	}
}

// With http.external_url set, the body links the account's page on
// guardd's listener after its billing page.
func TestBodyLinksGuarddPage(t *testing.T) {
	n := receivertest.Findings()[0]
	body := email.Body(n, "https://billing.example", "https://guardd.example.com/accounts/"+n.Finding.Account)
	want := "Billing page: https://billing.example\nguardd's page: https://guardd.example.com/accounts/" + n.Finding.Account + "\n"
	if !strings.Contains(body, want) {
		t.Errorf("got body without %q:\n%s", want, body)
	}
	if strings.Contains(email.Body(n, "", ""), "guardd's page") {
		t.Errorf("a body without a page URL links one")
	}
}
