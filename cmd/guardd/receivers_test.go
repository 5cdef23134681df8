package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert/email/smtptest"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/config"
)

// receiversConfig writes a config with one account (a file source) and the
// given notifiers section, and returns its path.
func receiversConfig(t *testing.T, notifiers string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("examples", "hourly-recharge.json"))
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`log: {level: debug, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - name: acme-openai
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}
    source: {type: file, path: %q}
  - name: acme-other
    provider: other
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: file, path: %q}
notifiers:
%s`, filepath.Join(dir, "state.db"), src, src, notifiers)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hook is a fake JSON endpoint recording the bodies posted to it.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
	paths  []string
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.paths = append(h.paths, r.URL.Path)
		h.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() ([]string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...), append([]string(nil), h.paths...)
}

func TestBuildReceivers(t *testing.T) {
	api := slacktest.NewAPI(t)
	env := map[string]string{
		"BOT": api.BotToken(), "APP": api.AppToken(), "HOOK": "https://hooks.slack.com/services/T0/B0/x",
		"URL": "https://example.com/in", "KEY": "0123456789abcdef0123456789abcdef", "PW": "pw",
	}
	path := receiversConfig(t, `  - {name: out, type: stdout}
  - {name: bot, type: slack, min_severity: warning, accounts: [acme-openai], bot_token_env: BOT, app_token_env: APP, channel: C0ALERTS}
  - {name: hook, type: slack, webhook_url_env: HOOK}
  - {name: json, type: webhook, url_env: URL, timeout: 3s}
  - {name: mail, type: email, host: smtp.example.com, username: u, password_env: PW, from: a@example.com, to: [b@example.com]}
  - {name: pd, type: pagerduty, min_severity: critical, routing_key_env: KEY}
  - {name: am, type: alertmanager, url: "http://127.0.0.1:9093"}
`)
	cfg, err := config.LoadFile(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, config.AllSecrets)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := buildReceivers(cfg, io.Discard, zap.NewNop(), false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s %T %s %v", r.Name, r.Notifier, r.MinSeverity, r.Accounts))
	}
	want := []string{
		"out *alert.Writer info []",
		"bot *slack.Bot warning [acme-openai]",
		"hook *slack.Webhook info []",
		"json *webhook.Receiver info []",
		"mail *email.Receiver info []",
		"pd *pagerduty.Receiver critical []",
		"am *alertmanager.Receiver info []",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got receivers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBillingPages: the links receivers put in messages come from the
// provider packages, for the providers guardd knows.
func TestBillingPages(t *testing.T) {
	for account, provider := range receivertest.Providers {
		if got, want := config.BillingPage(provider), receivertest.Links[account]; got != want {
			t.Errorf("config.BillingPage(%s): got %q, want %q", provider, got, want)
		}
	}
	if got := config.BillingPage("openrouter"); got != "https://openrouter.ai/settings/credits" {
		t.Errorf("config.BillingPage(openrouter): got %q", got)
	}
	if got := config.BillingPage("other"); got != "" {
		t.Errorf("config.BillingPage(other): got %q, want none", got)
	}
}

// TestNotifyTest sends a test alert and its resolution through each kind of
// receiver, each against its fake.
func TestNotifyTest(t *testing.T) {
	api := slacktest.NewAPI(t)
	incoming := slacktest.NewWebhook(t)
	jsonHook, pd, am := newHook(t), newHook(t), newHook(t)
	mail := smtptest.New(t, smtptest.Options{NoStartTLS: true})
	env := map[string]string{
		"BOT": api.BotToken(), "INCOMING": incoming.URL(), "JSON_URL": jsonHook.srv.URL + "/in/secret-path-123",
		"PD_KEY": "0123456789abcdef0123456789abcdef", "HMAC": "a-long-signing-secret-0123",
	}
	path := receiversConfig(t, fmt.Sprintf(`  - {name: bot, type: slack, bot_token_env: BOT, channel: "#alerts", api_url: %q}
  - {name: incoming, type: slack, webhook_url_env: INCOMING}
  - {name: json, type: webhook, url_env: JSON_URL, secret_env: HMAC}
  - {name: pd, type: pagerduty, min_severity: critical, routing_key_env: PD_KEY, api_url: %q}
  - {name: am, type: alertmanager, url: %q}
  - {name: mail, type: email, host: 127.0.0.1, port: %d, tls: none, from: guardd@localhost, to: [ops@localhost], accounts: [acme-other]}
`, api.URL(), pd.srv.URL, am.srv.URL, mail.Port()))

	// Each test sees only its own receiver's secrets: the others' need not be set.
	own := map[string][]string{"bot": {"BOT"}, "incoming": {"INCOMING"}, "json": {"JSON_URL", "HMAC"}, "pd": {"PD_KEY"}}
	for _, name := range []string{"bot", "incoming", "json", "pd", "am", "mail"} {
		only := map[string]string{}
		for _, k := range own[name] {
			only[k] = env[k]
		}
		out, errOut, err := runCmd(t, only, "notify", "test", "--config", path, "--receiver", name)
		if err != nil {
			t.Fatalf("notify test %s: %v\n%s", name, err, errOut)
		}
		if !strings.HasPrefix(out, "notify test: sent a test alert to "+name) || !strings.Contains(out, "notify test: resolved the test alert at "+name) {
			t.Errorf("notify test %s: got output\n%s", name, out)
		}
	}

	// Slack bot: one message, edited to resolved, with a reply.
	msgs := api.Messages(slacktest.AlertsChannel)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "[RESOLVED] notify-test on acme-openai") || msgs[0].Edits != 1 {
		t.Errorf("slack bot: got %+v, want one message edited to resolved", msgs)
	} else if len(api.Replies(slacktest.AlertsChannel, msgs[0].TS)) != 1 {
		t.Errorf("slack bot: got no reply in the thread")
	}
	// Incoming webhook: the alert, then its resolution.
	if w := incoming.Messages(); len(w) != 2 || !strings.Contains(w[0].Text, "TEST ALERT from `guardd notify test`") ||
		!strings.HasPrefix(w[1].Text, "[RESOLVED] notify-test") {
		t.Errorf("incoming webhook: got %d messages, want the test alert and its resolution", len(w))
	}
	// Webhook: signed JSON records.
	bodies, _ := jsonHook.got()
	if len(bodies) != 2 || !strings.Contains(bodies[0], `"rule":"notify-test"`) || !strings.Contains(bodies[1], `"status":"resolved"`) {
		t.Errorf("webhook: got %q", bodies)
	}
	// PagerDuty: trigger then resolve, at the notifier's severity.
	bodies, paths := pd.got()
	if len(bodies) != 2 || paths[0] != "/v2/enqueue" || !strings.Contains(bodies[0], `"event_action":"trigger"`) ||
		!strings.Contains(bodies[0], `"severity":"critical"`) || !strings.Contains(bodies[1], `"event_action":"resolve"`) {
		t.Errorf("pagerduty: got %q at %q", bodies, paths)
	}
	// Alertmanager: firing then resolved.
	bodies, paths = am.got()
	if len(bodies) != 2 || paths[0] != "/api/v2/alerts" || !strings.Contains(bodies[0], `"alertname":"notify-test"`) {
		t.Errorf("alertmanager: got %q at %q", bodies, paths)
	}
	// Email: about the notifier's own account.
	if m := mail.Messages(); len(m) != 2 || !strings.Contains(string(m[0].Data), "notify-test on acme-other") {
		t.Errorf("email: got %d messages", len(m))
	}
}

func TestNotifyTestFailures(t *testing.T) {
	api := slacktest.NewAPI(t)
	env := map[string]string{"BOT": api.BotToken()}
	path := receiversConfig(t, fmt.Sprintf(`  - {name: bot, type: slack, bot_token_env: BOT, channel: "#nope", api_url: %q}
`, api.URL()))
	tests := []struct {
		name    string
		args    []string
		wantErr string
		usage   bool
	}{
		{"no subcommand", []string{"notify"}, "notify: want a subcommand: test", true},
		{"unknown subcommand", []string{"notify", "send"}, `notify: unknown subcommand "send" (want test)`, true},
		{"no receiver", []string{"notify", "test", "--config", path}, "notify test: --config and --receiver are required", true},
		{"unknown receiver", []string{"notify", "test", "--config", path, "--receiver", "team"}, `notify test: unknown receiver "team" (want one of bot)`, true},
		{"channel not found", []string{"notify", "test", "--config", path, "--receiver", "bot"},
			`notify test: receiver bot (slack, bot mode, channel #nope) failed: send notify-test firing: send slack message (firing, fingerprint `, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runCmd(t, env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			var u *usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("got usage error %t, want %t", errors.As(err, &u), tt.usage)
			}
			for _, s := range []string{err.Error(), out, errOut} {
				if strings.Contains(s, api.BotToken()) {
					t.Errorf("output shows the bot token: %s", s)
				}
			}
		})
	}
	_, _, err := runCmd(t, env, "notify", "test", "--config", path, "--receiver", "bot")
	if !strings.Contains(err.Error(), `slack has no channel "#nope" that the bot can see (channel_not_found)`) {
		t.Errorf("got %v, want it to say the channel was not found", err)
	}
}

// TestSlackBotAcrossCheckProcesses runs guardd check as separate processes
// over the hourly recharge loop with Slack in bot mode: the recharge burst
// is posted once, threaded twice, then edited to resolved, each step by
// another process, through the refs kept in the state database.
func TestSlackBotAcrossCheckProcesses(t *testing.T) {
	t.Parallel()
	api := slacktest.NewAPI(t)
	cfg := receiversConfig(t, fmt.Sprintf(`  - {name: team-slack, type: slack, bot_token_env: BOT, channel: %s, api_url: %q, accounts: [acme-openai]}
`, slacktest.AlertsChannel, api.URL()))
	// Only the loop's account: the other would repeat its findings.
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(text), "  - name: acme-other")
	j := strings.Index(string(text), "notifiers:")
	if err := os.WriteFile(cfg, append(text[:i:i], text[j:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BOT": api.BotToken()}
	for i := range 14 {
		out, err := guarddProc(t, env, "check", "--config", cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("check process %d: %v\n%s", i, err, out)
		}
		if strings.Contains(string(out), api.BotToken()) {
			t.Fatalf("check process %d logged the bot token", i)
		}
	}
	var burst *slacktest.Posted
	var titles []string
	for _, m := range api.Messages(slacktest.AlertsChannel) {
		title, _, _ := strings.Cut(m.Text, "  ")
		titles = append(titles, title)
		if strings.Contains(m.Text, "recharge-burst") {
			burst = &m
		}
	}
	want := []string{
		"[WARNING] recharge-above-threshold on acme-openai",
		"[RESOLVED] recharge-burst on acme-openai", // posted at 03:00, edited at 13:00
		"[WARNING] credits-accumulating on acme-openai",
	}
	if fmt.Sprint(titles) != fmt.Sprint(want) {
		t.Fatalf("channel:\ngot  %q\nwant %q", titles, want)
	}
	if burst.Edits != 1 {
		t.Errorf("recharge-burst: got %d edits, want 1", burst.Edits)
	}
	var thread []string
	for _, r := range api.Replies(slacktest.AlertsChannel, burst.TS) {
		thread = append(thread, r.Text)
	}
	wantThread := []string{
		"Still firing as of 2026-10-14 07:00 UTC: [CRITICAL] recharge-burst on acme-openai",
		"Still firing as of 2026-10-14 11:00 UTC: [CRITICAL] recharge-burst on acme-openai",
		"Resolved at 2026-10-14 13:00 UTC: recharge-burst no longer holds.",
	}
	if fmt.Sprint(thread) != fmt.Sprint(wantThread) {
		t.Errorf("recharge-burst thread:\ngot  %q\nwant %q", thread, wantThread)
	}
	// Every call carried the bot token in the form.
	for _, c := range api.Calls() {
		if c.Token != api.BotToken() || c.Answer != "" {
			t.Errorf("%s: got token ok %t, answer %q", c.Method, c.Token == api.BotToken(), c.Answer)
		}
	}
	b, _ := json.Marshal(api.Calls()[0].Form)
	if strings.Contains(string(b), api.BotToken()) {
		t.Errorf("the recorded form keeps the token")
	}
}
