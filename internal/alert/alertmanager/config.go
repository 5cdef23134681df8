package alertmanager

import (
	"strings"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the alertmanager receiver type.
var Kind = alert.Kind{Name: "alertmanager", Config: func() alert.Config { return Defaults() }}

// Config is an alertmanager notifier's block of the configuration.
type Config struct {
	alert.Sending `yaml:",inline"`
	// URL is Alertmanager's base URL.
	URL setting.URL `yaml:"url" example:"http://alertmanager:9093" creds:"use bearer_token_env or bearer_token_file"`
	// BearerToken, optional, is sent with each request.
	BearerToken setting.Secret `yaml:"bearer_token"`
	// ResolveTimeout is how far ahead a firing alert's endsAt is set: by
	// default an hour beyond the longest repeat interval.
	ResolveTimeout setting.Duration `yaml:"resolve_timeout"`
}

// Defaults returns an alertmanager notifier's defaults.
func Defaults() *Config {
	return &Config{
		Sending:     alert.SendingDefaults(httpx.DefaultPostTimeout),
		BearerToken: setting.Secret{Spec: &setting.SecretSpec{Noun: "token", What: "the bearer token"}},
	}
}

// Validate implements alert.Config.
func (c *Config) Validate(p *setting.Problems, env alert.Env) {
	switch {
	case !c.URL.IsSet():
		p.Add("url", "is required: Alertmanager's base URL, such as http://alertmanager:9093")
	case c.URL.S == "":
		// Reported by the leaf.
	case strings.HasSuffix(c.URL.S, "/api/v2/alerts"):
		p.At(c.URL.Pos, "must be Alertmanager's base URL, without /api/v2/alerts (got %q)", c.URL.Text)
	case !c.BearerToken.IsZero():
		c.URL.RequireTLS(p, "the bearer token")
	}
	if !c.ResolveTimeout.IsSet() {
		c.ResolveTimeout.Duration = env.LongestRepeat + time.Hour
	} else if c.ResolveTimeout.Duration > 0 && c.ResolveTimeout.Duration <= env.LongestRepeat {
		p.At(c.ResolveTimeout.Pos, "must be longer than the longest repeat interval (%s), or Alertmanager resolves alerts guardd still sees firing (got %s)",
			setting.FormatDuration(env.LongestRepeat), c.ResolveTimeout.Text)
	}
}

// New implements alert.Config.
func (c *Config) New(d alert.Deps) (alert.Notifier, error) {
	return New(Options{URL: c.URL.S, BearerToken: c.BearerToken.Value, ResolveTimeout: c.ResolveTimeout.Duration,
		Client: c.Client(), Log: d.Log, Links: d.Links}), nil
}

// Describe implements alert.Config.
func (c *Config) Describe() string { return "alertmanager at " + c.URL.S }
