package heartbeat

import (
	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/setting"
)

// The values of on_partial.
const (
	PartialOK   = "ok"
	PartialFail = "fail"
)

// Config is the heartbeat section of the configuration: the dead-man's
// switch guardd pings after each cycle. No URL (the default) turns it off.
type Config struct {
	// URL is the check's ping URL; it is itself the credential.
	URL setting.Secret `yaml:"url"`
	// Timeout bounds each ping.
	Timeout setting.Duration `yaml:"timeout"`
	// Start pings <url>/start as each cycle begins, so that the service
	// measures how long cycles take (healthchecks.io does).
	Start setting.Bool `yaml:"start"`
	// OnPartial says what a cycle that read every account, some only in
	// part (guardd check's exit status 3), pings: ok (the URL) or fail
	// (<url>/fail).
	OnPartial setting.Text `yaml:"on_partial"`
}

// Defaults returns the heartbeat section's defaults: off, and when on a
// DefaultTimeout, no start ping, partial cycles counted as ok.
func Defaults() Config {
	return Config{
		URL:       setting.Secret{Spec: setting.URLSpec("the dead-man's switch's ping URL, such as https://hc-ping.com/<uuid>")},
		Timeout:   setting.DurationOf(DefaultTimeout),
		OnPartial: setting.TextOf(PartialOK),
	}
}

// Omit leaves the section out of a dump while no URL is set.
func (c *Config) Omit() bool { return c.URL.IsZero() }

// Validate checks the section; p is at its path ("heartbeat").
func (c *Config) Validate(p *setting.Problems) {
	switch c.OnPartial.S {
	case PartialOK, PartialFail:
	default:
		p.At(c.OnPartial.Pos, "unknown outcome %q (want %s)", c.OnPartial.S, setting.OrList([]string{PartialOK, PartialFail}))
	}
	if c.URL.IsZero() {
		for _, k := range []setting.Pos{c.Timeout.Pos, c.Start.Pos, c.OnPartial.Pos} {
			if k.IsSet() {
				p.At(k, "only applies with url_env or url_file (the ping URL)")
			}
		}
		return
	}
	c.URL.RequireTLS(p, "each cycle's outcome")
}

// New returns the Pinger the section describes, nil when it has no URL (a
// nil Pinger pings nothing). A URL given but not read (config.NoSecrets) is
// no URL either.
func (c *Config) New(log *zap.Logger) *Pinger {
	if c.URL.Value.IsZero() {
		return nil
	}
	return New(Options{URL: c.URL.Value, Start: c.Start.B, PartialFails: c.OnPartial.S == PartialFail,
		Timeout: c.Timeout.Duration, Log: log})
}

// Describe says where the pings go, naming where the URL is kept, never
// the URL: "pings the URL in $HC_URL after each cycle (timeout 10s)".
func (c *Config) Describe() string {
	s := "pings the URL in " + c.URL.From() + " after each cycle (timeout " + setting.FormatDuration(c.Timeout.Duration)
	if c.Start.B {
		s += ", /start as it begins"
	}
	if c.OnPartial.S == PartialFail {
		return s + "; a cycle that read an account only in part is a failure)"
	}
	return s + "; a cycle that read an account only in part is ok)"
}
