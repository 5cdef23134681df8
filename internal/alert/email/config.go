package email

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the email receiver type.
var Kind = alert.Kind{Name: "email", Config: func() alert.Config { return Defaults() }}

// Config is an email notifier's block of the configuration.
type Config struct {
	// Timeout bounds one message's whole SMTP exchange.
	alert.Paced `yaml:",inline"`
	// Host is the SMTP server's host name; Port its port: by default 587
	// (STARTTLS), or 465 for TLS from the start.
	Host setting.Text  `yaml:"host"`
	Port setting.Count `yaml:"port" min:"1" max:"65535"`
	// TLS is starttls, tls or none.
	TLS setting.Text `yaml:"tls"`
	// Username, when set, logs in with Password (AUTH PLAIN).
	Username setting.Text   `yaml:"username"`
	Password setting.Secret `yaml:"password"`
	From     setting.Text   `yaml:"from"`
	To       []setting.Text `yaml:"to"`
	// MessageIDDomain ends the Message-ID of every message; empty means
	// the domain of From.
	MessageIDDomain setting.Text `yaml:"message_id_domain"`
}

// Defaults returns an email notifier's defaults.
func Defaults() *Config {
	return &Config{
		Paced: alert.PacedDefaults(DefaultTimeout, 5),
		TLS:   setting.TextOf(string(StartTLS)),
		Password: setting.Secret{Spec: &setting.SecretSpec{Noun: "password", What: "the SMTP password", Spaces: true,
			Check: func(s string) string {
				if strings.ContainsAny(s, "\r\n\x00") {
					return "not a password: it has line breaks or NUL characters inside"
				}
				return ""
			}}},
	}
}

// Validate implements alert.Config. It keeps the addresses in their
// canonical form.
func (c *Config) Validate(p *setting.Problems, _ alert.Env) {
	switch t := TLS(strings.TrimSpace(c.TLS.S)); t {
	case StartTLS, Implicit, None:
		c.TLS.S = string(t)
	default:
		p.At(c.TLS.Pos, "unknown TLS mode %s (want starttls, tls or none)", secret.Quote(c.TLS.S))
		c.TLS.S = string(StartTLS)
	}
	if c.Host.CheckHost(p, "host", "the SMTP server", "smtp.example.com") && TLS(c.TLS.S) == None && !setting.IsLoopback(c.Host.S) {
		p.Add("tls", "none sends the password and the alerts unencrypted; it is allowed only for a relay on this machine (host localhost or 127.0.0.1)")
	}
	if !c.Port.IsSet() {
		c.Port.N = DefaultPort
		if TLS(c.TLS.S) == Implicit {
			c.Port.N = 465
		}
	}
	c.Username.S = strings.TrimSpace(c.Username.S)
	switch {
	case c.Username.S != "" && c.Password.IsZero():
		p.Add("", "a username needs password_env or password_file")
	case c.Username.S == "" && !c.Password.IsZero():
		p.Add("username", "is required with a password")
	}
	if !c.From.IsSet() {
		p.Add("from", "is required: the sender address, such as guardd@example.com")
	} else if a, err := mail.ParseAddress(c.From.S); err != nil {
		p.At(c.From.Pos, "invalid address %s", secret.Quote(c.From.S))
	} else {
		c.From.S = a.String()
	}
	switch {
	case c.To == nil:
		p.Add("to", "is required: a list of recipient addresses")
	case len(c.To) == 0:
		p.Add("to", "must name at least one recipient")
	}
	if d := &c.MessageIDDomain; d.IsSet() {
		d.S = strings.TrimSpace(d.S)
		if !isDomain(d.S) {
			p.At(d.Pos, "invalid domain %s: want a domain name such as example.com, which ends every Message-ID (<…@example.com>)", secret.Quote(d.Text))
		}
	}
	var to []setting.Text
	for _, t := range c.To {
		a, err := mail.ParseAddress(t.S)
		switch {
		case err != nil:
			p.At(t.Pos, "invalid address %s", secret.Quote(t.S))
		case slices.ContainsFunc(to, func(x setting.Text) bool { return x.S == a.Address }):
			p.At(t.Pos, "duplicate address %s", secret.Quote(a.Address))
		default:
			t.S = a.Address
			to = append(to, t)
		}
	}
	if to != nil {
		c.To = to
	}
}

// isDomain reports whether s is a domain name: dot-separated labels of
// letters, digits and inner hyphens, 253 characters at most.
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// New implements alert.Config.
func (c *Config) New(d alert.Deps) (alert.Notifier, error) {
	to := make([]string, len(c.To))
	for i, t := range c.To {
		to[i] = t.S
	}
	return New(Options{Host: c.Host.S, Port: c.Port.N, TLS: TLS(c.TLS.S), Username: c.Username.S, Password: c.Password.Value,
		From: c.From.S, To: to, MessageIDDomain: c.MessageIDDomain.S, Timeout: c.Timeout.Duration, Log: d.Log, Links: d.Links, Pages: d.Pages}), nil
}

// Describe implements alert.Config.
func (c *Config) Describe() string {
	to := make([]string, len(c.To))
	for i, t := range c.To {
		to[i] = t.S
	}
	return fmt.Sprintf("email via %s:%d to %s", c.Host.S, c.Port.N, strings.Join(to, ", "))
}
