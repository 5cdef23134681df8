package config

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/rules"
)

func TestStateHTTPAlerting(t *testing.T) {
	abs := func(p string) string { a, _ := filepath.Abs(filepath.Join("testdata", p)); return a }
	tests := []struct {
		name      string
		yaml      string
		env       map[string]string
		path      string
		retention time.Duration
		addr      string
		critical  time.Duration
		resolve   int
	}{
		{"defaults", "", nil, "testdata/" + DefaultStateFile, DefaultRetention, DefaultHTTPAddr, 4 * time.Hour, 2},
		{"systemd state directory", "", map[string]string{"STATE_DIRECTORY": "/var/lib/guardd:/var/lib/other"},
			"/var/lib/guardd/state.db", DefaultRetention, DefaultHTTPAddr, 4 * time.Hour, 2},
		{"file values", "state: {path: db/s.db, retention: 720h}\nhttp: {addr: off}\nalerting: {repeat_critical: 1h, resolve_after: 3}\n",
			nil, "testdata/db/s.db", 720 * time.Hour, "", time.Hour, 3},
		{"env beats file", "state: {path: a.db}\nhttp: {addr: \"127.0.0.1:1\"}\n",
			map[string]string{"GUARDD_STATE_PATH": abs("b.db"), "GUARDD_HTTP_ADDR": "0.0.0.0:9464"},
			abs("b.db"), DefaultRetention, "0.0.0.0:9464", 4 * time.Hour, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, minimal+tc.yaml, tc.env)
			if c.State.Path.Name != tc.path || c.State.Retention.Duration != tc.retention {
				t.Errorf("state: got %+v, want path %s retention %s", c.State, tc.path, tc.retention)
			}
			if c.HTTP.Listen() != tc.addr {
				t.Errorf("http.addr: got %q, want %q", c.HTTP.Listen(), tc.addr)
			}
			if got := c.Alerting.Repeat()[billing.SeverityCritical]; got != tc.critical {
				t.Errorf("repeat critical: got %s, want %s", got, tc.critical)
			}
			if got := c.Alerting.Repeat()[billing.SeverityWarning]; got != 24*time.Hour {
				t.Errorf("repeat warning: got %s, want 24h", got)
			}
			if c.Alerting.ResolveAfter.N != tc.resolve {
				t.Errorf("resolve_after: got %d, want %d", c.Alerting.ResolveAfter.N, tc.resolve)
			}
		})
	}
}

func TestNewRuleKeysAndMonthlyCap(t *testing.T) {
	c := mustLoad(t, strings.Replace(minimal, "    auto_recharge:", "    monthly_cap: \"150.00\"\n    auto_recharge:", 1)+`
rules:
  drawdown_order: {min_idle_credit: "2.50", min_drawn: "3", min_polls: 4}
  charge_without_credit: {window: 3h, lookback: 240h}
  credits_accumulating: {window: 12h, min_recharges: 3, min_excess: "20", min_ratio: "1.5"}
  spend_without_usage: {floor: "5", zero_below: "0.05", lookback: 72h}
  grant_expiring_unused: {horizon: 168h, min_loss: "2"}
  runway_low: {horizon: 24h}
  source_blind: {polls: 5}
`, nil)
	p := c.Params
	do, ca := ruleOf[*rules.DrawdownOrder](t, p), ruleOf[*rules.CreditsAccumulating](t, p)
	if !do.MinIdleCredit.Equal(dec(t, "2.50")) || do.MinPolls.N != 4 ||
		ruleOf[*rules.ChargeWithoutCredit](t, p).Window.Duration != 3*time.Hour || ca.MinRecharges.N != 3 ||
		!ca.MinRatio.Equal(dec(t, "1.5")) || !ruleOf[*rules.SpendWithoutUsage](t, p).ZeroBelow.Equal(dec(t, "0.05")) ||
		ruleOf[*rules.GrantExpiringUnused](t, p).Horizon.Duration != 168*time.Hour ||
		ruleOf[*rules.RunwayLow](t, p).Horizon.Duration != 24*time.Hour || ruleOf[*rules.SourceBlind](t, p).Polls.N != 5 {
		t.Errorf("params not read: %+v", p)
	}
	// credit-without-charge reads charge-without-credit's window.
	if got := ruleOf[*rules.CreditWithoutCharge](t, p).Window.Duration; got != 3*time.Hour {
		t.Errorf("credit-without-charge window: got %s, want 3h", got)
	}
	a := c.Accounts[0]
	if !a.HasMonthlyCap || a.MonthlyCap.String() != "150.00 USD" {
		t.Errorf("monthly_cap: got %v (set %v), want 150.00 USD", a.MonthlyCap, a.HasMonthlyCap)
	}
	_, err := load(t, minimal+"http: {addr: nine}\nalerting: {resolve_after: 0}\nrules: {source_blind: {polls: x}}\n", nil)
	for _, want := range []string{
		`http.addr: invalid address "nine": want host:port such as 127.0.0.1:9464, or off`,
		"alerting.resolve_after: must be at least 1 (got 0)",
		`rules.source_blind.polls: invalid whole number "x"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error: got %v, want it to contain %q", err, want)
		}
	}
}

func TestBalanceAnchor(t *testing.T) {
	text := strings.Replace(minimal, "    auto_recharge:", "    balance_anchor: {amount: \"42.10\", at: \"2026-11-30T10:00:00+01:00\"}\n    auto_recharge:", 1)
	c := mustLoad(t, text, nil)
	a := c.Accounts[0]
	if !a.HasAnchor || a.Anchor.Amount.String() != "42.10 USD" || !a.Anchor.At.Equal(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)) ||
		a.Anchor.At.Location() != time.UTC {
		t.Errorf("anchor: got %+v (set %v), want 42.10 USD at 09:00 UTC", a.Anchor, a.HasAnchor)
	}
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	if want := "    balance_anchor:\n      amount: \"42.10\"\n      at: \"2026-11-30T09:00:00Z\"\n"; !strings.Contains(buf.String(), want) {
		t.Errorf("dump lacks %q:\n%s", want, buf.String())
	}
	for _, tc := range []struct{ anchor, want string }{
		{`{amount: "42.10"}`, "accounts[0].balance_anchor.at: is required: when the console showed the amount"},
		{`{at: "2026-11-30T10:00:00Z"}`, "accounts[0].balance_anchor.amount: is required: the balance the provider's console showed"},
		{`{amount: "4,2", at: "yesterday"}`, `accounts[0].balance_anchor.amount: invalid amount "4,2"` + "\n" +
			`accounts[0].balance_anchor.at: invalid time "yesterday": want RFC 3339 such as 2026-11-30T10:00:00Z`},
	} {
		_, err := load(t, strings.Replace(minimal, "    auto_recharge:", "    balance_anchor: "+tc.anchor+"\n    auto_recharge:", 1), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("anchor %s: got %v, want %q", tc.anchor, err, tc.want)
		}
	}
}

// http.external_url says where people reach the pages: each account's page
// is under it; it must be an absolute http(s) URL with nothing after the
// path.
func TestExternalURL(t *testing.T) {
	c := mustLoad(t, minimal, nil)
	if got := c.HTTP.AccountPage("acme"); got != "" {
		t.Errorf("no external_url: got page %q, want none", got)
	}
	c = mustLoad(t, minimal+"http: {external_url: \"https://ops.example.com/guardd/\"}\n", nil)
	if got, want := c.HTTP.AccountPage("acme prod"), "https://ops.example.com/guardd/accounts/acme%20prod"; got != want {
		t.Errorf("page: got %q, want %q", got, want)
	}
	for _, tc := range []struct{ value, want string }{
		{"guardd.example.com", `http.external_url: invalid URL "guardd.example.com" (want an absolute http(s) URL such as https://guardd.example.com)`},
		{"https://guardd.example.com/?token=x", "http.external_url: must not have a query or fragment"},
	} {
		_, err := load(t, minimal+"http: {external_url: \""+tc.value+"\"}\n", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("external_url %q: got %v, want %q", tc.value, err, tc.want)
		}
	}
}
