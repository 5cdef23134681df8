package alertmanager

import (
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the alertmanager receiver type.
var Kind = alert.Kind{Name: "alertmanager", Config: func() alert.Config { return Defaults() }}

// Config is an alertmanager notifier's block of the configuration.
type Config struct {
	alert.Sending `yaml:",inline"`
	// URL is Alertmanager's base URL; URLs, instead, lists the base URL of
	// every replica of an Alertmanager cluster. Set one of the two.
	URL  setting.URL   `yaml:"url" example:"http://alertmanager:9093" creds:"use bearer_token_env or bearer_token_file"`
	URLs []setting.URL `yaml:"urls" example:"http://alertmanager-0:9093" creds:"use bearer_token_env or bearer_token_file"`
	// BearerToken, optional, is sent with each request.
	BearerToken setting.Secret `yaml:"bearer_token"`
	// ResolveTimeout is how far ahead a firing alert's endsAt is set: by
	// default an hour beyond the longest repeat interval.
	ResolveTimeout setting.Duration `yaml:"resolve_timeout"`
	// ResendInterval is how often guardd run sends the firing alerts again
	// between cycles.
	ResendInterval setting.Duration `yaml:"resend_interval"`
	// Watchdog adds the always-firing GuarddWatchdog alert to every resend;
	// WatchdogTimeout is how long it stays active after the last one.
	Watchdog        setting.Bool     `yaml:"watchdog"`
	WatchdogTimeout setting.Duration `yaml:"watchdog_timeout"`
}

// Defaults returns an alertmanager notifier's defaults.
func Defaults() *Config {
	return &Config{
		Sending:         alert.SendingDefaults(httpx.DefaultPostTimeout),
		BearerToken:     setting.Secret{Spec: &setting.SecretSpec{Noun: "token", What: "the bearer token"}},
		ResendInterval:  setting.DurationOf(DefaultResendInterval),
		WatchdogTimeout: setting.DurationOf(DefaultWatchdogTimeout),
	}
}

// Validate implements alert.Config.
func (c *Config) Validate(p *setting.Problems, env alert.Env) {
	switch {
	case c.URL.IsSet() && c.URLs != nil:
		p.Add("", "set url (one Alertmanager) or urls (every replica of a cluster), not both")
	case !c.URL.IsSet() && c.URLs == nil:
		p.Add("url", "is required: Alertmanager's base URL, such as http://alertmanager:9093 (or urls: the base URL of every replica)")
	case c.URLs != nil && len(c.URLs) == 0:
		p.Add("urls", "must name at least one URL")
	}
	var seen []string
	for _, u := range c.urls() {
		switch {
		case u.S == "":
			// Reported by the leaf.
		case strings.HasSuffix(u.S, "/api/v2/alerts"):
			p.At(u.Pos, "must be Alertmanager's base URL, without /api/v2/alerts (got %s)", secret.QuoteURL(u.Text))
		case slices.Contains(seen, u.S):
			p.At(u.Pos, "duplicate URL %s", secret.QuoteURL(u.S))
		case !c.BearerToken.IsZero():
			u.RequireTLS(p, "the bearer token")
		}
		seen = append(seen, u.S)
	}
	if !c.ResolveTimeout.IsSet() {
		c.ResolveTimeout.Duration = env.LongestRepeat + time.Hour
	} else if c.ResolveTimeout.Duration > 0 && c.ResolveTimeout.Duration <= env.LongestRepeat {
		p.At(c.ResolveTimeout.Pos, "must be longer than the longest repeat interval (%s), or Alertmanager resolves alerts guardd still sees firing (got %s)",
			setting.FormatDuration(env.LongestRepeat), c.ResolveTimeout.Text)
	}
	if r, rt := c.ResendInterval, c.ResolveTimeout.Duration; r.Duration > 0 && rt > 0 && r.Duration >= rt {
		msg := "must be shorter than resolve_timeout (" + setting.FormatDuration(rt) + "), or Alertmanager resolves alerts between two resends"
		if r.IsSet() {
			p.At(r.Pos, "%s (got %s)", msg, r.Text)
		} else {
			p.Add("resend_interval", "%s (by default %s)", msg, setting.FormatDuration(r.Duration))
		}
	}
	switch w, r := c.WatchdogTimeout, c.ResendInterval.Duration; {
	case !c.Watchdog.B:
		if w.IsSet() {
			p.At(w.Pos, "only applies with watchdog: true")
		}
	case w.Duration <= r:
		msg := "must be longer than resend_interval (" + setting.FormatDuration(r) + "), or the watchdog ends between two resends"
		if w.IsSet() {
			p.At(w.Pos, "%s (got %s)", msg, w.Text)
		} else {
			p.Add("watchdog_timeout", "%s (by default %s)", msg, setting.FormatDuration(w.Duration))
		}
	}
}

// urls returns the configured URLs: url, or the list urls.
func (c *Config) urls() []setting.URL {
	if c.URL.IsSet() {
		return []setting.URL{c.URL}
	}
	return c.URLs
}

// New implements alert.Config.
func (c *Config) New(d alert.Deps) (alert.Notifier, error) {
	var urls []string
	for _, u := range c.urls() {
		urls = append(urls, u.S)
	}
	return New(Options{URLs: urls, BearerToken: c.BearerToken.Value, ResolveTimeout: c.ResolveTimeout.Duration,
		ResendInterval: c.ResendInterval.Duration, Watchdog: c.Watchdog.B, WatchdogTimeout: c.WatchdogTimeout.Duration,
		Client: c.Client(), Log: d.Log, Links: d.Links}), nil
}

// Describe implements alert.Config.
func (c *Config) Describe() string {
	var urls []string
	for _, u := range c.urls() {
		urls = append(urls, u.S)
	}
	s := "alertmanager at " + strings.Join(urls, ", ")
	if c.Watchdog.B {
		s += ", with the watchdog alert (" + WatchdogName + ", ends " + setting.FormatDuration(c.WatchdogTimeout.Duration) + " after the last resend)"
	}
	return s
}
