// Package email sends guardd's notifications as plain-text email over SMTP
// (github.com/wneessen/go-mail), with STARTTLS required by default.
//
// Each notification is one message. Every message about one alert has the
// same subject ("[guardd] recharge-burst on acme-openai") and, after the
// first, In-Reply-To and References naming the first message (whose
// Message-ID Send returns as the alert's ref), so that mail clients, Gmail
// included, which wants both a reference and an equal subject, keep an
// alert's first message, its repeats and its resolution in one thread.
// Every message also carries References: <fingerprint@guardd>, the thread
// of alerts sent before refs were kept, and Auto-Submitted:
// auto-generated (RFC 3834), so that no vacation reply answers it.
package email

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/secret"
)

// TLS says how the connection to the SMTP server is encrypted.
type TLS string

const (
	// StartTLS connects in clear text and upgrades with STARTTLS, which the
	// server must offer (submission, port 587). The default.
	StartTLS TLS = "starttls"
	// Implicit connects with TLS from the start (port 465).
	Implicit TLS = "tls"
	// None sends in clear text. Use it only for a relay on this machine.
	None TLS = "none"
)

// Default settings.
const (
	DefaultPort    = 587
	DefaultTimeout = 30 * time.Second
)

// Options configure a Receiver.
type Options struct {
	// Host and Port are the SMTP server's; Port 0 means DefaultPort.
	Host string
	Port int
	// TLS is StartTLS when empty.
	TLS TLS
	// Username and Password log in with AUTH PLAIN; no username means no
	// login.
	Username string
	Password secret.Value
	// From is the sender address; To the recipients (at least one).
	From string
	To   []string
	// MessageIDDomain ends every Message-ID (<…@domain>); empty means the
	// domain of From.
	MessageIDDomain string
	// Timeout bounds one message's whole exchange; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// RootCAs verifies the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Log receives a debug line per message sent; nil discards them.
	Log *zap.Logger
	// Links maps an account name to its provider's billing page, linked
	// in the message; Pages to its page on guardd's listener
	// (http.external_url).
	Links, Pages map[string]string
}

// Receiver sends notifications by email.
type Receiver struct {
	o    Options
	log  *zap.Logger
	hide []secret.Value
}

var _ alert.Notifier = (*Receiver)(nil)

// New returns a Receiver.
func New(o Options) *Receiver {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.TLS == "" {
		o.TLS = StartTLS
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MessageIDDomain == "" {
		o.MessageIDDomain = Domain(o.From)
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	hide := []secret.Value{o.Password}
	if !o.Password.IsZero() {
		plain := "\x00" + o.Username + "\x00" + o.Password.Reveal()
		hide = append(hide, secret.New(base64.StdEncoding.EncodeToString([]byte(plain))))
	}
	return &Receiver{o: o, log: log, hide: hide}
}

// Send sends n as one message, over a connection of its own. A firing
// notification without n.Ref (an alert's first message, or its first since
// one folded into a digest) returns the message's Message-ID as its ref:
// later messages about the alert reply to it (In-Reply-To, References).
// Others return a zero ref. retry is true for network errors, timeouts and
// the server's temporary (4xx) answers; false for permanent (5xx) answers
// such as a refused login or recipient, for a certificate that does not
// verify and for a server without STARTTLS, whose errors say what to fix.
// Errors never contain the password.
func (r *Receiver) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	id := r.messageID(n)
	if retry, err := r.send(ctx, n, id); err != nil {
		err = fmt.Errorf("send email (%s, fingerprint %s): %w", n.Status, n.Finding.Fingerprint(), err)
		return alert.Ref{}, retry, secret.ScrubError(err, r.hide...)
	}
	r.log.Debug("email sent", n.LogFields(zap.Int("recipients", len(r.o.To)), zap.String("message_id", id))...)
	if n.Status != alert.StatusFiring || !n.Ref.IsZero() || n.Finding.Rule == alert.DigestRule {
		return alert.Ref{}, false, nil
	}
	return alert.Ref{MessageID: id}, false, nil
}

// messageID makes a new message's Message-ID, angle brackets included:
// random, with the alert's fingerprint, at the configured domain.
func (r *Receiver) messageID(n alert.Notification) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "<" + hex.EncodeToString(b) + "." + n.Finding.Fingerprint() + "@" + r.o.MessageIDDomain + ">"
}

// Domain returns the domain of an address such as "guardd
// <guardd@example.com>", or "localhost" when it has none.
func Domain(address string) string {
	if a, err := netmail.ParseAddress(address); err == nil {
		address = a.Address
	}
	if i := strings.LastIndexByte(address, '@'); i >= 0 && i < len(address)-1 {
		return address[i+1:]
	}
	return "localhost"
}

func (r *Receiver) send(ctx context.Context, n alert.Notification, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return true, err
	}
	msg, err := r.message(n, id)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	c, err := r.client(ctx)
	if err != nil {
		return false, err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return false, nil
	}
	if ctx.Err() != nil {
		// The connection was cut because ctx ended; go-mail's error only
		// says the connection closed.
		return true, ctx.Err()
	}
	return classify(err)
}

// client configures go-mail for one message. Its connection is closed when
// ctx ends, so cancelling stops an exchange at any step.
func (r *Receiver) client(ctx context.Context) (*mail.Client, error) {
	tlsConfig := &tls.Config{ServerName: r.o.Host, RootCAs: r.o.RootCAs, MinVersion: tls.VersionTLS12}
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		var conn net.Conn
		var err error
		if r.o.TLS == Implicit {
			conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsConfig}).DialContext(dctx, network, addr)
		} else {
			conn, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		// Closed when ctx ends: at the latest when send returns, by then
		// closed already. The conn is returned as it is, so that go-mail
		// sees a *tls.Conn as encrypted.
		context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
	opts := []mail.Option{
		mail.WithPort(r.o.Port),
		mail.WithTimeout(r.o.Timeout),
		mail.WithTLSConfig(tlsConfig),
		mail.WithDialContextFunc(dial),
		mail.WithHELO("guardd.localhost"),
	}
	switch r.o.TLS {
	case StartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case Implicit:
		// The dialer does the TLS; go-mail must not try STARTTLS on top.
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case None:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("unknown TLS mode %s", secret.Quote(string(r.o.TLS)))
	}
	if r.o.Username != "" {
		auth := mail.SMTPAuthPlain
		if r.o.TLS == None {
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(r.o.Username), mail.WithPassword(r.o.Password.Reveal()))
	}
	c, err := mail.NewClient(r.o.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure smtp client: %w", err)
	}
	return c, nil
}

// message builds the email for n, whose Message-ID is id.
func (r *Receiver) message(n alert.Notification, id string) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(r.o.From); err != nil {
		return nil, fmt.Errorf("sender address %s: %w", secret.Quote(r.o.From), err)
	}
	if err := m.To(r.o.To...); err != nil {
		return nil, fmt.Errorf("recipient addresses: %w", err)
	}
	m.Subject(Subject(n))
	m.SetDate()
	m.SetGenHeader(mail.HeaderMessageID, id)
	refs := "<" + n.Finding.Fingerprint() + "@guardd>"
	if first := n.Ref.MessageID; isMessageID(first) {
		m.SetGenHeader(mail.HeaderInReplyTo, first)
		refs += " " + first
	}
	m.SetGenHeader(mail.HeaderReferences, refs)
	m.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(mail.Header("X-Guardd-Fingerprint"), n.Finding.Fingerprint())
	m.SetGenHeader(mail.Header("X-Guardd-Status"), string(n.Status))
	m.SetBodyString(mail.TypeTextPlain, Body(n, r.o.Links[n.Finding.Account], r.o.Pages[n.Finding.Account]))
	return m, nil
}

// isMessageID reports whether s is a Message-ID this receiver made: one
// <…@…> token, nothing that could break a header.
func isMessageID(s string) bool {
	return len(s) > 4 && len(s) <= 250 && strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") &&
		strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " \t\r\n,")
}

// Subject is a message's subject. It is the same for every message about
// one alert (its first, its repeats, its resolution), so that mail clients
// thread them: "[guardd] recharge-burst on acme-openai"; the severity and
// the status open the body. A digest, which stands for no one alert, keeps
// its title.
func Subject(n alert.Notification) string {
	if n.Finding.Rule == alert.DigestRule {
		return alert.Title(n)
	}
	return fmt.Sprintf("[guardd] %s on %s", n.Finding.Rule, n.Finding.Account)
}

// Body is a message's text: alert.Text, the account's billing page and its
// page on guardd's listener (each when not empty), after a line saying so
// when the alert is still firing (a repeat).
func Body(n alert.Notification, billingURL, pageURL string) string {
	var b strings.Builder
	if n.Repeat && n.Status == alert.StatusFiring {
		fmt.Fprintf(&b, "Still firing as of %s.\n\n", alert.FormatTime(n.At))
	}
	b.WriteString(alert.Text(n))
	if billingURL != "" {
		b.WriteString("Billing page: ")
		b.WriteString(billingURL)
		b.WriteString("\n")
	}
	if pageURL != "" {
		b.WriteString("guardd's page: ")
		b.WriteString(pageURL)
		b.WriteString("\n")
	}
	b.WriteString("\n-- \nSent by guardd, which watches prepaid LLM API billing.\n")
	return b.String()
}

// classify maps a go-mail error to the Notifier contract and says what to
// fix when retrying will not help.
func classify(err error) (bool, error) {
	var se *mail.SendError
	var te *textproto.Error
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &te):
		temp := te.Code >= 400 && te.Code < 500
		msg := fmt.Sprintf("the SMTP server answered %d %s", te.Code, excerpt(te.Msg))
		return temp, &Error{msg: msg + advice(te.Code), Code: te.Code, err: err}
	case errors.As(err, &se):
		code := se.ErrorCode()
		msg := "the SMTP server did not take the message (" + excerpt(se.Error()) + ")"
		return se.IsTemp() || (code >= 400 && code < 500), &Error{msg: msg + advice(code), Code: code, err: err}
	case errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie), errors.As(err, &cve):
		return false, &Error{msg: "the SMTP server's certificate does not verify: " + err.Error(), err: err}
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		return false, &Error{msg: "the SMTP server does not offer STARTTLS: use tls: tls for a server that speaks TLS from the start (port 465), " +
			"or tls: none only for a relay on this machine", err: err}
	case strings.Contains(err.Error(), "does not support SMTP AUTH"), errors.Is(err, mail.ErrPlainAuthNotSupported):
		return false, &Error{msg: "the SMTP server does not offer AUTH PLAIN: " + err.Error(), err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true, fmt.Errorf("connect to the SMTP server: %w", err)
	}
	return true, fmt.Errorf("smtp: %w", err)
}

// maxExcerpt bounds what an error quotes of the SMTP server's answer, in
// characters.
const maxExcerpt = 300

// excerpt is what an error quotes of the server's text: at most maxExcerpt
// characters of it.
func excerpt(s string) string { return secret.Shorten(strings.TrimSpace(s), maxExcerpt) }

// advice says what to fix after an SMTP reply code, if anything.
func advice(code int) string {
	switch {
	case code == 535 || code == 534 || code == 530:
		return ": it refused the login; check the username and password"
	case code == 550 || code == 551 || code == 553:
		return ": it refused an address; check from and to"
	case code >= 500:
		return ": it refused the message"
	}
	return ""
}

// Error is an SMTP failure worded to say what to fix.
type Error struct {
	// Code is the SMTP reply code, when the server gave one.
	Code int
	msg  string
	err  error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// Addr is the server's address as host:port.
func (o Options) Addr() string { return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) }
