package config

import (
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/rules"
)

// Defaults of the state, http and alerting sections.
const (
	DefaultStateFile    = "guardd-state.db"
	DefaultRetention    = 400 * 24 * time.Hour
	DefaultHTTPAddr     = "127.0.0.1:9464"
	DefaultResolveAfter = 2
)

// DefaultRepeat is how long a firing alert waits before it is sent again,
// per severity.
var DefaultRepeat = map[billing.Severity]time.Duration{
	billing.SeverityCritical: 4 * time.Hour,
	billing.SeverityWarning:  24 * time.Hour,
	billing.SeverityInfo:     24 * time.Hour,
}

// State says where guardd keeps its database and for how long.
type State struct {
	// Path of the SQLite database. Default: $STATE_DIRECTORY/state.db under
	// systemd, else guardd-state.db beside the config file.
	Path      string
	Retention time.Duration
}

// HTTP is the metrics and health endpoint of guardd run.
type HTTP struct {
	// Addr is host:port, or "" when the endpoint is off.
	Addr string
}

// Alerting tunes the alert lifecycle.
type Alerting struct {
	// Repeat is how long a firing alert waits before it is sent again.
	Repeat map[billing.Severity]time.Duration
	// ResolveAfter is how many evaluations in a row a finding must be absent
	// before its alert resolves, so a flapping condition does not resolve
	// and fire again on every poll.
	ResolveAfter int
}

type fileState struct {
	Path      scalar `yaml:"path"`
	Retention scalar `yaml:"retention"`
}

type fileHTTP struct {
	Addr scalar `yaml:"addr"`
}

type fileAlerting struct {
	RepeatCritical scalar `yaml:"repeat_critical"`
	RepeatWarning  scalar `yaml:"repeat_warning"`
	RepeatInfo     scalar `yaml:"repeat_info"`
	ResolveAfter   scalar `yaml:"resolve_after"`
}

type fileDrawdownOrder struct {
	MinIdleCredit scalar `yaml:"min_idle_credit"`
	MinDrawn      scalar `yaml:"min_drawn"`
	MinPolls      scalar `yaml:"min_polls"`
}

type fileChargeWithoutCredit struct {
	Window   scalar `yaml:"window"`
	Lookback scalar `yaml:"lookback"`
}

type fileCreditsAccumulating struct {
	Window       scalar `yaml:"window"`
	MinRecharges scalar `yaml:"min_recharges"`
	MinExcess    scalar `yaml:"min_excess"`
	MinRatio     scalar `yaml:"min_ratio"`
}

type fileSpendWithoutUsage struct {
	Floor     scalar `yaml:"floor"`
	ZeroBelow scalar `yaml:"zero_below"`
	Lookback  scalar `yaml:"lookback"`
}

type fileGrantExpiringUnused struct {
	Horizon scalar `yaml:"horizon"`
	MinLoss scalar `yaml:"min_loss"`
}

type fileRunwayLow struct {
	Horizon scalar `yaml:"horizon"`
}

type fileSourceBlind struct {
	Polls scalar `yaml:"polls"`
}

// count sets *dst from s if s is a whole number of at least least.
func (v *validator) count(s scalar, path string, least int, dst *int) {
	setCount(s, path, least, least-1, dst, v.add)
}

// moreRules reads the parameters of the rules added after the first four.
func (v *validator) moreRules(r *fileRules, p *rules.Params) {
	v.amount(r.DrawdownOrder.MinIdleCredit, "rules.drawdown_order.min_idle_credit", &p.DrawdownOrder.MinIdleCredit)
	v.amount(r.DrawdownOrder.MinDrawn, "rules.drawdown_order.min_drawn", &p.DrawdownOrder.MinDrawn)
	v.count(r.DrawdownOrder.MinPolls, "rules.drawdown_order.min_polls", 1, &p.DrawdownOrder.MinPolls)
	v.duration(r.ChargeWithoutCredit.Window, "rules.charge_without_credit.window", &p.ChargeWithoutCredit.Window)
	v.duration(r.ChargeWithoutCredit.Lookback, "rules.charge_without_credit.lookback", &p.ChargeWithoutCredit.Lookback)
	v.duration(r.CreditsAccumulating.Window, "rules.credits_accumulating.window", &p.CreditsAccumulating.Window)
	v.count(r.CreditsAccumulating.MinRecharges, "rules.credits_accumulating.min_recharges", 1, &p.CreditsAccumulating.MinRecharges)
	v.amount(r.CreditsAccumulating.MinExcess, "rules.credits_accumulating.min_excess", &p.CreditsAccumulating.MinExcess)
	v.amount(r.CreditsAccumulating.MinRatio, "rules.credits_accumulating.min_ratio", &p.CreditsAccumulating.MinRatio)
	v.amount(r.SpendWithoutUsage.Floor, "rules.spend_without_usage.floor", &p.SpendWithoutUsage.Floor)
	v.amount(r.SpendWithoutUsage.ZeroBelow, "rules.spend_without_usage.zero_below", &p.SpendWithoutUsage.ZeroBelow)
	v.duration(r.SpendWithoutUsage.Lookback, "rules.spend_without_usage.lookback", &p.SpendWithoutUsage.Lookback)
	v.duration(r.GrantExpiringUnused.Horizon, "rules.grant_expiring_unused.horizon", &p.GrantExpiringUnused.Horizon)
	v.amount(r.GrantExpiringUnused.MinLoss, "rules.grant_expiring_unused.min_loss", &p.GrantExpiringUnused.MinLoss)
	v.duration(r.RunwayLow.Horizon, "rules.runway_low.horizon", &p.RunwayLow.Horizon)
	v.count(r.SourceBlind.Polls, "rules.source_blind.polls", 1, &p.SourceBlind.Polls)
}

// stateAndAlerting reads the state, http and alerting sections with their
// environment overrides.
func (v *validator) stateAndAlerting(fc *fileConfig, env *envOverrides, c *Config) {
	c.State = State{Retention: DefaultRetention}
	if s, path, ok := layered(fc.State.Path, "state.path", env.StatePath, "STATE_PATH"); ok {
		if strings.TrimSpace(s) == "" {
			v.add(path, "must not be empty")
		}
		c.State.Path = v.resolve(s)
	} else if dirs, ok := v.getenv("STATE_DIRECTORY"); ok && dirs != "" {
		// systemd's StateDirectory= (several are separated by colons).
		c.State.Path = filepath.Join(strings.Split(dirs, ":")[0], "state.db")
	} else {
		c.State.Path = v.resolve(DefaultStateFile)
	}
	v.duration(fc.State.Retention, "state.retention", &c.State.Retention)

	c.HTTP = HTTP{Addr: DefaultHTTPAddr}
	if s, path, ok := layered(fc.HTTP.Addr, "http.addr", env.HTTPAddr, "HTTP_ADDR"); ok {
		switch s = strings.TrimSpace(s); {
		case s == "off":
			c.HTTP.Addr = ""
		default:
			if _, _, err := net.SplitHostPort(s); err != nil {
				v.add(path, "invalid address %q: want host:port such as 127.0.0.1:9464, or off", s)
			}
			c.HTTP.Addr = s
		}
	}

	c.Alerting = Alerting{Repeat: make(map[billing.Severity]time.Duration), ResolveAfter: DefaultResolveAfter}
	for sev, d := range DefaultRepeat {
		c.Alerting.Repeat[sev] = d
	}
	for _, r := range []struct {
		s   scalar
		sev billing.Severity
	}{
		{fc.Alerting.RepeatCritical, billing.SeverityCritical},
		{fc.Alerting.RepeatWarning, billing.SeverityWarning},
		{fc.Alerting.RepeatInfo, billing.SeverityInfo},
	} {
		d := c.Alerting.Repeat[r.sev]
		v.duration(r.s, "alerting.repeat_"+string(r.sev), &d)
		c.Alerting.Repeat[r.sev] = d
	}
	v.count(fc.Alerting.ResolveAfter, "alerting.resolve_after", 1, &c.Alerting.ResolveAfter)
}
