package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/email"
	"github.com/guardd/guardd/internal/alert/pagerduty"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/webhook"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// minimal is the least valid config; tests append to it or replace parts.
const minimal = `
accounts:
  - name: acme
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: file, path: source.json}
`

// load loads text with relative paths resolved against testdata.
func load(t *testing.T, text string, env map[string]string) (*Config, error) {
	t.Helper()
	return Load(strings.NewReader(text), "testdata", mapEnv(env), AllSecrets)
}

func mustLoad(t *testing.T, text string, env map[string]string) *Config {
	t.Helper()
	c, err := load(t, text, env)
	if err != nil {
		t.Fatalf("Load: got error\n%v\nwant none", err)
	}
	return c
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, minimal, nil)
	if got, want := c.Schedule.S, DefaultSchedule; got != want {
		t.Errorf("Schedule: got %q, want %q", got, want)
	}
	if got, want := logOf(c), [2]string{"info", "auto"}; got != want {
		t.Errorf("Log: got %+v, want %+v", got, want)
	}
	if got, want := c.Ledger, ledger.DefaultOptions(); got != want {
		t.Errorf("Ledger: got %+v, want %+v", got, want)
	}
	checkParams(t, c.Params, rules.DefaultParams())
	if len(c.Notifiers) != 0 {
		t.Errorf("Notifiers: got %+v, want none", c.Notifiers)
	}
}

// logOf is the level and format of c's log section.
func logOf(c *Config) [2]string { return [2]string{c.Log.Level.S, c.Log.Format.S} }

// checkParams compares the burn window and every rule's parameters, as a
// dump shows them (durations, counts and exact amounts).
func checkParams(t *testing.T, got, want rules.Params) {
	t.Helper()
	if got.BurnWindow.Duration != want.BurnWindow.Duration {
		t.Errorf("Params.BurnWindow: got %v, want %v", got.BurnWindow.Duration, want.BurnWindow.Duration)
	}
	if len(got.Rules) != len(want.Rules) {
		t.Fatalf("Params.Rules: got %d rules, want %d", len(got.Rules), len(want.Rules))
	}
	for i := range got.Rules {
		g, w := rulesText(t, got.Rules[i]), rulesText(t, want.Rules[i])
		if got.Rules[i].Name() != want.Rules[i].Name() || g != w {
			t.Errorf("Params.Rules[%d]: got %s %s, want %s %s", i, got.Rules[i].Name(), g, want.Rules[i].Name(), w)
		}
	}
}

// rulesText renders a rule's parameters as YAML, amounts normalised
// ("1.00" as "1").
func rulesText(t *testing.T, r rules.Rule) string {
	t.Helper()
	n := setting.Encode(r)
	for _, c := range n.Content {
		if d, err := decimal.NewFromString(c.Value); err == nil && c.Tag == "!!str" {
			c.Value = d.String()
		}
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ruleOf returns p's rule of type T.
func ruleOf[T rules.Rule](t *testing.T, p rules.Params) T {
	t.Helper()
	for _, r := range p.Rules {
		if r, ok := r.(T); ok {
			return r
		}
	}
	var zero T
	t.Fatalf("no rule of type %T", zero)
	return zero
}

func checkMoney(t *testing.T, name string, got billing.Money, want string, cur billing.Currency) {
	t.Helper()
	if !got.Amount().Equal(dec(t, want)) || got.Currency() != cur {
		t.Errorf("%s: got %s %s, want %s %s", name, got.Exact(), got.Currency(), want, cur)
	}
}

func TestGoodConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"hourly.json", "cny.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const fileURL = "https://hooks.slack.com/services/T01/B02/from-file"
	if err := os.WriteFile(filepath.Join(dir, "slack-webhook"), []byte("\n  "+fileURL+"  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const envURL = "https://hooks.slack.com/services/T01/B02/from-env"
	abs := filepath.Join(dir, "cny.json")

	text := `
schedule: "@every 5m"
log: {level: debug, format: json}
rules:
  burn_window: 72h
  match_window: 90m
  recharge_burst: {count: 4, window: 12h}
  recharge_while_grant_credit: {min_grant_credit: "2.50", lookback: 48h}
  recharge_above_threshold: {tolerance: 0.25, lookback: 36h}
  phantom_balance: {min_difference: "3"}
accounts:
  - name: acme-openai
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge:
      enabled: true
      threshold: "5.00"
      mode: add
      amount: "10.00"
      monthly_limit: "200.00"
    source: {type: file, path: hourly.json}
  - name: acme-deepseek
    provider: deepseek
    currency: cny
    drawdown: grants-first
    auto_recharge:
      enabled: true
      threshold: 5.10
      mode: restore
      target: 12345678901234567.891
    source: {type: file, path: ` + abs + `}
  - name: acme-anthropic
    provider: anthropic
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: file, path: ./hourly.json}
notifiers:
  - {name: console, type: stdout}
  - name: from-env
    type: slack
    min_severity: warning
    webhook_url_env: MY_SLACK
  - name: from-file
    type: slack
    min_severity: critical
    webhook_url_file: slack-webhook
`
	c, err := Load(strings.NewReader(text), dir, mapEnv(map[string]string{"MY_SLACK": " " + envURL + "\n"}), AllSecrets)
	if err != nil {
		t.Fatalf("Load: got error\n%v\nwant none", err)
	}

	if got, want := c.Schedule.S, "@every 5m"; got != want {
		t.Errorf("Schedule: got %q, want %q", got, want)
	}
	if got, want := logOf(c), [2]string{"debug", "json"}; got != want {
		t.Errorf("Log: got %+v, want %+v", got, want)
	}
	if got, want := c.Ledger.MatchWindow, 90*time.Minute; got != want {
		t.Errorf("Ledger.MatchWindow: got %v, want %v", got, want)
	}
	want := rules.DefaultParams()
	want.BurnWindow = setting.DurationOf(72 * time.Hour)
	burst := ruleOf[*rules.RechargeBurst](t, want)
	burst.Count, burst.Window = setting.CountOf(4), setting.DurationOf(12*time.Hour)
	rwgc := ruleOf[*rules.RechargeWhileGrantCredit](t, want)
	rwgc.MinGrantCredit, rwgc.Lookback = setting.AmountOf(dec(t, "2.50")), setting.DurationOf(48*time.Hour)
	rat := ruleOf[*rules.RechargeAboveThreshold](t, want)
	rat.Tolerance, rat.Lookback = setting.AmountOf(dec(t, "0.25")), setting.DurationOf(36*time.Hour)
	ruleOf[*rules.PhantomBalance](t, want).MinDifference = setting.AmountOf(dec(t, "3"))
	checkParams(t, c.Params, want)

	if got, want := len(c.Accounts), 3; got != want {
		t.Fatalf("len(Accounts): got %d, want %d", got, want)
	}
	a := c.Accounts[0]
	if a.Name != "acme-openai" || a.Provider != "openai" || a.Currency != "USD" || a.Drawdown != billing.DrawdownExpiringFirst {
		t.Errorf("Accounts[0]: got %s/%s/%s/%s, want acme-openai/openai/USD/expiring-first", a.Name, a.Provider, a.Currency, a.Drawdown)
	}
	ar := a.AutoRecharge
	if !ar.Enabled || ar.Mode != billing.RechargeAdd || !ar.HasMonthlyLimit {
		t.Errorf("Accounts[0].AutoRecharge: got enabled %v mode %q has limit %v, want true add true", ar.Enabled, ar.Mode, ar.HasMonthlyLimit)
	}
	checkMoney(t, "Accounts[0].AutoRecharge.Threshold", ar.Threshold, "5", "USD")
	checkMoney(t, "Accounts[0].AutoRecharge.Amount", ar.Amount, "10", "USD")
	checkMoney(t, "Accounts[0].AutoRecharge.MonthlyLimit", ar.MonthlyLimit, "200", "USD")
	if got, want := sourceOf(a), "file "+filepath.Join(dir, "hourly.json"); got != want {
		t.Errorf("Accounts[0].Source: got %s, want %s", got, want)
	}

	b := c.Accounts[1]
	if b.Currency != "CNY" || b.Drawdown != billing.DrawdownGrantsFirst || b.AutoRecharge.Mode != billing.RechargeRestore {
		t.Errorf("Accounts[1]: got currency %s drawdown %s mode %s, want CNY grants-first restore", b.Currency, b.Drawdown, b.AutoRecharge.Mode)
	}
	// Bare YAML numbers keep their exact decimal text.
	checkMoney(t, "Accounts[1].AutoRecharge.Threshold", b.AutoRecharge.Threshold, "5.10", "CNY")
	checkMoney(t, "Accounts[1].AutoRecharge.Target", b.AutoRecharge.Target, "12345678901234567.891", "CNY")
	if got, want := b.AutoRecharge.Target.Exact(), "12345678901234567.891"; got != want {
		t.Errorf("Accounts[1].AutoRecharge.Target.Exact(): got %s, want %s", got, want)
	}
	if b.AutoRecharge.HasMonthlyLimit {
		t.Errorf("Accounts[1].AutoRecharge.HasMonthlyLimit: got true, want false")
	}
	if got, want := b.Source.Config.(*file.Config).Path.Name, abs; got != want {
		t.Errorf("Accounts[1].Source.Path: got %q, want %q (absolute paths stay)", got, want)
	}
	if c.Accounts[2].AutoRecharge.Enabled {
		t.Errorf("Accounts[2].AutoRecharge.Enabled: got true, want false")
	}

	wantNotifiers := []struct {
		name, typ string
		sev       billing.Severity
		url       string
	}{
		{"console", "stdout", billing.SeverityInfo, ""},
		{"from-env", "slack", billing.SeverityWarning, envURL},
		{"from-file", "slack", billing.SeverityCritical, fileURL},
	}
	if got, want := len(c.Notifiers), len(wantNotifiers); got != want {
		t.Fatalf("len(Notifiers): got %d, want %d", got, want)
	}
	for i, w := range wantNotifiers {
		n := c.Notifiers[i]
		if n.Name != w.name || n.Type != w.typ || n.MinSeverity != w.sev || webhookURL(n) != w.url {
			t.Errorf("Notifiers[%d]: got %s/%s/%s/%q, want %s/%s/%s/%q",
				i, n.Name, n.Type, n.MinSeverity, webhookURL(n), w.name, w.typ, w.sev, w.url)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	file := `
schedule: "0 * * * *"
log: {level: warn, format: console}
` + minimal
	tests := []struct {
		name     string
		env      map[string]string
		schedule string
		log      [2]string
	}{
		{"file only", nil, "0 * * * *", [2]string{"warn", "console"}},
		{"env replaces file", map[string]string{
			"GUARDD_SCHEDULE":   "@every 1m",
			"GUARDD_LOG_LEVEL":  "debug",
			"GUARDD_LOG_FORMAT": "json",
		}, "@every 1m", [2]string{"debug", "json"}},
		{"one variable", map[string]string{"GUARDD_LOG_LEVEL": "error"}, "0 * * * *", [2]string{"error", "console"}},
		{"empty variable leaves the file's value", map[string]string{"GUARDD_SCHEDULE": ""}, "0 * * * *", [2]string{"warn", "console"}},
		{"unprefixed names are ignored", map[string]string{"SCHEDULE": "@hourly", "LOG_LEVEL": "debug"},
			"0 * * * *", [2]string{"warn", "console"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, file, tt.env)
			if c.Schedule.S != tt.schedule {
				t.Errorf("Schedule: got %q, want %q", c.Schedule.S, tt.schedule)
			}
			if logOf(c) != tt.log {
				t.Errorf("Log: got %+v, want %+v", logOf(c), tt.log)
			}
		})
	}

	t.Run("env over defaults", func(t *testing.T) {
		c := mustLoad(t, minimal, map[string]string{"GUARDD_SCHEDULE": "@hourly"})
		if got, want := c.Schedule.S, "@hourly"; got != want {
			t.Errorf("Schedule: got %q, want %q", got, want)
		}
	})
}

// TestExplicitFalseStays guards against go-envconfig's default= pitfall: an
// explicit zero in the file must survive the environment layer.
func TestExplicitFalseStays(t *testing.T) {
	env := map[string]string{"GUARDD_SCHEDULE": "@hourly", "GUARDD_LOG_LEVEL": "debug"}
	c := mustLoad(t, minimal, env)
	if c.Accounts[0].AutoRecharge.Enabled {
		t.Errorf("AutoRecharge.Enabled: got true, want false (as the file says)")
	}
}

func TestAmountsExact(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{`5.10`, "5.10"},
		{`"5.10"`, "5.10"},
		{`12345678901234567.891`, "12345678901234567.891"},
		{`0.1`, "0.1"},
		{`7`, "7"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			text := strings.Replace(minimal, "auto_recharge: {enabled: false}",
				"auto_recharge: {enabled: true, mode: add, amount: \"1\", threshold: "+tt.yaml+"}", 1)
			c := mustLoad(t, text, nil)
			got := c.Accounts[0].AutoRecharge.Threshold
			if !got.Amount().Equal(dec(t, tt.want)) {
				t.Errorf("Threshold: got %s, want %s", got.Exact(), tt.want)
			}
			if got, want := got.Amount().StringFixed(3), dec(t, tt.want).StringFixed(3); got != want {
				t.Errorf("Threshold to 3 places: got %s, want %s", got, want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	t.Run("missing file names the path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := LoadFile(path, mapEnv(nil), AllSecrets)
		if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadFile(%s): got %v, want an error naming the path that is os.ErrNotExist", path, err)
		}
	})
	t.Run("paths resolve against the file's directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "source.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "guardd.yaml")
		if err := os.WriteFile(path, []byte(minimal), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadFile(path, mapEnv(nil), AllSecrets)
		if err != nil {
			t.Fatalf("LoadFile: got error %v, want none", err)
		}
		if got, want := sourceOf(c.Accounts[0]), "file "+filepath.Join(dir, "source.json"); got != want {
			t.Errorf("Source.Path: got %q, want %q", got, want)
		}
	})
	t.Run("problems are prefixed with the path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "guardd.yaml")
		if err := os.WriteFile(path, []byte("log: {level: loud}\nfoo: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFile(path, mapEnv(nil), AllSecrets)
		want := path + `: line 2: unknown key "foo"`
		if err == nil || err.Error() != want {
			t.Errorf("LoadFile: got %v, want %s", err, want)
		}
		e, ok := errors.AsType[*Error](err)
		if !ok || e.File != path || len(e.Problems) != 1 || e.Problems[0].Line != 2 {
			t.Errorf("LoadFile: got %#v, want *Error with File %s and one problem at line 2", err, path)
		}
	})
}

// TestExample loads config.example.yaml from the repository root, as
// `guardd validate` would.
func TestExample(t *testing.T) {
	root := filepath.Join("..", "..")
	path := filepath.Join(root, "config.example.yaml")
	src := filepath.Join(root, "examples", "hourly-recharge.json")
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("config.example.yaml uses %s: %v", src, err)
	}
	c, err := LoadFile(path, mapEnv(nil), AllSecrets)
	if err != nil {
		t.Fatalf("LoadFile(%s): got error\n%v\nwant none", path, err)
	}
	// The example shows every default: apart from its account and notifier,
	// it must equal a config that sets nothing.
	if got, want := c.Schedule.S, DefaultSchedule; got != want {
		t.Errorf("Schedule: got %q, want the default %q", got, want)
	}
	if got, want := logOf(c), [2]string{DefaultLogLevel, DefaultLogFormat}; got != want {
		t.Errorf("Log: got %+v, want the default %+v", got, want)
	}
	if got, want := c.Ledger, ledger.DefaultOptions(); got != want {
		t.Errorf("Ledger: got %+v, want the default %+v", got, want)
	}
	if c.Poll.Concurrency.N != DefaultConcurrency || len(c.Poll.PerProvider) != 0 {
		t.Errorf("poll: got concurrency %d per provider %v, want the default %d and none", c.Poll.Concurrency.N, c.Poll.PerSource(), DefaultConcurrency)
	}
	if got := c.State.IntegrityCheck.Duration; got != DefaultIntegrityCheck {
		t.Errorf("state.integrity_check: got %s, want the default %s", got, DefaultIntegrityCheck)
	}
	checkParams(t, c.Params, rules.DefaultParams())

	if got, want := len(c.Accounts), 1; got != want {
		t.Fatalf("len(Accounts): got %d, want %d", got, want)
	}
	a := c.Accounts[0]
	if a.Name != "acme-openai" || a.Provider != "openai" || a.Currency != "USD" || a.Drawdown != billing.DrawdownExpiringFirst {
		t.Errorf("account: got %s/%s/%s/%s, want acme-openai/openai/USD/expiring-first", a.Name, a.Provider, a.Currency, a.Drawdown)
	}
	ar := a.AutoRecharge
	if !ar.Enabled || ar.Mode != billing.RechargeAdd || ar.HasMonthlyLimit {
		t.Errorf("auto_recharge: got enabled %v mode %q has limit %v, want true add false", ar.Enabled, ar.Mode, ar.HasMonthlyLimit)
	}
	checkMoney(t, "threshold", ar.Threshold, "5.00", "USD")
	checkMoney(t, "amount", ar.Amount, "10.00", "USD")
	if got, want := sourceOf(a), "file "+src+", looping"; got != want {
		t.Errorf("source: got %s, want %s", got, want)
	}
	if got, want := len(c.Notifiers), 1; got != want {
		t.Errorf("len(Notifiers): got %d, want %d (the slack one is commented out)", got, want)
	}
}

// TestExampleNotifierBlocks uncomments each of the example's notifiers in
// turn and checks that it loads with its environment variables set.
func TestExampleNotifierBlocks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Independent of examples/: point the source at a file of our own.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hourly-recharge.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"GUARDD_SLACK_WEBHOOK_URL":     "https://hooks.slack.com/services/T0/B0/example",
		"GUARDD_SLACK_BOT_TOKEN":       "xoxb-1-2-example",
		"GUARDD_SLACK_APP_TOKEN":       "xapp-1-A0-example",
		"GUARDD_WEBHOOK_URL":           "https://example.com/guardd/hook",
		"GUARDD_WEBHOOK_SECRET":        "0123456789abcdef0123",
		"GUARDD_SMTP_PASSWORD":         "example password",
		"GUARDD_PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
	}
	tests := []struct {
		name, typ string
		check     func(n Notifier) bool
	}{
		{"team-slack", "slack", func(n Notifier) bool {
			return n.MinSeverity == billing.SeverityWarning && webhookURL(n) == env["GUARDD_SLACK_WEBHOOK_URL"]
		}},
		{"slack-bot", "slack", func(n Notifier) bool {
			c := n.Config.(*slack.Config)
			return c.BotMode() && c.Channel.S == "#billing-alerts" && !c.AppToken.IsZero() && fmt.Sprint(n.Accounts) == "[acme-openai]"
		}},
		{"hook", "webhook", func(n Notifier) bool {
			c := n.Config.(*webhook.Config)
			return !c.Secret.IsZero() && c.Timeout.Duration == 10*time.Second
		}},
		{"mail", "email", func(n Notifier) bool {
			c := n.Config.(*email.Config)
			return c.Port.N == 587 && c.TLS.S == string(email.StartTLS) && len(c.To) == 1
		}},
		{"pager", "pagerduty", func(n Notifier) bool {
			return n.MinSeverity == billing.SeverityCritical && !n.Config.(*pagerduty.Config).RoutingKey.IsZero()
		}},
		{"am", "alertmanager", func(n Notifier) bool {
			c := n.Config.(*alertmanager.Config)
			return c.URL.S == "http://alertmanager:9093" && c.ResolveTimeout.Duration == 25*time.Hour
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []string
			in := false
			for _, l := range strings.Split(string(b), "\n") {
				switch {
				case l == "  # - name: "+tt.name:
					in = true
				case in && !strings.HasPrefix(l, "  #   "):
					in = false
				}
				if in {
					l = "  " + strings.TrimPrefix(l, "  # ")
				}
				out = append(out, l)
			}
			text := strings.Join(out, "\n")
			if !strings.Contains(text, "\n  - name: "+tt.name+"\n") {
				t.Fatalf("config.example.yaml: found no commented-out notifier %s to uncomment", tt.name)
			}
			text = strings.Replace(text, "path: examples/hourly-recharge.json", "path: hourly-recharge.json", 1)
			c, err := Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
			if err != nil {
				t.Fatalf("uncommented %s: got error\n%v\nwant none", tt.name, err)
			}
			if got, want := len(c.Notifiers), 2; got != want {
				t.Fatalf("uncommented %s: got %d notifiers, want %d", tt.name, got, want)
			}
			n := c.Notifiers[1]
			if n.Name != tt.name || n.Type != tt.typ || !tt.check(n) {
				t.Errorf("uncommented %s: got %+v", tt.name, n)
			}
		})
	}
}

func TestDump(t *testing.T) {
	const url = "https://hooks.slack.com/services/T0/B0/dumpsecret"
	text := strings.Replace(minimal, "auto_recharge: {enabled: false}",
		`auto_recharge: {enabled: true, threshold: "5.00", mode: restore, target: 50.5, monthly_limit: "200"}`, 1) + `
notifiers:
  - {name: console, type: stdout}
  - {name: team, type: slack, min_severity: warning, webhook_url_env: HOOK}
`
	c := mustLoad(t, text, map[string]string{"HOOK": url, "GUARDD_LOG_FORMAT": "json"})
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	want := `schedule: '*/15 * * * *'
poll:
  concurrency: 4
log:
  level: info
  format: json
rules:
  burn_window: 168h
  match_window: 2h
  recharge_burst:
    count: 3
    window: 6h
  recharge_while_grant_credit:
    min_grant_credit: "1"
    lookback: 24h
  recharge_above_threshold:
    tolerance: "0.50"
    lookback: 24h
  phantom_balance:
    min_difference: "1"
  drawdown_order:
    min_idle_credit: "1"
    min_drawn: "1"
    min_polls: 2
  charge_without_credit:
    window: 2h
    lookback: 720h
  credits_accumulating:
    window: 24h
    min_recharges: 2
    min_excess: "10"
    min_ratio: "2"
  spend_without_usage:
    floor: "1"
    zero_below: "0.01"
    lookback: 168h
  grant_expiring_unused:
    horizon: 336h
    min_loss: "1"
  runway_low:
    horizon: 48h
  source_blind:
    polls: 3
accounts:
  - name: acme
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge:
      enabled: true
      threshold: "5.00"
      mode: restore
      target: "50.5"
      monthly_limit: "200"
    source:
      type: file
      path: testdata/source.json
      loop: false
notifiers:
  - name: console
    type: stdout
    min_severity: info
  - name: team
    type: slack
    min_severity: warning
    timeout: 10s
    pacing:
      max: 5
      per: 1h
    webhook_url_env: HOOK
state:
  driver: sqlite
  path: testdata/guardd-state.db
  retention: 9600h
  integrity_check: 24h
http:
  addr: 127.0.0.1:9464
alerting:
  repeat_critical: 4h
  repeat_warning: 24h
  repeat_info: 24h
  resolve_after: 2
`
	if got := buf.String(); got != want {
		t.Errorf("Dump:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		168 * time.Hour:                  "168h",
		2*time.Hour + 30*time.Minute:     "2h30m",
		90 * time.Second:                 "1m30s",
		15 * time.Minute:                 "15m",
		time.Hour + 5*time.Second:        "1h0m5s",
		1500 * time.Millisecond:          "1.5s",
		24*time.Hour + 30*time.Second:    "24h0m30s",
		6*time.Hour + 1*time.Millisecond: "6h0m0.001s",
	} {
		if got := setting.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v): got %q, want %q", d, got, want)
		}
	}
}

// TestSecretsNeverLeak puts a recognisable secret in webhook URLs, drives
// every error path around them, and checks that no error, dump or %v/%+v/%#v
// of a Config shows it (Alertmanager's AssertNotifyLeaksNoSecret).
func TestSecretsNeverLeak(t *testing.T) {
	const secretPart = "xoxSECRETzz9"
	const goodURL = "https://hooks.slack.com/services/T0/B0/" + secretPart
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("source.json", "{}")
	write("good-hook", goodURL+"\n")
	write("bad-hook", "hooks.slack.com/services/T0/B0/"+secretPart+"\n")
	write("ws-hook", "ws://hooks.slack.com/"+secretPart)
	write("nohost-hook", "https:///"+secretPart)
	write("junk-hook", "%zz"+secretPart+"::\n")

	account := `
accounts:
  - name: acme
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: file, path: source.json}
`
	env := map[string]string{
		"GOOD":    goodURL,
		"NOHTTP":  "hooks.slack.com/services/T0/B0/" + secretPart,
		"FTP":     "ftp://hooks.slack.com/" + secretPart,
		"SPACES":  "https://hooks slack com/" + secretPart,
		"CONTROL": "https://hooks.slack.com/\x7f" + secretPart,
		"NOHOST":  "https:///" + secretPart,
	}
	bad := []string{
		`{name: n1, type: slack, webhook_url_env: NOHTTP}`,
		`{name: n2, type: slack, webhook_url_env: FTP}`,
		`{name: n3, type: slack, webhook_url_env: SPACES}`,
		`{name: n4, type: slack, webhook_url_env: CONTROL}`,
		`{name: n5, type: slack, webhook_url_env: NOHOST}`,
		`{name: n6, type: slack, webhook_url_file: bad-hook}`,
		`{name: n7, type: slack, webhook_url_file: ws-hook}`,
		`{name: n8, type: slack, webhook_url_file: nohost-hook}`,
		`{name: n9, type: slack, webhook_url_file: junk-hook}`,
		// The URL pasted where a name or a path belongs.
		`{name: n10, type: slack, webhook_url_env: "` + goodURL + `"}`,
		`{name: n11, type: slack, webhook_url_file: "` + goodURL + `"}`,
		`{name: n12, type: slack, webhook_url_env: GOOD, webhook_url_file: good-hook}`,
		`{name: n13, type: stdout, webhook_url_env: GOOD}`,
		`{name: n14, type: slack, webhook_url_env: GOOD, min_severity: loud}`,
		`{name: n15, type: teams, webhook_url_env: GOOD}`,
		`{name: n16, type: slack, webhook_url_file: good-hook, colour: red}`,
	}

	check := func(what, text string) {
		t.Helper()
		if strings.Contains(text, secretPart) {
			t.Errorf("%s contains the secret:\n%s", what, text)
		}
	}

	var notifiers strings.Builder
	for _, n := range bad {
		notifiers.WriteString("  - " + n + "\n")
	}
	for i, n := range bad {
		text := account + "notifiers:\n  - " + n + "\n"
		_, err := Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
		if err == nil {
			t.Errorf("case %d (%s): got no error, want one", i, n)
			continue
		}
		check(fmt.Sprintf("case %d error", i), err.Error())
		check(fmt.Sprintf("case %d error %%+v", i), fmt.Sprintf("%+v", err))
		check(fmt.Sprintf("case %d error %%#v", i), fmt.Sprintf("%#v", err))
	}
	// All at once, with the unknown key taken out so validation runs.
	all := strings.Replace(notifiers.String(), ", colour: red", "", 1)
	_, err := Load(strings.NewReader(account+"notifiers:\n"+all), dir, mapEnv(env), AllSecrets)
	if err == nil {
		t.Fatalf("all bad notifiers: got no error, want one")
	}
	check("all-at-once error", err.Error())
	if got, want := strings.Count(err.Error(), "\n")+1, len(bad); got < want-1 {
		t.Errorf("all bad notifiers: got %d problems, want at least %d:\n%v", got, want-1, err)
	}

	// A good config: the secret is there, but nothing shows it.
	text := account + `
notifiers:
  - {name: from-env, type: slack, webhook_url_env: GOOD}
  - {name: from-file, type: slack, webhook_url_file: good-hook}
`
	c, err := Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
	if err != nil {
		t.Fatalf("Load: got error %v, want none", err)
	}
	for _, n := range c.Notifiers {
		if webhookURL(n) != goodURL {
			t.Errorf("%s: got a webhook URL of %d bytes, want the good one", n.Name, len(webhookURL(n)))
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		check("Config "+verb, fmt.Sprintf(verb, c))
		check("*Config "+verb, fmt.Sprintf(verb, *c))
		check("Notifiers "+verb, fmt.Sprintf(verb, c.Notifiers))
	}
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	check("Dump", buf.String())
	// Each secret shows where it is read from.
	for _, want := range []string{"webhook_url_env: GOOD\n", "webhook_url_file: good-hook\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Dump: lacks %q:\n%s", want, buf.String())
		}
	}
}

// sourceOf describes an account's source.
func sourceOf(a Account) string { return a.Source.Describe() }

// webhookURL is a notifier's webhook URL: a slack notifier's incoming
// webhook, or a webhook notifier's URL.
func webhookURL(n Notifier) string {
	switch c := n.Config.(type) {
	case *slack.Config:
		return c.WebhookURL.Value.Reveal()
	case *webhook.Config:
		return c.URL.Value.Reveal()
	}
	return ""
}
