package pagerduty

import (
	"fmt"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the pagerduty receiver type.
var Kind = alert.Kind{Name: "pagerduty", Config: func() alert.Config { return Defaults() }}

// Config is a pagerduty notifier's block of the configuration.
type Config struct {
	alert.Sending `yaml:",inline"`
	// RoutingKey is the integration key of an Events API v2 integration.
	RoutingKey setting.Secret `yaml:"routing_key"`
	// APIURL is the Events API's base URL; empty means PagerDuty's own.
	APIURL setting.URL `yaml:"api_url" example:"https://events.pagerduty.com" creds:"use routing_key_env or routing_key_file"`
}

// Defaults returns a pagerduty notifier's defaults.
func Defaults() *Config {
	return &Config{
		Sending: alert.SendingDefaults(httpx.DefaultPostTimeout),
		RoutingKey: setting.Secret{Spec: &setting.SecretSpec{Noun: "key", What: "the integration key of a PagerDuty Events API v2 integration",
			Pasted: isRoutingKey,
			Check: func(s string) string {
				if !isRoutingKey(s) {
					return fmt.Sprintf("not a PagerDuty routing key (32 letters and digits; got %d characters)", len(s))
				}
				return ""
			}}},
	}
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

// Validate implements alert.Config.
func (c *Config) Validate(p *setting.Problems, _ alert.Env) {
	c.RoutingKey.Need(p, "", "routing_key")
	c.APIURL.RequireTLS(p, "the routing key")
}

// New implements alert.Config.
func (c *Config) New(d alert.Deps) (alert.Notifier, error) {
	return New(Options{RoutingKey: c.RoutingKey.Value, URL: c.APIURL.S, Client: c.Client(),
		Log: d.Log, Links: d.Links}), nil
}

// Describe implements alert.Config.
func (c *Config) Describe() string { return "pagerduty" }
