// Package config loads guardd's configuration: defaults in Go, then a YAML
// file (unknown keys are errors), then a few GUARDD_* environment overrides,
// then validation that reports every problem at once, each named by its YAML
// path as the user wrote it.
//
// config keeps the envelope only: the global sections, the accounts, and one
// ordered table per kind of part (sources, receivers, and the rules, whose
// table is rules.DefaultParams). Each source, receiver and rule owns its own
// block: its struct of setting leaves with their defaults, and its Validate.
//
// Secrets (webhook URLs, provider keys) are never read from the YAML itself:
// the file names an environment variable or a file holding them, and they are
// held as secret.Value so that no error, dump or %v of a Config shows them.
package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/heartbeat"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/setting"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/suggest"
	"github.com/robfig/cron/v3"
	"github.com/sethvargo/go-envconfig"
	"gopkg.in/yaml.v3"
)

// Defaults of the global settings.
const (
	DefaultSchedule     = "*/15 * * * *"
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "auto"
	DefaultStateFile    = "guardd-state.db"
	DefaultRetention    = 400 * 24 * time.Hour
	DefaultHTTPAddr     = "127.0.0.1:9464"
	DefaultResolveAfter = 2
	// DefaultIntegrityCheck is how often guardd run checks the whole state
	// database (state.integrity_check).
	DefaultIntegrityCheck = 24 * time.Hour
	// DefaultConcurrency is how many accounts are polled at once
	// (poll.concurrency).
	DefaultConcurrency = poller.DefaultConcurrency
)

// EnvPrefix prefixes every environment variable that overrides a setting:
// GUARDD_SCHEDULE, GUARDD_LOG_LEVEL, GUARDD_LOG_FORMAT, GUARDD_STATE_PATH and
// GUARDD_HTTP_ADDR.
const EnvPrefix = "GUARDD_"

// Config is guardd's validated, effective configuration.
type Config struct {
	Global
	// Params holds the rules with their parameters (rules.DefaultParams
	// and the file's rules section).
	Params rules.Params
	// Ledger starts from ledger.DefaultOptions.
	Ledger ledger.Options
	// Accounts holds at least one account, with unique names, in file order.
	Accounts []Account
	// Notifiers holds the alert receivers, with unique names, in file order.
	Notifiers []Notifier
	// Mailboxes are where receipts are read from, with unique names.
	Mailboxes []Mailbox
}

// Global holds the sections every part of guardd shares.
type Global struct {
	// Schedule is when to poll: a 5-field cron spec or a descriptor such as
	// "@every 15m" (robfig/cron's standard parser accepts it).
	Schedule setting.Text `yaml:"schedule"`
	Poll     Poll         `yaml:"poll"`
	Log      Log          `yaml:"log"`
	State    State        `yaml:"state"`
	HTTP     HTTP         `yaml:"http"`
	Alerting Alerting     `yaml:"alerting"`
	// Heartbeat is the dead-man's switch pinged after each cycle; off
	// without a URL.
	Heartbeat heartbeat.Config `yaml:"heartbeat"`
}

// Poll bounds how many accounts are polled at once.
type Poll struct {
	// Concurrency bounds the polls in flight, over every account.
	Concurrency setting.Count `yaml:"concurrency" min:"1" max:"1024"`
	// PerProvider bounds, by source type (openai: 2), the polls in flight
	// of the accounts read from that provider's API, so that its rate
	// limit is respected while the other providers' accounts proceed. A
	// type not listed is bounded by Concurrency alone.
	PerProvider map[string]setting.Count `yaml:"per_provider" min:"1" max:"1024"`
}

// PerSource returns PerProvider as counts by source type.
func (p Poll) PerSource() map[string]int {
	out := make(map[string]int, len(p.PerProvider))
	for k, v := range p.PerProvider {
		out[k] = v.N
	}
	return out
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level setting.Text `yaml:"level"`
	// Format is auto (JSON unless stderr is a terminal), json or console.
	Format setting.Text `yaml:"format"`
}

// State says where guardd keeps its database and for how long.
type State struct {
	// Driver is sqlite (the default: one file, one machine) or postgres
	// (several replicas, no volume).
	Driver setting.Text `yaml:"driver"`
	// Path of the SQLite database. Default: $STATE_DIRECTORY/state.db under
	// systemd, else guardd-state.db beside the config file.
	Path setting.Path `yaml:"path"`
	// DSN is the PostgreSQL connection string (dsn_env or dsn_file): it
	// holds a password.
	DSN       setting.Secret   `yaml:"dsn"`
	Retention setting.Duration `yaml:"retention"`
	// IntegrityCheck is how often guardd run checks the whole database for
	// damage (PRAGMA quick_check); 0 never. Every command also checks it
	// when it opens a database a process left open (killed, crashed, the
	// power lost), and guardd state check does on demand.
	IntegrityCheck setting.Interval `yaml:"integrity_check"`
}

// Postgres reports whether the state is kept on PostgreSQL.
func (s State) Postgres() bool { return s.Driver.S == store.DriverPostgres }

// Describe says where the state is, never the DSN: the file's path, or
// where the connection string is read from.
func (s State) Describe() string {
	if s.Postgres() {
		return "PostgreSQL (connection string in " + s.DSN.From() + ")"
	}
	return s.Path.Name
}

// dsnSpec describes the PostgreSQL connection string.
var dsnSpec = &setting.SecretSpec{Noun: "connection string",
	What: "a PostgreSQL connection string, such as host=db.internal dbname=guardd user=guardd password=… sslmode=verify-full, or a postgres:// URL",
	// An environment variable's name or a path never holds these.
	Pasted: func(s string) bool { return strings.Contains(s, "=") || strings.Contains(s, "://") },
	Spaces: true,
	Check:  store.CheckDSN,
}

// HTTP is the listener of guardd run: metrics, health and the pages.
type HTTP struct {
	// Addr is host:port, or "off".
	Addr setting.Text `yaml:"addr"`
	// ExternalURL is where people reach the pages (through a proxy, say);
	// when set, messages link each account's page. Empty: no link.
	ExternalURL setting.URL `yaml:"external_url" example:"https://guardd.example.com"`
}

// AccountPage returns the URL of account's page under ExternalURL, or ""
// when it is not set.
func (h HTTP) AccountPage(account string) string {
	if h.ExternalURL.S == "" {
		return ""
	}
	return h.ExternalURL.S + "/accounts/" + url.PathEscape(account)
}

// Listen returns the address to listen on, or "" when the endpoint is off.
func (h HTTP) Listen() string {
	if h.Addr.S == "off" {
		return ""
	}
	return h.Addr.S
}

// Alerting tunes the alert lifecycle.
type Alerting struct {
	// Repeat* is how long a firing alert of each severity waits before it
	// is sent again.
	RepeatCritical setting.Duration `yaml:"repeat_critical"`
	RepeatWarning  setting.Duration `yaml:"repeat_warning"`
	RepeatInfo     setting.Duration `yaml:"repeat_info"`
	// ResolveAfter is how many evaluations in a row a finding must be absent
	// before its alert resolves, so a flapping condition does not resolve
	// and fire again on every poll.
	ResolveAfter setting.Count `yaml:"resolve_after" min:"1"`
}

// Repeat returns the repeat interval of each severity.
func (a Alerting) Repeat() map[billing.Severity]time.Duration {
	return map[billing.Severity]time.Duration{
		billing.SeverityCritical: a.RepeatCritical.Duration,
		billing.SeverityWarning:  a.RepeatWarning.Duration,
		billing.SeverityInfo:     a.RepeatInfo.Duration,
	}
}

// defaults returns the global settings' defaults; the state path depends
// on where the config is and whether systemd gave a state directory.
func defaults(d *setting.Decoder) Global {
	state := d.Resolve(DefaultStateFile)
	if dirs, ok := d.Getenv("STATE_DIRECTORY"); ok && dirs != "" {
		// systemd's StateDirectory= (several are separated by colons).
		state = filepath.Join(strings.Split(dirs, ":")[0], "state.db")
	}
	return Global{
		Schedule: setting.TextOf(DefaultSchedule),
		Poll:     Poll{Concurrency: setting.CountOf(DefaultConcurrency)},
		Log:      Log{Level: setting.TextOf(DefaultLogLevel), Format: setting.TextOf(DefaultLogFormat)},
		State: State{Driver: setting.TextOf(store.DriverSQLite), Path: setting.Path{Name: state},
			DSN: setting.Secret{Spec: dsnSpec}, Retention: setting.DurationOf(DefaultRetention),
			IntegrityCheck: setting.IntervalOf(DefaultIntegrityCheck)},
		HTTP: HTTP{Addr: setting.TextOf(DefaultHTTPAddr)},
		Alerting: Alerting{RepeatCritical: setting.DurationOf(4 * time.Hour), RepeatWarning: setting.DurationOf(24 * time.Hour),
			RepeatInfo: setting.DurationOf(24 * time.Hour), ResolveAfter: setting.CountOf(DefaultResolveAfter)},
		Heartbeat: heartbeat.Defaults(),
	}
}

// Load reads a config from r. dir is the directory relative paths in the file
// are resolved against (the config file's directory). getenv looks up
// environment variables (os.LookupEnv in main, a map in tests); nil means
// os.LookupEnv.
//
// A config that does not load gives an *Error listing every problem; other
// errors (r failing) are returned as they are.
func Load(r io.Reader, dir string, getenv func(string) (string, bool), reads Secrets) (*Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	root, problems := setting.Parse(data)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	var env envOverrides
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target:   &env,
		Lookuper: envconfig.PrefixLookuper(EnvPrefix, envconfig.LookuperFunc(getenv)),
	}); err != nil {
		return nil, fmt.Errorf("read environment overrides: %w", err)
	}

	d := &setting.Decoder{Getenv: getenv, Dir: dir, Reads: reads}
	p := setting.NewProblems("")
	setting.CheckDuplicates(p, root)
	c := &Config{Global: defaults(d), Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions()}
	if setting.Shape(p, "", root, yaml.MappingNode) {
		d.Decode(p, root, &c.Global, setting.Options{Ignore: []string{"rules", "mailboxes", "accounts", "notifiers"}})
	}
	env.apply(d, &c.Global)
	c.validateGlobal(p)
	c.decodeRules(d, p, setting.Mapping(root, "rules"))
	c.decodeMailboxes(d, p, setting.Mapping(root, "mailboxes"))
	c.decodeAccounts(d, p, setting.Mapping(root, "accounts"))
	c.decodeNotifiers(d, p, setting.Mapping(root, "notifiers"))
	if ps := p.List(); len(ps) > 0 {
		return nil, &Error{Problems: finish(ps, root)}
	}
	return c, nil
}

// Secrets says which secrets a load reads, by the path of their setting
// ("notifiers[1].webhook_url_env"). One not read keeps only where it is
// kept: a command reads the secrets it uses, so that one that only reads
// the state needs none set.
type Secrets func(path string) bool

// AllSecrets reads every secret; NoSecrets none.
var (
	AllSecrets Secrets
	NoSecrets  Secrets = func(string) bool { return false }
)

// SecretsUnder reads the secrets set in the block at path ("accounts",
// "notifiers[1]") only.
func SecretsUnder(path string) Secrets {
	return func(p string) bool { return strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") }
}

// LoadFile loads the config file at path, resolving relative paths in it
// against the file's directory. If the file loads but is invalid, the *Error
// returned carries path in its File field.
func LoadFile(path string, getenv func(string) (string, bool), reads Secrets) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	c, err := Load(f, filepath.Dir(path), getenv, reads)
	if e, ok := errors.AsType[*Error](err); ok {
		e.File = path
	} else if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, err
}

// envOverrides are the settings the environment may override. A variable
// that is unset leaves the file's value alone. No field has a default= tag:
// defaults live in Go, below the file.
type envOverrides struct {
	Schedule  *string `env:"SCHEDULE, noinit"`
	LogLevel  *string `env:"LOG_LEVEL, noinit"`
	LogFormat *string `env:"LOG_FORMAT, noinit"`
	StatePath *string `env:"STATE_PATH, noinit"`
	HTTPAddr  *string `env:"HTTP_ADDR, noinit"`
}

// apply lays the environment over the file: each value set replaces the
// setting's, and problems with it name the variable.
func (e envOverrides) apply(d *setting.Decoder, g *Global) {
	text := func(v *string, name string, t *setting.Text) {
		if v != nil {
			t.S = *v
			t.FromEnv(EnvPrefix+name, *v)
		}
	}
	text(e.Schedule, "SCHEDULE", &g.Schedule)
	text(e.LogLevel, "LOG_LEVEL", &g.Log.Level)
	text(e.LogFormat, "LOG_FORMAT", &g.Log.Format)
	text(e.HTTPAddr, "HTTP_ADDR", &g.HTTP.Addr)
	if e.StatePath != nil {
		g.State.Path.Name = d.Resolve(*e.StatePath)
		g.State.Path.FromEnv(EnvPrefix+"STATE_PATH", *e.StatePath)
	}
}

// validateGlobal checks the global sections.
func (c *Config) validateGlobal(p *setting.Problems) {
	g := &c.Global
	if _, err := cron.ParseStandard(g.Schedule.S); err != nil {
		p.At(g.Schedule.Pos, "invalid cron schedule %q: %v", g.Schedule.S, err)
	}
	oneOf := func(t setting.Text, what string, want ...string) {
		for _, w := range want {
			if t.S == w {
				return
			}
		}
		p.At(t.Pos, "unknown %s %q (want %s)", what, t.S, setting.OrList(want))
	}
	for _, typ := range slices.Sorted(maps.Keys(g.Poll.PerProvider)) {
		if want := apiProviders(); !slices.Contains(want, typ) {
			hint := suggest.DidYouMean(typ, want)
			if hint == "" {
				hint = " (want " + setting.OrList(want) + ")"
			}
			p.At(g.Poll.PerProvider[typ].Pos, "unknown provider %q%s", typ, hint)
		}
	}
	oneOf(g.Log.Level, "level", "debug", "info", "warn", "error")
	oneOf(g.Log.Format, "format", "auto", "json", "console")
	if strings.TrimSpace(g.State.Path.Text) == "" && g.State.Path.IsSet() {
		p.At(g.State.Path.Pos, "must not be empty")
	}
	oneOf(g.State.Driver, "driver", store.Drivers...)
	switch g.State.Driver.S {
	case store.DriverPostgres:
		g.State.DSN.Need(p.In("state"), "driver postgres", "dsn")
		if g.State.Path.IsSet() {
			p.At(g.State.Path.Pos, "only applies with driver sqlite (the state is on PostgreSQL)")
		}
		if g.State.IntegrityCheck.IsSet() {
			p.At(g.State.IntegrityCheck.Pos, "only applies with driver sqlite (PostgreSQL checks its own pages)")
		}
		g.State.Path = setting.Path{} // no file: nothing may open one
	case store.DriverSQLite:
		if g.State.DSN.IsSet() {
			p.At(g.State.DSN.Pos, "only applies with driver postgres (the state is the SQLite file at path)")
		}
	}
	if a := strings.TrimSpace(g.HTTP.Addr.S); a != "off" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			p.At(g.HTTP.Addr.Pos, "invalid address %q: want host:port such as 127.0.0.1:9464, or off", a)
		}
		g.HTTP.Addr.S = a
	}
	g.Heartbeat.Validate(p.In("heartbeat"))
}

// decodeRules reads the rules section: the shared windows, then each rule's
// own block.
func (c *Config) decodeRules(d *setting.Decoder, p *setting.Problems, n *yaml.Node) {
	if !setting.Shape(p, "rules", n, yaml.MappingNode) {
		return
	}
	head := struct {
		BurnWindow  *setting.Duration `yaml:"burn_window"`
		MatchWindow *setting.Duration `yaml:"match_window"`
	}{&c.Params.BurnWindow, &setting.Duration{Duration: c.Ledger.MatchWindow}}
	var keys []string
	for _, r := range c.Params.Rules {
		keys = append(keys, rules.Key(r))
	}
	d.Decode(p.In("rules"), n, &head, setting.Options{Ignore: keys})
	c.Ledger.MatchWindow = head.MatchWindow.Duration
	for _, r := range c.Params.Rules {
		if len(setting.Keys(reflectType(r))) > 0 {
			if rn := setting.Mapping(n, rules.Key(r)); rn != nil {
				d.Decode(p.In("rules."+rules.Key(r)), rn, r, setting.Options{})
			}
		}
	}
}
