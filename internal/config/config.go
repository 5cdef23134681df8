// Package config loads guardd's configuration: defaults in Go, then a YAML
// file (unknown keys are errors), then a few GUARDD_* environment overrides,
// then validation that reports every problem at once, each named by its YAML
// path as the user wrote it.
//
// Secrets (webhook URLs, provider keys) are never read from the YAML itself:
// the file names an environment variable or a file holding them, and they are
// held as secret.Value so that no error, dump or %v of a Config shows them.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/secret"
	"github.com/sethvargo/go-envconfig"
	"gopkg.in/yaml.v3"
)

// Defaults for settings the file may leave out. Rule parameters default to
// rules.DefaultParams and ledger options to ledger.DefaultOptions.
const (
	DefaultSchedule  = "*/15 * * * *"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "auto"
)

// EnvPrefix prefixes every environment variable that overrides a setting:
// GUARDD_SCHEDULE, GUARDD_LOG_LEVEL and GUARDD_LOG_FORMAT.
const EnvPrefix = "GUARDD_"

// Source types. Every type but file reads a provider's API and must match
// the account's provider.
const (
	// SourceFile reads observations from a history file (Source.Path).
	SourceFile = "file"
	// SourceOpenAI reads the Costs API (admin key) and, with a browser
	// session key, the credit grants and balance.
	SourceOpenAI = "openai"
	// SourceAnthropic reads the Admin API cost report (admin key).
	SourceAnthropic = "anthropic"
	// SourceDeepSeek reads the balance (API key).
	SourceDeepSeek = "deepseek"
	// SourceOpenRouter reads the credits (management key).
	SourceOpenRouter = "openrouter"
)

// Defaults of the settings of sources that read a provider's API.
const (
	DefaultSourceTimeout = 30 * time.Second
	DefaultMaxRequests   = 20
	DefaultCostLookback  = 7 * 24 * time.Hour
)

// Config is guardd's validated, effective configuration.
type Config struct {
	// Schedule is when to poll: a 5-field cron spec or a descriptor such as
	// "@every 15m" or "@hourly" (robfig/cron's standard parser accepts it).
	Schedule string
	Log      Log
	// Params starts from rules.DefaultParams(); keys present in the file
	// override single fields.
	Params rules.Params
	// Ledger starts from ledger.DefaultOptions().
	Ledger ledger.Options
	// Accounts holds at least one account, with unique names, in file order.
	Accounts []Account
	// Notifiers holds the alert receivers, with unique names, in file order.
	// It may be empty.
	Notifiers []Notifier
	State     State
	HTTP      HTTP
	Alerting  Alerting
}

// Log configures logging.
type Log struct {
	// Level is "debug", "info", "warn" or "error".
	Level string
	// Format is "auto" (JSON unless stderr is a terminal), "json" or
	// "console".
	Format string
}

// Account is one watched account and where its observations come from.
type Account struct {
	billing.Account
	Source Source
}

// Source says where an account's observations come from.
type Source struct {
	// Type is SourceFile or one of the provider types (SourceOpenAI, …).
	Type string
	// Path is the file to read: absolute as written, or joined to the
	// directory the config was loaded from. File sources only.
	Path string

	// The settings below apply to the provider types only.

	// BaseURL is the API's base URL, the provider's own by default.
	BaseURL string
	// AdminKey reads OpenAI's Costs API or Anthropic's cost report.
	AdminKey Credential
	// SessionKey, optional, reads OpenAI's credit grants and balance.
	SessionKey Credential
	// APIKey reads DeepSeek's balance.
	APIKey Credential
	// ManagementKey reads OpenRouter's credits.
	ManagementKey Credential
	// Timeout bounds each request (DefaultSourceTimeout).
	Timeout time.Duration
	// MaxRequests is the budget of requests per poll, retries and pages
	// included (DefaultMaxRequests).
	MaxRequests int
	// CostLookback is how far back the first poll reads costs (OpenAI and
	// Anthropic; DefaultCostLookback).
	CostLookback time.Duration
}

// Credential is a key a source sends to its provider, and where it was read
// from: an environment variable (Env) or a file (File, as written).
type Credential struct {
	Value secret.Value
	Env   string
	File  string
}

// IsZero reports whether no credential is set.
func (c Credential) IsZero() bool { return c.Value.IsZero() }

// From says where the credential was read from: "$OPENAI_ADMIN_KEY" or
// "file /etc/guardd/openai-admin-key".
func (c Credential) From() string {
	switch {
	case c.Env != "":
		return "$" + c.Env
	case c.File != "":
		return "file " + c.File
	}
	return "nowhere"
}

// Load reads a config from r. dir is the directory relative paths in the file
// are resolved against (the config file's directory). getenv looks up
// environment variables (os.LookupEnv in main, a map in tests); nil means
// os.LookupEnv.
//
// A config that does not load gives an *Error listing every problem; other
// errors (r failing) are returned as they are.
func Load(r io.Reader, dir string, getenv func(string) (string, bool)) (*Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}

	// Layer 1: the document tree, for syntax errors and for the line each
	// problem is on (problems are reported in file order).
	root, problems := parseTree(data)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}

	// Layer 2: the file, strictly: unknown keys are errors.
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Problems: yamlProblems(err, root)}
	}

	// Layer 3: the environment.
	var env envOverrides
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target:   &env,
		Lookuper: envconfig.PrefixLookuper(EnvPrefix, envconfig.LookuperFunc(getenv)),
	}); err != nil {
		return nil, fmt.Errorf("read environment overrides: %w", err)
	}

	// Layer 4: defaults under everything, then validate.
	v := &validator{dir: dir, getenv: getenv, root: root}
	c := v.config(&fc, &env)
	if len(v.problems) > 0 {
		return nil, &Error{Problems: v.sorted()}
	}
	return c, nil
}

// LoadFile loads the config file at path, resolving relative paths in it
// against the file's directory. If the file loads but is invalid, the *Error
// returned carries path in its File field.
func LoadFile(path string, getenv func(string) (string, bool)) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	c, err := Load(f, filepath.Dir(path), getenv)
	if e, ok := errors.AsType[*Error](err); ok {
		e.File = path
	} else if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, err
}

// envOverrides are the settings the environment may override. A variable that
// is unset or empty leaves the file's value alone. The fields are pointers
// (noinit) so that the validator knows which values came from the
// environment and can name the variable in errors. No field has a default=
// tag: defaults live in Go, below the file.
type envOverrides struct {
	Schedule  *string `env:"SCHEDULE, noinit"`
	LogLevel  *string `env:"LOG_LEVEL, noinit"`
	LogFormat *string `env:"LOG_FORMAT, noinit"`
	StatePath *string `env:"STATE_PATH, noinit"`
	HTTPAddr  *string `env:"HTTP_ADDR, noinit"`
}
