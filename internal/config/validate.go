package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/rules"
	"github.com/robfig/cron/v3"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// providers are the provider names an account may have.
var providers = []string{"openai", "anthropic", "deepseek", "openrouter", "other"}

const (
	wantProviders = "want openai, anthropic, deepseek, openrouter or other"
	wantLevels    = "want debug, info, warn or error"
	wantFormats   = "want auto, json or console"
)

// validator turns the decoded file and environment overrides into a Config,
// collecting every problem on the way.
type validator struct {
	dir      string
	getenv   func(string) (string, bool)
	root     *yaml.Node
	problems []*Problem
}

// add records a problem with the setting at path: a YAML path, or an
// environment variable's name.
func (v *validator) add(path, format string, args ...any) {
	line := 0
	if !strings.HasPrefix(path, EnvPrefix) {
		line = lineOf(v.root, path)
	}
	v.problems = append(v.problems, &Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// sorted returns the problems in file order; those from the environment come
// last.
func (v *validator) sorted() []*Problem {
	sortProblems(v.problems)
	return v.problems
}

func (v *validator) config(fc *fileConfig, env *envOverrides) *Config {
	c := &Config{
		Schedule: DefaultSchedule,
		Log:      Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Params:   rules.DefaultParams(),
		Ledger:   ledger.DefaultOptions(),
	}

	if s, path, ok := layered(fc.Schedule, "schedule", env.Schedule, "SCHEDULE"); ok {
		if _, err := cron.ParseStandard(s); err != nil {
			v.add(path, "invalid cron schedule %q: %v", s, err)
		}
		c.Schedule = s
	}
	if s, path, ok := layered(fc.Log.Level, "log.level", env.LogLevel, "LOG_LEVEL"); ok {
		switch s {
		case "debug", "info", "warn", "error":
		default:
			v.add(path, "unknown level %q (%s)", s, wantLevels)
		}
		c.Log.Level = s
	}
	if s, path, ok := layered(fc.Log.Format, "log.format", env.LogFormat, "LOG_FORMAT"); ok {
		switch s {
		case "auto", "json", "console":
		default:
			v.add(path, "unknown format %q (%s)", s, wantFormats)
		}
		c.Log.Format = s
	}

	v.rules(&fc.Rules, &c.Params, &c.Ledger)
	v.moreRules(&fc.Rules, &c.Params)
	v.stateAndAlerting(fc, env, c)

	if len(fc.Accounts) == 0 {
		v.add("accounts", "at least one account is required")
	}
	accountNames := make(map[string]bool)
	for i := range fc.Accounts {
		c.Accounts = append(c.Accounts, v.account(&fc.Accounts[i], fmt.Sprintf("accounts[%d]", i), accountNames))
	}
	c.Notifiers = v.notifiers(fc.Notifiers, accountNames, c.Alerting)
	return c
}

// layered picks the environment's value over the file's, and says which path
// to name in errors.
func layered(file scalar, path string, env *string, name string) (value, where string, ok bool) {
	if env != nil {
		return *env, EnvPrefix + name, true
	}
	return file.text, path, file.set
}

func (v *validator) rules(r *fileRules, p *rules.Params, l *ledger.Options) {
	v.duration(r.BurnWindow, "rules.burn_window", &p.BurnWindow)
	v.duration(r.MatchWindow, "rules.match_window", &l.MatchWindow)

	v.count(r.RechargeBurst.Count, "rules.recharge_burst.count", 2, &p.RechargeBurst.Count)
	v.duration(r.RechargeBurst.Window, "rules.recharge_burst.window", &p.RechargeBurst.Window)

	v.amount(r.RechargeWhileGrantCredit.MinGrantCredit, "rules.recharge_while_grant_credit.min_grant_credit",
		&p.RechargeWhileGrantCredit.MinGrantCredit)
	v.duration(r.RechargeWhileGrantCredit.Lookback, "rules.recharge_while_grant_credit.lookback",
		&p.RechargeWhileGrantCredit.Lookback)

	v.amount(r.RechargeAboveThreshold.Tolerance, "rules.recharge_above_threshold.tolerance",
		&p.RechargeAboveThreshold.Tolerance)
	v.duration(r.RechargeAboveThreshold.Lookback, "rules.recharge_above_threshold.lookback",
		&p.RechargeAboveThreshold.Lookback)

	v.amount(r.PhantomBalance.MinDifference, "rules.phantom_balance.min_difference", &p.PhantomBalance.MinDifference)
}

// reporter records a problem with the field at path (absolute for the
// validator, relative to an account or notifier for their closures).
type reporter func(path, format string, args ...any)

// duration sets *dst from s if s is set and is a positive Go duration.
func (v *validator) duration(s scalar, path string, dst *time.Duration) {
	setDuration(s, path, `"6h"`, dst, v.add)
}

// setDuration sets *dst from s if s is set and is a Go duration above 0;
// example is the syntax the error suggests.
func setDuration(s scalar, path, example string, dst *time.Duration, add reporter) {
	if !s.set {
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(s.text))
	switch {
	case err != nil:
		add(path, "invalid duration %q (use Go syntax such as %s)", s.text, example)
	case d <= 0:
		add(path, "must be greater than 0 (got %s)", s.text)
	default:
		*dst = d
	}
}

// setCount sets *dst from s if s is set and is a whole number from lo to hi
// (hi below lo: no upper bound).
func setCount(s scalar, path string, lo, hi int, dst *int, add reporter) {
	if !s.set {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(s.text))
	switch {
	case err != nil:
		add(path, "invalid whole number %q", s.text)
	case hi < lo && n < lo:
		add(path, "must be at least %d (got %s)", lo, s.text)
	case hi >= lo && (n < lo || n > hi):
		add(path, "must be between %d and %d (got %s)", lo, hi, s.text)
	default:
		*dst = n
	}
}

// amount sets *dst from s if s is set and is a decimal that is not negative.
func (v *validator) amount(s scalar, path string, dst *decimal.Decimal) {
	if !s.set {
		return
	}
	d, err := billing.ParseAmount(s.text)
	switch {
	case err != nil:
		v.add(path, "%v", err)
	case d.IsNegative():
		v.add(path, "must not be negative (got %s)", s.text)
	default:
		*dst = d
	}
}

func (v *validator) account(fa *fileAccount, prefix string, seen map[string]bool) Account {
	var a Account
	// reported holds the paths (relative to the account) with a problem
	// already, so billing.Account.Validate does not report them twice.
	reported := make(map[string]bool)
	add := func(rel, format string, args ...any) {
		reported[rel] = true
		v.add(prefix+"."+rel, format, args...)
	}

	if !fa.Name.set {
		add("name", "is required")
	} else if a.Name = fa.Name.text; a.Name != "" {
		if seen[a.Name] {
			add("name", "duplicate account name %q", a.Name)
		}
		seen[a.Name] = true
	}

	if !fa.Provider.set {
		add("provider", "is required (%s)", wantProviders)
	} else if a.Provider = fa.Provider.text; a.Provider != "" && !slices.Contains(providers, a.Provider) {
		add("provider", "unknown provider %q (%s)", a.Provider, wantProviders)
	}

	if !fa.Currency.set {
		add("currency", "is required (a three-letter ISO 4217 code such as USD)")
	} else if cur, err := billing.ParseCurrency(fa.Currency.text); err != nil {
		add("currency", "%v", err)
	} else {
		a.Currency = cur
	}

	if !fa.Drawdown.set {
		add("drawdown", "is required (want expiring-first or grants-first)")
	} else if d, err := billing.ParseDrawdownPolicy(fa.Drawdown.text); err != nil {
		add("drawdown", "%v", err)
	} else {
		a.Drawdown = d
	}

	if fa.AutoRecharge == nil {
		add("auto_recharge", "is required (write enabled: false if the account has none)")
	} else {
		v.autoRecharge(fa.AutoRecharge, &a.Account, add)
	}

	if fa.MonthlyCap.set {
		if m, err := billing.ParseMoney(fa.MonthlyCap.text, a.Currency); err != nil {
			add("monthly_cap", "%v", err)
		} else {
			a.MonthlyCap, a.HasMonthlyCap = m, true
		}
	}

	for _, fe := range a.Account.Validate() {
		if !reported[fe.Path] {
			v.add(prefix+"."+fe.Path, "%s", fe.Msg)
		}
	}

	if fa.Source == nil {
		add("source", "is required")
	} else {
		a.Source = v.source(fa.Source, &a.Account, add)
	}
	return a
}

func (v *validator) autoRecharge(far *fileAutoRecharge, a *billing.Account, add func(rel, format string, args ...any)) {
	ar := &a.AutoRecharge
	switch s := far.Enabled; {
	case !s.set:
		add("auto_recharge.enabled", "is required (true or false)")
	case strings.EqualFold(s.text, "true"):
		ar.Enabled = true
	case strings.EqualFold(s.text, "false"):
	default:
		add("auto_recharge.enabled", "invalid boolean %q (want true or false)", s.text)
	}

	money := func(s scalar, rel string, dst *billing.Money) bool {
		if !s.set {
			return false
		}
		m, err := billing.ParseMoney(s.text, a.Currency)
		if err != nil {
			add(rel, "%v", err)
			return false
		}
		*dst = m
		return true
	}
	money(far.Threshold, "auto_recharge.threshold", &ar.Threshold)
	if ar.Enabled && !far.Threshold.set {
		add("auto_recharge.threshold", "is required when auto-recharge is enabled")
	}

	if far.Mode.set {
		if m, err := billing.ParseRechargeMode(far.Mode.text); err != nil {
			add("auto_recharge.mode", "%v", err)
		} else {
			ar.Mode = m
		}
	} else if ar.Enabled {
		add("auto_recharge.mode", "is required when auto-recharge is enabled (want add or restore)")
	}

	money(far.Amount, "auto_recharge.amount", &ar.Amount)
	if ar.Enabled && ar.Mode == billing.RechargeAdd && !far.Amount.set {
		add("auto_recharge.amount", "is required in add mode")
	}
	money(far.Target, "auto_recharge.target", &ar.Target)
	if ar.Enabled && ar.Mode == billing.RechargeRestore && !far.Target.set {
		add("auto_recharge.target", "is required in restore mode")
	}
	ar.HasMonthlyLimit = money(far.MonthlyLimit, "auto_recharge.monthly_limit", &ar.MonthlyLimit)
}

// resolve makes a path from the file absolute, or relative to the config's
// directory.
func (v *validator) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

// pathError renders a file error with the path as the user wrote it, not as
// resolved: "open examples/nope.json: no such file or directory".
func pathError(op, written string, err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return op + " " + written + ": " + pe.Err.Error()
	}
	return err.Error()
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
