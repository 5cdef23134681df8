package alert

import (
	"io"
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
	// Interactive is set in guardd run, the one mode that answers chat
	// buttons; messages sent from other modes carry none.
	Interactive bool
}

// PacingConfig is the pacing block of the receivers that take one.
type PacingConfig struct {
	Max setting.Count    `yaml:"max" hint:"0 turns pacing off"`
	Per setting.Duration `yaml:"per"`
}

// Paced returns pacing of at most max messages per hour, as a default.
func Paced(max int) PacingConfig {
	return PacingConfig{Max: setting.CountOf(max), Per: setting.DurationOf(time.Hour)}
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
