package webhook

import (
	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the webhook receiver type.
var Kind = alert.Kind{Name: "webhook", Config: func() alert.Config { return Defaults() }}

// Config is a webhook notifier's block of the configuration.
type Config struct {
	alert.Paced `yaml:",inline"`
	// URL is the endpoint; it often carries a token, so it is a secret.
	URL setting.Secret `yaml:"url"`
	// Secret, optional, signs each body (HMAC-SHA256).
	Secret setting.Secret `yaml:"secret"`
}

// Defaults returns a webhook notifier's defaults: not paced.
func Defaults() *Config {
	return &Config{
		Paced: alert.PacedDefaults(httpx.DefaultPostTimeout, 0),
		URL:   setting.Secret{Spec: setting.URLSpec("the URL to post to")},
		Secret: setting.Secret{Spec: &setting.SecretSpec{Noun: "secret", What: "the signing secret",
			Check: func(s string) string {
				if len(s) < 16 {
					return "shorter than 16 characters: use a long random secret"
				}
				return ""
			}}},
	}
}

// Validate implements alert.Config.
func (c *Config) Validate(p *setting.Problems, _ alert.Env) {
	c.URL.Need(p, "", "url")
	c.URL.RequireTLS(p, "the alerts")
}

// New implements alert.Config.
func (c *Config) New(d alert.Deps) (alert.Notifier, error) {
	return New(Options{URL: c.URL.Value, Secret: c.Secret.Value, Client: c.Client(), Log: d.Log}), nil
}

// Describe implements alert.Config.
func (c *Config) Describe() string { return "webhook" }
