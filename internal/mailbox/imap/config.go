package imap

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the imap mailbox type.
var Kind = mailbox.Kind{Name: "imap", Config: func() mailbox.Config { return Defaults() }}

// Config is an imap mailbox's block of the configuration.
type Config struct {
	// Host is the IMAP server's host name; Port its port: 993 by default,
	// 143 with tls starttls or none.
	Host setting.Text  `yaml:"host"`
	Port setting.Count `yaml:"port" min:"1" max:"65535"`
	// TLS is tls (from the start), starttls or none (only for a server on
	// this machine).
	TLS setting.Text `yaml:"tls"`
	// Username logs in with Password (an app password) or OAuthToken
	// (SASL XOAUTH2, for Gmail and Microsoft 365).
	Username   setting.Text   `yaml:"username"`
	Password   setting.Secret `yaml:"password"`
	OAuthToken setting.Secret `yaml:"oauth_token"`
	// Folder is the mailbox to read (a Gmail label is one).
	Folder setting.Text `yaml:"folder"`
	// Senders are the addresses or domains receipts come from.
	Senders []setting.Text `yaml:"senders"`
	// Since, an RFC 3339 date, is the first day the first read looks at;
	// empty for the whole folder.
	Since setting.Text `yaml:"since"`
	// Timeout bounds the connection and each command.
	Timeout setting.Duration `yaml:"timeout"`
}

// Defaults returns an imap mailbox's defaults.
func Defaults() *Config {
	senders := make([]setting.Text, len(DefaultSenders))
	for i, s := range DefaultSenders {
		senders[i] = setting.TextOf(s)
	}
	return &Config{
		Port: setting.CountOf(993),
		TLS:  setting.TextOf(string(Implicit)),
		Password: setting.Secret{Spec: &setting.SecretSpec{Noun: "password", Spaces: true, Check: oneLine,
			What: "the IMAP password, an app password where the provider has them (Gmail, Fastmail, iCloud)"}},
		OAuthToken: setting.Secret{Spec: &setting.SecretSpec{Noun: "token", Check: oneLine,
			What: "an OAuth 2 access token for IMAP (SASL XOAUTH2), as Gmail and Microsoft 365 take; guardd does not refresh it"}},
		Folder:  setting.TextOf(DefaultFolder),
		Senders: senders,
		Timeout: setting.DurationOf(DefaultTimeout),
	}
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "not usable: it has line breaks or NUL characters inside"
	}
	return ""
}

// Validate implements mailbox.Config. It keeps the values in their
// canonical form.
func (c *Config) Validate(p *setting.Problems) {
	switch t := TLS(strings.ToLower(strings.TrimSpace(c.TLS.S))); t {
	case Implicit, StartTLS, None:
		c.TLS.S = string(t)
	default:
		p.At(c.TLS.Pos, "unknown TLS mode %q (want tls, starttls or none)", c.TLS.S)
		c.TLS.S = string(Implicit)
	}
	if c.Host.CheckHost(p, "host", "the IMAP server", "imap.gmail.com") && TLS(c.TLS.S) == None && !setting.IsLoopback(c.Host.S) {
		p.At(c.TLS.Pos, "none would send the password and the receipts unencrypted; it is allowed only for a server on this machine (host localhost or 127.0.0.1)")
	}
	if !c.Port.IsSet() && TLS(c.TLS.S) != Implicit {
		c.Port.N = 143
	}
	if c.Username.S = strings.TrimSpace(c.Username.S); c.Username.S == "" {
		p.Add("username", "is required: the login name, usually the full address")
	}
	switch pw, tok := c.Password.IsZero() && !c.Password.IsSet(), c.OAuthToken.IsZero() && !c.OAuthToken.IsSet(); {
	case pw && tok:
		p.Add("", "an imap mailbox needs password_env or password_file (an app password), or oauth_token_env or oauth_token_file (an OAuth token)")
	case !pw && !tok:
		p.Add("", "set only one of password_* and oauth_token_*")
	}
	if c.Folder.S = strings.TrimSpace(c.Folder.S); c.Folder.S == "" {
		p.At(c.Folder.Pos, "must not be empty (the default is %s)", DefaultFolder)
	}
	if len(c.Senders) == 0 {
		p.Add("senders", "must name at least one address or domain (an empty list would read nothing)")
	}
	var seen []string
	for i := range c.Senders {
		s := &c.Senders[i]
		v := strings.ToLower(strings.TrimSpace(s.S))
		switch {
		case !validSender(v):
			p.At(s.Pos, "invalid sender %q: want an address (receipts@openrouter.ai) or a domain (stripe.com)", s.S)
		case slices.Contains(seen, v):
			p.At(s.Pos, "duplicate sender %q", v)
		default:
			s.S = v
			seen = append(seen, v)
		}
	}
	if _, err := parseSince(c.Since.S); err != nil {
		p.At(c.Since.Pos, "%v", err)
	}
}

// validSender reports whether s can be an allowed sender: an address or a
// domain, without spaces or quotes.
func validSender(s string) bool {
	local, domain, isAddr := strings.Cut(s, "@")
	if !isAddr {
		domain, local = s, "x"
	}
	return local != "" && !strings.ContainsAny(local, " \t\"()<>,;:\\[]") &&
		strings.Contains(domain, ".") && !strings.ContainsAny(domain, " \t\"()<>,;:\\[]@/") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// parseSince reads an RFC 3339 date ("2026-01-01"); a full RFC 3339 time
// is taken for its date. Empty is no date.
func parseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid date %q (want an RFC 3339 date such as 2026-01-01)", s)
}

// Open implements mailbox.Config.
func (c *Config) Open() (mailbox.Reader, error) {
	since, err := parseSince(c.Since.S)
	if err != nil {
		return nil, err
	}
	senders := make([]string, len(c.Senders))
	for i, s := range c.Senders {
		senders[i] = s.S
	}
	return New(Options{Host: c.Host.S, Port: c.Port.N, TLS: TLS(c.TLS.S), Username: c.Username.S,
		Password: c.Password.Value, OAuthToken: c.OAuthToken.Value, Folder: c.Folder.S,
		Senders: senders, Since: since, Timeout: c.Timeout.Duration})
}

// Describe implements mailbox.Config.
func (c *Config) Describe() string {
	senders := make([]string, len(c.Senders))
	for i, s := range c.Senders {
		senders[i] = s.S
	}
	cred := "password from " + c.Password.From()
	if !c.OAuthToken.IsZero() {
		cred = "OAuth token from " + c.OAuthToken.From()
	}
	since := ""
	if c.Since.S != "" {
		since = " since " + c.Since.S
	}
	return fmt.Sprintf("imap %s at %s:%d (%s), folder %q, from %s%s: %s",
		c.Username.S, c.Host.S, c.Port.N, c.TLS.S, c.Folder.S, strings.Join(senders, ", "), since, cred)
}
