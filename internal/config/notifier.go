package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/secret"
)

// Notifier types.
const (
	// NotifierStdout writes alerts to standard output.
	NotifierStdout = "stdout"
	// NotifierSlack posts alerts to Slack: through an incoming webhook
	// (Notifier.WebhookURL), or with a bot token (Notifier.BotToken and
	// Channel), which threads repeats and edits the message on resolution.
	NotifierSlack = "slack"
	// NotifierWebhook posts each alert as JSON to a URL, optionally signed.
	NotifierWebhook = "webhook"
	// NotifierEmail sends each alert as an email over SMTP.
	NotifierEmail = "email"
	// NotifierPagerDuty triggers and resolves PagerDuty alerts (Events API
	// v2).
	NotifierPagerDuty = "pagerduty"
	// NotifierAlertmanager pushes alerts to a Prometheus Alertmanager.
	NotifierAlertmanager = "alertmanager"
)

const wantNotifiers = "want stdout, slack, webhook, email, pagerduty or alertmanager"

// Defaults of notifier settings.
const (
	// DefaultNotifierTimeout bounds one request of the HTTP notifiers.
	DefaultNotifierTimeout = 10 * time.Second
	// DefaultEmailTimeout bounds one email's SMTP exchange.
	DefaultEmailTimeout = 30 * time.Second
	// DefaultPaceMax and DefaultPacePer pace slack and email notifiers: at
	// most DefaultPaceMax messages per DefaultPacePer, the rest folded into
	// a digest.
	DefaultPaceMax = 5
	DefaultPacePer = time.Hour
	// DefaultSMTPPort is the submission port (STARTTLS);
	// DefaultSMTPSPort the port for TLS from the start.
	DefaultSMTPPort  = 587
	DefaultSMTPSPort = 465
)

// SMTP TLS modes.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNone     = "none"
)

// Notifier is one alert receiver. Only the settings of its Type are set;
// secrets are held as secret.Value.
type Notifier struct {
	Name string
	// Type is one of the Notifier* constants.
	Type string
	// MinSeverity is the least severity sent to this notifier.
	MinSeverity billing.Severity
	// Accounts, when not empty, limits the notifier to these accounts.
	Accounts []string
	// Timeout bounds one request, or one email's whole SMTP exchange; zero
	// for stdout.
	Timeout time.Duration
	// Pacing folds bursts into digests (Max 0: off).
	Pacing Pacing

	// WebhookURL is the Slack incoming webhook (slack in webhook mode) or
	// the URL a webhook notifier posts to: an absolute http(s) URL.
	WebhookURL secret.Value

	// BotToken (xoxb-…) and Channel put a slack notifier in bot mode;
	// AppToken (xapp-…), optional, answers its buttons over Socket Mode.
	BotToken secret.Value
	AppToken secret.Value
	Channel  string
	// APIURL is the Slack Web API (bot mode) or the PagerDuty Events API
	// base URL; empty means the service's own.
	APIURL string

	// Secret signs a webhook notifier's bodies (HMAC-SHA256); zero means
	// unsigned.
	Secret secret.Value

	// RoutingKey is a pagerduty notifier's integration key.
	RoutingKey secret.Value

	// URL is an alertmanager notifier's base URL; BearerToken, optional,
	// is sent with each request; ResolveTimeout is how far ahead a firing
	// alert's endsAt is set.
	URL            string
	BearerToken    secret.Value
	ResolveTimeout time.Duration

	// SMTP is an email notifier's server and addresses.
	SMTP SMTP
}

// BotMode reports whether a slack notifier uses a bot token.
func (n Notifier) BotMode() bool { return !n.BotToken.IsZero() }

// SMTP is where and how an email notifier sends.
type SMTP struct {
	Host string
	Port int
	// TLS is SMTPStartTLS, SMTPTLS or SMTPNone.
	TLS string
	// Username, when set, logs in with Password (AUTH PLAIN).
	Username string
	Password secret.Value
	From     string
	To       []string
}

// Pacing limits a notifier to Max messages per Per; the rest of a burst is
// folded into one digest by the outbox (alert.Pacing). Max 0 turns it off.
type Pacing struct {
	Max int
	Per time.Duration
}

type fileNotifier struct {
	Name        scalar      `yaml:"name"`
	Type        scalar      `yaml:"type"`
	MinSeverity scalar      `yaml:"min_severity"`
	Accounts    scalarList  `yaml:"accounts"`
	Timeout     scalar      `yaml:"timeout"`
	Pacing      *filePacing `yaml:"pacing"`

	WebhookURLEnv  scalar `yaml:"webhook_url_env"`
	WebhookURLFile scalar `yaml:"webhook_url_file"`
	BotTokenEnv    scalar `yaml:"bot_token_env"`
	BotTokenFile   scalar `yaml:"bot_token_file"`
	AppTokenEnv    scalar `yaml:"app_token_env"`
	AppTokenFile   scalar `yaml:"app_token_file"`
	Channel        scalar `yaml:"channel"`
	APIURL         scalar `yaml:"api_url"`

	URLEnv     scalar `yaml:"url_env"`
	URLFile    scalar `yaml:"url_file"`
	SecretEnv  scalar `yaml:"secret_env"`
	SecretFile scalar `yaml:"secret_file"`

	RoutingKeyEnv  scalar `yaml:"routing_key_env"`
	RoutingKeyFile scalar `yaml:"routing_key_file"`

	URL             scalar `yaml:"url"`
	BearerTokenEnv  scalar `yaml:"bearer_token_env"`
	BearerTokenFile scalar `yaml:"bearer_token_file"`
	ResolveTimeout  scalar `yaml:"resolve_timeout"`

	Host         scalar     `yaml:"host"`
	Port         scalar     `yaml:"port"`
	TLS          scalar     `yaml:"tls"`
	Username     scalar     `yaml:"username"`
	PasswordEnv  scalar     `yaml:"password_env"`
	PasswordFile scalar     `yaml:"password_file"`
	From         scalar     `yaml:"from"`
	To           scalarList `yaml:"to"`
}

type filePacing struct {
	Max scalar `yaml:"max"`
	Per scalar `yaml:"per"`
}

// scalarList is a list of single values; set tells an empty list from a
// missing one.
type scalarList struct {
	items []scalar
	set   bool
}

func (l *scalarList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		if n.ShortTag() == "!!null" {
			return nil
		}
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: column %d: got %s, want a list", n.Line, n.Column, nodeWord(n.Kind, n.ShortTag())),
		}}
	}
	l.set = true
	var errs []string
	for _, c := range n.Content {
		var s scalar
		if err := c.Decode(&s); err != nil {
			if te, ok := errors.AsType[*yaml.TypeError](err); ok {
				errs = append(errs, te.Errors...)
				continue
			}
			return err
		}
		l.items = append(l.items, s)
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// notifierSetting is a key of a notifier and the types that take it.
type notifierSetting struct {
	key   string
	set   bool
	types []string
}

func (fn *fileNotifier) settings() []notifierSetting {
	http := []string{NotifierSlack, NotifierWebhook, NotifierEmail, NotifierPagerDuty, NotifierAlertmanager}
	slack := []string{NotifierSlack}
	email := []string{NotifierEmail}
	am := []string{NotifierAlertmanager}
	return []notifierSetting{
		{"timeout", fn.Timeout.set, http},
		{"pacing", fn.Pacing != nil, []string{NotifierSlack, NotifierEmail, NotifierWebhook}},
		{"webhook_url_env", fn.WebhookURLEnv.set, slack},
		{"webhook_url_file", fn.WebhookURLFile.set, slack},
		{"bot_token_env", fn.BotTokenEnv.set, slack},
		{"bot_token_file", fn.BotTokenFile.set, slack},
		{"app_token_env", fn.AppTokenEnv.set, slack},
		{"app_token_file", fn.AppTokenFile.set, slack},
		{"channel", fn.Channel.set, slack},
		{"api_url", fn.APIURL.set, []string{NotifierSlack, NotifierPagerDuty}},
		{"url_env", fn.URLEnv.set, []string{NotifierWebhook}},
		{"url_file", fn.URLFile.set, []string{NotifierWebhook}},
		{"secret_env", fn.SecretEnv.set, []string{NotifierWebhook}},
		{"secret_file", fn.SecretFile.set, []string{NotifierWebhook}},
		{"routing_key_env", fn.RoutingKeyEnv.set, []string{NotifierPagerDuty}},
		{"routing_key_file", fn.RoutingKeyFile.set, []string{NotifierPagerDuty}},
		{"url", fn.URL.set, am},
		{"bearer_token_env", fn.BearerTokenEnv.set, am},
		{"bearer_token_file", fn.BearerTokenFile.set, am},
		{"resolve_timeout", fn.ResolveTimeout.set, am},
		{"host", fn.Host.set, email},
		{"port", fn.Port.set, email},
		{"tls", fn.TLS.set, email},
		{"username", fn.Username.set, email},
		{"password_env", fn.PasswordEnv.set, email},
		{"password_file", fn.PasswordFile.set, email},
		{"from", fn.From.set, email},
		{"to", fn.To.set, email},
	}
}

// notifiers checks the notifiers section. accounts holds the account names
// configured; alerting the (validated) repeat intervals.
func (v *validator) notifiers(fns []fileNotifier, accounts map[string]bool, alerting Alerting) []Notifier {
	var out []Notifier
	seen := make(map[string]bool)
	for i := range fns {
		out = append(out, v.notifier(&fns[i], fmt.Sprintf("notifiers[%d]", i), seen, accounts, alerting))
	}
	return out
}

func (v *validator) notifier(fn *fileNotifier, prefix string, seen, accounts map[string]bool, alerting Alerting) Notifier {
	n := Notifier{MinSeverity: billing.SeverityInfo}
	add := func(rel, format string, args ...any) {
		path := prefix
		if rel != "" {
			path += "." + rel
		}
		v.add(path, format, args...)
	}

	switch {
	case !fn.Name.set:
		add("name", "is required")
	case fn.Name.text == "":
		add("name", "must not be empty")
	case seen[fn.Name.text]:
		add("name", "duplicate notifier name %q", fn.Name.text)
	}
	n.Name = fn.Name.text
	seen[n.Name] = true

	if !fn.Type.set {
		add("type", "is required (%s)", wantNotifiers)
	} else {
		n.Type = fn.Type.text
	}

	if fn.MinSeverity.set {
		if s, err := billing.ParseSeverity(fn.MinSeverity.text); err != nil {
			add("min_severity", "%v", err)
		} else {
			n.MinSeverity = s
		}
	}
	n.Accounts = v.notifierAccounts(fn.Accounts, accounts, add)

	known := []string{NotifierStdout, NotifierSlack, NotifierWebhook, NotifierEmail, NotifierPagerDuty, NotifierAlertmanager}
	if n.Type != "" && !slices.Contains(known, n.Type) {
		add("type", "unknown notifier type %q (%s)", n.Type, wantNotifiers)
		return n
	}
	if n.Type == "" {
		return n
	}
	for _, st := range fn.settings() {
		if st.set && !slices.Contains(st.types, n.Type) {
			if len(st.types) >= 4 {
				add(st.key, "does not apply to %s notifiers", n.Type)
			} else {
				add(st.key, "only applies to %s notifiers", andList(st.types))
			}
		}
	}

	switch n.Type {
	case NotifierSlack:
		v.slackNotifier(fn, &n, add)
	case NotifierWebhook:
		v.webhookNotifier(fn, &n, add)
	case NotifierEmail:
		v.emailNotifier(fn, &n, add)
	case NotifierPagerDuty:
		n.RoutingKey, _ = v.notifierSecret(fn.RoutingKeyEnv, fn.RoutingKeyFile, routingKeySecret, true, add)
		n.APIURL = v.apiURL(fn.APIURL, "https://events.pagerduty.com", "routing key", add)
	case NotifierAlertmanager:
		v.alertmanagerNotifier(fn, &n, alerting, add)
	}
	if n.Type != NotifierStdout {
		n.Timeout = DefaultNotifierTimeout
		if n.Type == NotifierEmail {
			n.Timeout = DefaultEmailTimeout
		}
		durationAt(fn.Timeout, "timeout", &n.Timeout, add)
	}
	if n.Type == NotifierSlack || n.Type == NotifierEmail {
		n.Pacing = Pacing{Max: DefaultPaceMax, Per: DefaultPacePer}
	}
	if fn.Pacing != nil && slices.Contains([]string{NotifierSlack, NotifierEmail, NotifierWebhook}, n.Type) {
		if n.Pacing.Per == 0 {
			n.Pacing.Per = DefaultPacePer
		}
		if m := fn.Pacing.Max; m.set {
			k, err := strconv.Atoi(strings.TrimSpace(m.text))
			switch {
			case err != nil:
				add("pacing.max", "invalid whole number %q", m.text)
			case k < 0:
				add("pacing.max", "must not be negative (got %s; 0 turns pacing off)", m.text)
			default:
				n.Pacing.Max = k
			}
		}
		durationAt(fn.Pacing.Per, "pacing.per", &n.Pacing.Per, add)
	}
	return n
}

// andList joins words as "a, b and c".
func andList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// notifierAccounts checks a notifier's accounts list.
func (v *validator) notifierAccounts(l scalarList, accounts map[string]bool, add func(rel, format string, args ...any)) []string {
	if !l.set {
		return nil
	}
	if len(l.items) == 0 {
		add("accounts", "must name at least one account (leave it out to send about every account)")
		return nil
	}
	var names []string
	for a := range accounts {
		names = append(names, a)
	}
	slices.Sort(names)
	var out []string
	for i, s := range l.items {
		rel := fmt.Sprintf("accounts[%d]", i)
		switch {
		case s.text == "":
			add(rel, "must not be empty")
		case slices.Contains(out, s.text):
			add(rel, "duplicate account %q", s.text)
		case !accounts[s.text]:
			add(rel, "unknown account %q (want one of %s)", s.text, strings.Join(names, ", "))
		default:
			out = append(out, s.text)
		}
	}
	return out
}

func (v *validator) slackNotifier(fn *fileNotifier, n *Notifier, add func(rel, format string, args ...any)) {
	webhook := fn.WebhookURLEnv.set || fn.WebhookURLFile.set
	bot := fn.BotTokenEnv.set || fn.BotTokenFile.set
	switch {
	case webhook && bot:
		add("", "set either webhook_url_env or webhook_url_file (incoming webhook) or bot_token_env or bot_token_file (bot mode), not both")
	case webhook:
		n.WebhookURL, _ = v.notifierSecret(fn.WebhookURLEnv, fn.WebhookURLFile, webhookURLSecret, true, add)
	case bot:
		n.BotToken, _ = v.notifierSecret(fn.BotTokenEnv, fn.BotTokenFile, botTokenSecret, true, add)
	default:
		add("", "a slack notifier needs webhook_url_env or webhook_url_file (incoming webhook), "+
			"or bot_token_env or bot_token_file and channel (bot mode)")
	}
	if !bot {
		for _, k := range []struct {
			key string
			set bool
		}{{"channel", fn.Channel.set}, {"app_token_env", fn.AppTokenEnv.set}, {"app_token_file", fn.AppTokenFile.set}, {"api_url", fn.APIURL.set}} {
			if k.set {
				add(k.key, "only applies in bot mode (with bot_token_env or bot_token_file)")
			}
		}
		return
	}
	switch c := strings.TrimSpace(fn.Channel.text); {
	case !fn.Channel.set:
		add("channel", "is required in bot mode: the channel's ID (C…, in the channel details) or #name")
	case c == "" || strings.ContainsAny(c, " \t,"):
		add("channel", "invalid channel %q: want the channel's ID (C…) or #name", fn.Channel.text)
	default:
		n.Channel = c
	}
	n.AppToken, _ = v.notifierSecret(fn.AppTokenEnv, fn.AppTokenFile, appTokenSecret, false, add)
	n.APIURL = v.apiURL(fn.APIURL, "https://slack.com/api", "bot token", add)
}

func (v *validator) webhookNotifier(fn *fileNotifier, n *Notifier, add func(rel, format string, args ...any)) {
	n.WebhookURL, _ = v.notifierSecret(fn.URLEnv, fn.URLFile, urlSecret, true, add)
	n.Secret, _ = v.notifierSecret(fn.SecretEnv, fn.SecretFile, hmacSecret, false, add)
}

func (v *validator) alertmanagerNotifier(fn *fileNotifier, n *Notifier, alerting Alerting, add func(rel, format string, args ...any)) {
	n.BearerToken, _ = v.notifierSecret(fn.BearerTokenEnv, fn.BearerTokenFile, bearerTokenSecret, false, add)
	if !fn.URL.set {
		add("url", "is required: Alertmanager's base URL, such as http://alertmanager:9093")
	} else {
		u, err := url.Parse(strings.TrimSpace(fn.URL.text))
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			if strings.Contains(fn.URL.text, "@") {
				add("url", "is not an absolute http(s) URL such as http://alertmanager:9093")
			} else {
				add("url", "invalid URL %q (want Alertmanager's base URL, such as http://alertmanager:9093)", fn.URL.text)
			}
		case u.User != nil:
			add("url", "must not hold credentials (user:password@): use bearer_token_env or bearer_token_file")
		case u.RawQuery != "" || u.Fragment != "":
			add("url", "must not have a query or fragment (got %q)", fn.URL.text)
		case strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v2/alerts"):
			add("url", "must be Alertmanager's base URL, without /api/v2/alerts (got %q)", fn.URL.text)
		case u.Scheme == "http" && !n.BearerToken.IsZero() && !isLoopback(u.Hostname()):
			add("url", "plain http would send the bearer token unencrypted; use https")
		default:
			n.URL = strings.TrimSuffix(u.String(), "/")
		}
	}
	var longest time.Duration
	for _, d := range alerting.Repeat {
		longest = max(longest, d)
	}
	n.ResolveTimeout = longest + time.Hour
	durationAt(fn.ResolveTimeout, "resolve_timeout", &n.ResolveTimeout, add)
	if fn.ResolveTimeout.set && n.ResolveTimeout > 0 && n.ResolveTimeout <= longest {
		add("resolve_timeout", "must be longer than the longest repeat interval (%s), or Alertmanager resolves alerts guardd still sees firing (got %s)",
			duration(longest), fn.ResolveTimeout.text)
	}
}

func (v *validator) emailNotifier(fn *fileNotifier, n *Notifier, add func(rel, format string, args ...any)) {
	s := &n.SMTP
	s.TLS = SMTPStartTLS
	if fn.TLS.set {
		switch t := strings.TrimSpace(fn.TLS.text); t {
		case SMTPStartTLS, SMTPTLS, SMTPNone:
			s.TLS = t
		default:
			add("tls", "unknown TLS mode %q (want starttls, tls or none)", fn.TLS.text)
		}
	}
	switch h := strings.TrimSpace(fn.Host.text); {
	case !fn.Host.set || h == "":
		add("host", "is required: the SMTP server's host name, such as smtp.example.com")
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/ @"):
		add("host", "invalid host %q: want a host name only, such as smtp.example.com", fn.Host.text)
	case strings.Contains(h, ":") && net.ParseIP(h) == nil:
		add("host", "invalid host %q: want a host name without a port (set port)", fn.Host.text)
	default:
		s.Host = h
		if s.TLS == SMTPNone && !isLoopback(h) {
			add("tls", "none sends the password and the alerts unencrypted; it is allowed only for a relay on this machine (host localhost or 127.0.0.1)")
		}
	}
	s.Port = DefaultSMTPPort
	if s.TLS == SMTPTLS {
		s.Port = DefaultSMTPSPort
	}
	setCount(fn.Port, "port", 1, 65535, &s.Port, add)
	s.Username = strings.TrimSpace(fn.Username.text)
	var hasPassword bool
	s.Password, hasPassword = v.notifierSecret(fn.PasswordEnv, fn.PasswordFile, passwordSecret, false, add)
	switch {
	case s.Username != "" && !hasPassword:
		add("", "a username needs password_env or password_file")
	case s.Username == "" && hasPassword:
		add("username", "is required with a password")
	}
	if !fn.From.set {
		add("from", "is required: the sender address, such as guardd@example.com")
	} else if a, err := mail.ParseAddress(fn.From.text); err != nil {
		add("from", "invalid address %q", fn.From.text)
	} else {
		s.From = a.String()
	}
	switch {
	case !fn.To.set:
		add("to", "is required: a list of recipient addresses")
	case len(fn.To.items) == 0:
		add("to", "must name at least one recipient")
	}
	for i, t := range fn.To.items {
		rel := fmt.Sprintf("to[%d]", i)
		a, err := mail.ParseAddress(t.text)
		switch {
		case err != nil:
			add(rel, "invalid address %q", t.text)
		case slices.Contains(s.To, a.Address):
			add(rel, "duplicate address %q", a.Address)
		default:
			s.To = append(s.To, a.Address)
		}
	}
}

// apiURL checks an api_url: absolute, https unless the host is this
// machine, without credentials, query or fragment. It returns "" when
// unset.
func (v *validator) apiURL(s scalar, example, secretNoun string, add func(rel, format string, args ...any)) string {
	if !s.set {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(s.text))
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		add("api_url", "invalid URL %q (want an absolute http(s) URL such as %s)", s.text, example)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		add("api_url", "must not hold credentials, a query or a fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		add("api_url", "plain http would send the %s unencrypted; use https (http is allowed only for this machine, such as http://127.0.0.1:8080)", secretNoun)
	default:
		return strings.TrimSuffix(u.String(), "/")
	}
	return ""
}

// secretKind describes one secret setting of a notifier: <key>_env and
// <key>_file.
type secretKind struct {
	key string
	// noun names the secret in messages: "URL", "token", "password".
	noun string
	// what says what the secret is, for a missing one.
	what string
	// pasted reports whether a *_env or *_file value is most likely the
	// secret itself.
	pasted func(s string) bool
	// bad says what is wrong with a value ("not an http(s) URL"), or "".
	bad func(s string) string
}

var (
	webhookURLSecret = secretKind{key: "webhook_url", noun: "URL", what: "the incoming webhook's URL",
		pasted: func(s string) bool { return strings.Contains(s, "://") },
		bad: func(s string) string {
			if !isHTTPURL(s) {
				return "not an http(s) URL"
			}
			return ""
		}}
	urlSecret = secretKind{key: "url", noun: "URL", what: "the URL to post to",
		pasted: webhookURLSecret.pasted, bad: webhookURLSecret.bad}
	botTokenSecret = secretKind{key: "bot_token", noun: "token", what: "the Slack app's bot token (xoxb-…)",
		pasted: slackToken,
		bad: func(s string) string {
			switch {
			case strings.HasPrefix(s, "xoxb-") || strings.HasPrefix(s, "xoxe.xoxb-"):
				return notKey(s)
			case strings.HasPrefix(s, "xapp-"):
				return "an app-level token (xapp-…), not a bot token (xoxb-…): put it in app_token_env or app_token_file"
			}
			return "not a Slack bot token (xoxb-…, under OAuth & Permissions in the app's settings)"
		}}
	appTokenSecret = secretKind{key: "app_token", noun: "token", what: "the Slack app's app-level token (xapp-…)",
		pasted: slackToken,
		bad: func(s string) string {
			if !strings.HasPrefix(s, "xapp-") {
				return "not a Slack app-level token (xapp-…, under Basic Information, App-Level Tokens)"
			}
			return notKey(s)
		}}
	hmacSecret = secretKind{key: "secret", noun: "secret", what: "the signing secret",
		bad: func(s string) string {
			if len(s) < 16 {
				return "shorter than 16 characters: use a long random secret"
			}
			return notKey(s)
		}}
	routingKeySecret = secretKind{key: "routing_key", noun: "key", what: "the integration key of a PagerDuty Events API v2 integration",
		pasted: isRoutingKey,
		bad: func(s string) string {
			if !isRoutingKey(s) {
				return fmt.Sprintf("not a PagerDuty routing key (32 letters and digits; got %d characters)", len(s))
			}
			return ""
		}}
	bearerTokenSecret = secretKind{key: "bearer_token", noun: "token", what: "the bearer token", bad: notKey}
	passwordSecret    = secretKind{key: "password", noun: "password", what: "the SMTP password",
		bad: func(s string) string {
			if strings.ContainsAny(s, "\r\n\x00") {
				return "not a password: it has line breaks or NUL characters inside"
			}
			return ""
		}}
)

func slackToken(s string) bool {
	return strings.HasPrefix(s, "xox") || strings.HasPrefix(s, "xapp-")
}

func isRoutingKey(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func notKey(s string) string {
	if !isKey(s) {
		return "not usable: it has white space or control characters inside"
	}
	return ""
}

// notifierSecret reads the secret of kind k from the environment variable
// named by env or the file named by file (white space trimmed). required
// says whether one of the two must be set. Its messages never quote the
// secret or anything that might be it. ok reports whether a usable secret
// was read.
func (v *validator) notifierSecret(env, file scalar, k secretKind, required bool, add func(rel, format string, args ...any)) (_ secret.Value, ok bool) {
	envKey, fileKey := k.key+"_env", k.key+"_file"
	switch {
	case env.set && file.set:
		add("", "set only one of %s and %s", envKey, fileKey)
	case env.set:
		return v.secretFromEnv(env.text, k, func(format string, args ...any) { add(envKey, format, args...) })
	case file.set:
		return v.secretFromFile(file.text, k, func(format string, args ...any) { add(fileKey, format, args...) })
	case required:
		add("", "needs %s or %s, naming where %s is kept", envKey, fileKey, k.what)
	}
	return secret.Value{}, false
}

func (v *validator) secretFromEnv(name string, k secretKind, fail func(format string, args ...any)) (secret.Value, bool) {
	switch {
	case name == "":
		fail("must not be empty")
		return secret.Value{}, false
	case !envNameRE.MatchString(name) || (k.pasted != nil && k.pasted(name)):
		// Not quoted: it may be the secret itself, pasted in the wrong place.
		fail("is not an environment variable name (it names the variable holding the %s; never put the %s itself in the file)", k.noun, k.noun)
		return secret.Value{}, false
	}
	val, ok := v.getenv(name)
	val = strings.TrimSpace(val)
	if !ok || val == "" {
		fail("environment variable %s is not set", name)
		return secret.Value{}, false
	}
	if msg := k.bad(val); msg != "" {
		fail("the value of %s is %s", name, msg)
		return secret.Value{}, false
	}
	return secret.New(val), true
}

func (v *validator) secretFromFile(path string, k secretKind, fail func(format string, args ...any)) (secret.Value, bool) {
	switch {
	case path == "":
		fail("must not be empty")
		return secret.Value{}, false
	case k.pasted != nil && k.pasted(path):
		// Not quoted: it is most likely the secret itself.
		fail("must be the path of a file holding the %s, not the %s itself", k.noun, k.noun)
		return secret.Value{}, false
	}
	data, err := os.ReadFile(v.resolve(path))
	if err != nil {
		op := "read"
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			op = pe.Op
		}
		fail("%s", pathError(op, path, err))
		return secret.Value{}, false
	}
	val := strings.TrimSpace(string(data))
	if val == "" {
		fail("file %s is empty", path)
		return secret.Value{}, false
	}
	if msg := k.bad(val); msg != "" {
		fail("the contents of %s are %s", path, msg)
		return secret.Value{}, false
	}
	return secret.New(val), true
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// dumpNotifier is a notifier in the file's schema; every secret shows as
// "<secret>" under the key without _env/_file.
type dumpNotifier struct {
	Name        string      `yaml:"name"`
	Type        string      `yaml:"type"`
	MinSeverity string      `yaml:"min_severity"`
	Accounts    []string    `yaml:"accounts,omitempty"`
	Timeout     string      `yaml:"timeout,omitempty"`
	Pacing      *dumpPacing `yaml:"pacing,omitempty"`
	// WebhookURL marshals as "<secret>" (secret.Value.MarshalYAML).
	WebhookURL     *secret.Value `yaml:"webhook_url,omitempty"`
	BotToken       *secret.Value `yaml:"bot_token,omitempty"`
	AppToken       *secret.Value `yaml:"app_token,omitempty"`
	Channel        string        `yaml:"channel,omitempty"`
	APIURL         string        `yaml:"api_url,omitempty"`
	URL            string        `yaml:"url,omitempty"`
	Secret         *secret.Value `yaml:"secret,omitempty"`
	RoutingKey     *secret.Value `yaml:"routing_key,omitempty"`
	BearerToken    *secret.Value `yaml:"bearer_token,omitempty"`
	ResolveTimeout string        `yaml:"resolve_timeout,omitempty"`
	Host           string        `yaml:"host,omitempty"`
	Port           int           `yaml:"port,omitempty"`
	TLS            string        `yaml:"tls,omitempty"`
	Username       string        `yaml:"username,omitempty"`
	Password       *secret.Value `yaml:"password,omitempty"`
	From           string        `yaml:"from,omitempty"`
	To             []string      `yaml:"to,omitempty"`
}

type dumpPacing struct {
	Max int    `yaml:"max"`
	Per string `yaml:"per"`
}

func dumpNotifiers(ns []Notifier) []dumpNotifier {
	var out []dumpNotifier
	sec := func(s secret.Value) *secret.Value {
		if s.IsZero() {
			return nil
		}
		return &s
	}
	for _, n := range ns {
		d := dumpNotifier{
			Name: n.Name, Type: n.Type, MinSeverity: string(n.MinSeverity), Accounts: n.Accounts,
			BotToken: sec(n.BotToken), AppToken: sec(n.AppToken), Channel: n.Channel, APIURL: n.APIURL,
			Secret: sec(n.Secret), RoutingKey: sec(n.RoutingKey), BearerToken: sec(n.BearerToken),
			Host: n.SMTP.Host, Port: n.SMTP.Port, TLS: n.SMTP.TLS, Username: n.SMTP.Username, Password: sec(n.SMTP.Password),
			From: n.SMTP.From, To: n.SMTP.To,
		}
		switch n.Type {
		case NotifierWebhook:
			if !n.WebhookURL.IsZero() {
				d.URL = secret.Redacted
			}
		case NotifierAlertmanager:
			d.URL = n.URL
			d.ResolveTimeout = duration(n.ResolveTimeout)
		default:
			d.WebhookURL = sec(n.WebhookURL)
		}
		if n.Timeout > 0 {
			d.Timeout = duration(n.Timeout)
		}
		if n.Pacing.Max > 0 {
			d.Pacing = &dumpPacing{Max: n.Pacing.Max, Per: duration(n.Pacing.Per)}
		}
		out = append(out, d)
	}
	return out
}
