package alert

import (
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/setting"
)

// Kind is one receiver type: a row of the config's table of receivers.
type Kind struct {
	// Name is the type as written in the config ("slack").
	Name string
	// Config returns a new configuration holding the type's defaults.
	Config func() Config
}

// Config is a receiver type's own configuration: its block of a notifier,
// beside the keys every notifier has (name, type, min_severity, accounts),
// decoded by the setting package into the type's struct of leaves after its
// defaults.
type Config interface {
	// Validate adds the problems only the receiver can judge, with paths
	// relative to the notifier's block, and completes the defaults that
	// depend on other settings.
	Validate(p *setting.Problems, env Env)
	// New makes the receiver's notifier.
	New(d Deps) (Notifier, error)
	// Describe says what the receiver is, without secrets: "slack, bot
	// mode, channel #alerts".
	Describe() string
	// Pace is how the outbox paces the receiver (zero: not at all).
	Pace() Pacing
}

// Env is what a receiver's configuration may depend on elsewhere in the
// configuration.
type Env struct {
	// LongestRepeat is the longest interval after which a firing alert is
	// sent again.
	LongestRepeat time.Duration
}

// Deps is what a receiver gets from the process that runs it.
type Deps struct {
	// Stdout is where the stdout receiver writes.
	Stdout io.Writer
	Log    *zap.Logger
	// Links maps an account name to its provider's billing page, linked
	// from messages.
	Links map[string]string
	// Pages maps an account name to its page on guardd run's listener
	// (http.external_url), linked from messages; empty when not set.
	Pages map[string]string
	// Interactive is set in guardd run, the one mode that answers chat
	// buttons; messages sent from other modes carry none.
	Interactive bool
}

// Sending holds what every receiver that sends over a network takes; its
// Config inlines it.
type Sending struct {
	// Timeout bounds one request (for email, one message's whole exchange).
	Timeout setting.Duration `yaml:"timeout"`
}

// SendingDefaults returns a timeout of d, as a default.
func SendingDefaults(d time.Duration) Sending { return Sending{Timeout: setting.DurationOf(d)} }

// Client returns an HTTP client with the timeout.
func (s Sending) Client() *http.Client { return &http.Client{Timeout: s.Timeout.Duration} }

// Pace implements part of Config: not paced.
func (Sending) Pace() Pacing { return Pacing{} }

// Paced is Sending for the receivers the outbox paces (people's inboxes
// and channels); its Config inlines it.
type Paced struct {
	Sending `yaml:",inline"`
	Pacing  PacingConfig `yaml:"pacing"`
}

// PacedDefaults returns a timeout of d and pacing of at most max messages
// an hour (0: off), as defaults.
func PacedDefaults(d time.Duration, max int) Paced {
	return Paced{Sending: SendingDefaults(d),
		Pacing: PacingConfig{Max: setting.CountOf(max), Per: setting.DurationOf(time.Hour)}}
}

// Pace implements part of Config.
func (p Paced) Pace() Pacing { return p.Pacing.Pacing() }

// PacingConfig is the pacing block of the receivers that take one.
type PacingConfig struct {
	Max setting.Count    `yaml:"max" hint:"0 turns pacing off"`
	Per setting.Duration `yaml:"per"`
}

// Pacing returns the pacing the outbox applies.
func (c PacingConfig) Pacing() Pacing { return Pacing{Max: c.Max.N, Per: c.Per.Duration} }

// Omit leaves pacing that is off out of a dump.
func (c *PacingConfig) Omit() bool { return c.Max.N == 0 }

// StdoutKind is the stdout receiver type: it prints each notification.
var StdoutKind = Kind{Name: "stdout", Config: func() Config { return &stdoutConfig{} }}

type stdoutConfig struct{}

func (*stdoutConfig) Validate(*setting.Problems, Env) {}
func (*stdoutConfig) New(d Deps) (Notifier, error)    { return NewWriter(d.Stdout, FormatText), nil }
func (*stdoutConfig) Describe() string                { return "stdout" }
func (*stdoutConfig) Pace() Pacing                    { return Pacing{} }
