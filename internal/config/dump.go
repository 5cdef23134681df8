package config

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// Dump writes the effective config as YAML, in the file's schema, with
// defaults filled in, environment overrides applied and paths resolved. Every
// secret shows as "<secret>"; a slack notifier's webhook appears as
// webhook_url whatever it was read from, so the dump documents the config but
// does not load back as it is.
func (c *Config) Dump(w io.Writer) error {
	d := dumpConfig{
		Schedule: c.Schedule,
		Log:      dumpLog{Level: c.Log.Level, Format: c.Log.Format},
		Rules: dumpRules{
			BurnWindow:  duration(c.Params.BurnWindow),
			MatchWindow: duration(c.Ledger.MatchWindow),
			RechargeBurst: dumpRechargeBurst{
				Count:  c.Params.RechargeBurst.Count,
				Window: duration(c.Params.RechargeBurst.Window),
			},
			RechargeWhileGrantCredit: dumpRechargeWhileGrantCredit{
				MinGrantCredit: amountText(c.Params.RechargeWhileGrantCredit.MinGrantCredit),
				Lookback:       duration(c.Params.RechargeWhileGrantCredit.Lookback),
			},
			RechargeAboveThreshold: dumpRechargeAboveThreshold{
				Tolerance: amountText(c.Params.RechargeAboveThreshold.Tolerance),
				Lookback:  duration(c.Params.RechargeAboveThreshold.Lookback),
			},
			PhantomBalance: dumpPhantomBalance{MinDifference: amountText(c.Params.PhantomBalance.MinDifference)},
		},
	}
	p := c.Params
	d.Rules.DrawdownOrder = dumpDrawdownOrder{amountText(p.DrawdownOrder.MinIdleCredit), amountText(p.DrawdownOrder.MinDrawn), p.DrawdownOrder.MinPolls}
	d.Rules.ChargeWithoutCredit = dumpWindowLookback{duration(p.ChargeWithoutCredit.Window), duration(p.ChargeWithoutCredit.Lookback)}
	d.Rules.CreditsAccumulating = dumpCreditsAccumulating{duration(p.CreditsAccumulating.Window), p.CreditsAccumulating.MinRecharges,
		amountText(p.CreditsAccumulating.MinExcess), amountText(p.CreditsAccumulating.MinRatio)}
	d.Rules.SpendWithoutUsage = dumpSpendWithoutUsage{amountText(p.SpendWithoutUsage.Floor), amountText(p.SpendWithoutUsage.ZeroBelow),
		duration(p.SpendWithoutUsage.Lookback)}
	d.Rules.GrantExpiringUnused = dumpGrantExpiringUnused{duration(p.GrantExpiringUnused.Horizon), amountText(p.GrantExpiringUnused.MinLoss)}
	d.Rules.RunwayLow = dumpHorizon{duration(p.RunwayLow.Horizon)}
	d.Rules.SourceBlind = dumpPolls{p.SourceBlind.Polls}
	d.State = dumpState{Path: c.State.Path, Retention: duration(c.State.Retention)}
	d.HTTP = dumpHTTP{Addr: c.HTTP.Addr}
	if d.HTTP.Addr == "" {
		d.HTTP.Addr = "off"
	}
	d.Alerting = dumpAlerting{duration(c.Alerting.Repeat[billing.SeverityCritical]), duration(c.Alerting.Repeat[billing.SeverityWarning]),
		duration(c.Alerting.Repeat[billing.SeverityInfo]), c.Alerting.ResolveAfter}
	for _, a := range c.Accounts {
		ar := a.AutoRecharge
		da := dumpAccount{
			Name:         a.Name,
			Provider:     a.Provider,
			Currency:     string(a.Currency),
			Drawdown:     string(a.Drawdown),
			AutoRecharge: dumpAutoRecharge{Enabled: ar.Enabled, Mode: string(ar.Mode)},
			Source:       dumpSourceOf(a.Source),
		}
		if ar.Enabled || !ar.Threshold.IsZero() {
			da.AutoRecharge.Threshold = amountText(ar.Threshold.Amount())
		}
		if ar.Mode == billing.RechargeAdd || !ar.Amount.IsZero() {
			da.AutoRecharge.Amount = amountText(ar.Amount.Amount())
		}
		if ar.Mode == billing.RechargeRestore || !ar.Target.IsZero() {
			da.AutoRecharge.Target = amountText(ar.Target.Amount())
		}
		if ar.HasMonthlyLimit {
			da.AutoRecharge.MonthlyLimit = amountText(ar.MonthlyLimit.Amount())
		}
		if a.HasMonthlyCap {
			da.MonthlyCap = amountText(a.MonthlyCap.Amount())
		}
		d.Accounts = append(d.Accounts, da)
	}
	d.Notifiers = dumpNotifiers(c.Notifiers)

	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("dump config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("dump config: %w", err)
	}
	return nil
}

// amountText renders d exactly, keeping the decimal places it was written
// with: "5.00" stays "5.00", "12345678901234567.891" stays as it is.
func amountText(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

// duration renders d in Go syntax without zero tails: "168h", "2h30m".
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

type dumpConfig struct {
	Schedule  string         `yaml:"schedule"`
	Log       dumpLog        `yaml:"log"`
	Rules     dumpRules      `yaml:"rules"`
	Accounts  []dumpAccount  `yaml:"accounts"`
	Notifiers []dumpNotifier `yaml:"notifiers"`
	State     dumpState      `yaml:"state"`
	HTTP      dumpHTTP       `yaml:"http"`
	Alerting  dumpAlerting   `yaml:"alerting"`
}

type dumpState struct {
	Path      string `yaml:"path"`
	Retention string `yaml:"retention"`
}

type dumpHTTP struct {
	Addr string `yaml:"addr"`
}

type dumpAlerting struct {
	RepeatCritical string `yaml:"repeat_critical"`
	RepeatWarning  string `yaml:"repeat_warning"`
	RepeatInfo     string `yaml:"repeat_info"`
	ResolveAfter   int    `yaml:"resolve_after"`
}

type dumpDrawdownOrder struct {
	MinIdleCredit string `yaml:"min_idle_credit"`
	MinDrawn      string `yaml:"min_drawn"`
	MinPolls      int    `yaml:"min_polls"`
}

type dumpWindowLookback struct {
	Window   string `yaml:"window"`
	Lookback string `yaml:"lookback"`
}

type dumpCreditsAccumulating struct {
	Window       string `yaml:"window"`
	MinRecharges int    `yaml:"min_recharges"`
	MinExcess    string `yaml:"min_excess"`
	MinRatio     string `yaml:"min_ratio"`
}

type dumpSpendWithoutUsage struct {
	Floor     string `yaml:"floor"`
	ZeroBelow string `yaml:"zero_below"`
	Lookback  string `yaml:"lookback"`
}

type dumpGrantExpiringUnused struct {
	Horizon string `yaml:"horizon"`
	MinLoss string `yaml:"min_loss"`
}

type dumpHorizon struct {
	Horizon string `yaml:"horizon"`
}

type dumpPolls struct {
	Polls int `yaml:"polls"`
}

type dumpLog struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type dumpRules struct {
	BurnWindow               string                       `yaml:"burn_window"`
	MatchWindow              string                       `yaml:"match_window"`
	RechargeBurst            dumpRechargeBurst            `yaml:"recharge_burst"`
	RechargeWhileGrantCredit dumpRechargeWhileGrantCredit `yaml:"recharge_while_grant_credit"`
	RechargeAboveThreshold   dumpRechargeAboveThreshold   `yaml:"recharge_above_threshold"`
	PhantomBalance           dumpPhantomBalance           `yaml:"phantom_balance"`
	DrawdownOrder            dumpDrawdownOrder            `yaml:"drawdown_order"`
	ChargeWithoutCredit      dumpWindowLookback           `yaml:"charge_without_credit"`
	CreditsAccumulating      dumpCreditsAccumulating      `yaml:"credits_accumulating"`
	SpendWithoutUsage        dumpSpendWithoutUsage        `yaml:"spend_without_usage"`
	GrantExpiringUnused      dumpGrantExpiringUnused      `yaml:"grant_expiring_unused"`
	RunwayLow                dumpHorizon                  `yaml:"runway_low"`
	SourceBlind              dumpPolls                    `yaml:"source_blind"`
}

type dumpRechargeBurst struct {
	Count  int    `yaml:"count"`
	Window string `yaml:"window"`
}

type dumpRechargeWhileGrantCredit struct {
	MinGrantCredit string `yaml:"min_grant_credit"`
	Lookback       string `yaml:"lookback"`
}

type dumpRechargeAboveThreshold struct {
	Tolerance string `yaml:"tolerance"`
	Lookback  string `yaml:"lookback"`
}

type dumpPhantomBalance struct {
	MinDifference string `yaml:"min_difference"`
}

type dumpAccount struct {
	Name         string           `yaml:"name"`
	Provider     string           `yaml:"provider"`
	Currency     string           `yaml:"currency"`
	Drawdown     string           `yaml:"drawdown"`
	AutoRecharge dumpAutoRecharge `yaml:"auto_recharge"`
	MonthlyCap   string           `yaml:"monthly_cap,omitempty"`
	Source       dumpSource       `yaml:"source"`
}

type dumpAutoRecharge struct {
	Enabled      bool   `yaml:"enabled"`
	Threshold    string `yaml:"threshold,omitempty"`
	Mode         string `yaml:"mode,omitempty"`
	Amount       string `yaml:"amount,omitempty"`
	Target       string `yaml:"target,omitempty"`
	MonthlyLimit string `yaml:"monthly_limit,omitempty"`
}

// dumpSource names where each credential is read from, never the
// credential: a dump shows admin_key_env: OPENAI_ADMIN_KEY.
type dumpSource struct {
	Type              string `yaml:"type"`
	Path              string `yaml:"path,omitempty"`
	BaseURL           string `yaml:"base_url,omitempty"`
	AdminKeyEnv       string `yaml:"admin_key_env,omitempty"`
	AdminKeyFile      string `yaml:"admin_key_file,omitempty"`
	SessionKeyEnv     string `yaml:"session_key_env,omitempty"`
	SessionKeyFile    string `yaml:"session_key_file,omitempty"`
	APIKeyEnv         string `yaml:"api_key_env,omitempty"`
	APIKeyFile        string `yaml:"api_key_file,omitempty"`
	ManagementKeyEnv  string `yaml:"management_key_env,omitempty"`
	ManagementKeyFile string `yaml:"management_key_file,omitempty"`
	Timeout           string `yaml:"timeout,omitempty"`
	MaxRequests       int    `yaml:"max_requests,omitempty"`
	CostLookback      string `yaml:"cost_lookback,omitempty"`
}

func dumpSourceOf(s Source) dumpSource {
	d := dumpSource{
		Type:              s.Type,
		Path:              s.Path,
		BaseURL:           s.BaseURL,
		AdminKeyEnv:       s.AdminKey.Env,
		AdminKeyFile:      s.AdminKey.File,
		SessionKeyEnv:     s.SessionKey.Env,
		SessionKeyFile:    s.SessionKey.File,
		APIKeyEnv:         s.APIKey.Env,
		APIKeyFile:        s.APIKey.File,
		ManagementKeyEnv:  s.ManagementKey.Env,
		ManagementKeyFile: s.ManagementKey.File,
		MaxRequests:       s.MaxRequests,
	}
	if s.Timeout > 0 {
		d.Timeout = duration(s.Timeout)
	}
	if s.CostLookback > 0 {
		d.CostLookback = duration(s.CostLookback)
	}
	return d
}
