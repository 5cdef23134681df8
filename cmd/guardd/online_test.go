package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/poller/pollertest"
)

// onlineConfig writes a config of the given accounts and notifiers.
func onlineConfig(t *testing.T, accounts, notifiers string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("accounts:\n"+accounts+"notifiers:\n"+notifiers), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const onlineAccount = `  - name: %s
    provider: %s
    currency: %s
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: %s, base_url: %q, %s}
`

// TestValidateOnline tries every key and token of a config once against
// local fakes of the providers and of Slack: what each is and reads when it
// works, the provider's reason and the fix when it does not, nothing posted,
// no secret shown, and exit status 1 when any try failed.
func TestValidateOnline(t *testing.T) {
	oa := pollertest.NewOpenAI(t)
	oa.SetGrants(pollertest.PurchaseGrant("cg_1", "10.00", time.Now()))
	ds := pollertest.NewDeepSeek(t)
	down := pollertest.NewDeepSeek(t)
	down.Close()
	api := slacktest.NewAPI(t)
	hook := slacktest.NewWebhook(t)
	staleSession := "sess-St4leSessionTail4567"
	env := map[string]string{
		"OPENAI_ADMIN_KEY": oa.AdminKey, "OPENAI_SESSION_KEY": oa.SessionKey, "STALE_SESSION_KEY": staleSession,
		"DEEPSEEK_API_KEY": ds.APIKey, "DOWN_KEY": down.APIKey,
		"SLACK_BOT_TOKEN": api.BotToken(), "WRONG_BOT_TOKEN": "xoxb-0-0-Wr0ngT0kenTail", "SLACK_WEBHOOK_URL": hook.URL(),
	}
	secrets := []string{oa.AdminKey, oa.SessionKey, staleSession, ds.APIKey, down.APIKey, api.BotToken(), "xoxb-0-0-Wr0ngT0kenTail", hook.Path()}
	abs, err := filepath.Abs(filepath.Join("examples", "healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	good := fmt.Sprintf(onlineAccount, "acme-openai", "openai", "USD", "openai", oa.URL(), "admin_key_env: OPENAI_ADMIN_KEY, session_key_env: OPENAI_SESSION_KEY") +
		fmt.Sprintf(onlineAccount, "acme-deepseek", "deepseek", "CNY", "deepseek", ds.URL(), "api_key_env: DEEPSEEK_API_KEY") +
		fmt.Sprintf("  - {name: demo, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: %q}}\n", abs)
	goodNotifiers := "  - {name: console, type: stdout}\n" +
		"  - {name: bot, type: slack, bot_token_env: SLACK_BOT_TOKEN, channel: C0ALERTS, api_url: " + api.URL() + "}\n" +
		"  - {name: hook, type: slack, webhook_url_env: SLACK_WEBHOOK_URL}\n"
	bad := fmt.Sprintf(onlineAccount, "stale-session", "openai", "USD", "openai", oa.URL(), "admin_key_env: OPENAI_ADMIN_KEY, session_key_env: STALE_SESSION_KEY") +
		fmt.Sprintf(onlineAccount, "gone", "deepseek", "CNY", "deepseek", down.URL(), "api_key_env: DOWN_KEY")
	badNotifiers := "  - {name: wrong-bot, type: slack, bot_token_env: WRONG_BOT_TOKEN, channel: C0ALERTS, api_url: " + api.URL() + "}\n"

	tests := []struct {
		name      string
		cfg       string
		wantErr   string
		want, not []string
	}{
		{"every credential works", onlineConfig(t, good, goodNotifiers), "", []string{
			"online: each key and token tried once\n",
			"  account acme-openai: admin key ok: reads the daily costs\n",
			"  account acme-openai: session key ok: reads the credit grants (1) and the balance\n",
			"  account acme-deepseek: api key ok: reads the balance, granted and topped up: ¥110.00\n",
			"  account demo: file source not tried: it reads no API, so there is no key to try\n",
			"  notifier console: stdout not tried: it prints here and needs no credential\n",
			"  notifier bot: bot token ok: reads workspace \"Acme\" as @guardd\n",
			"  notifier hook: incoming webhook not tried: an incoming webhook has no call that posts nothing",
		}, []string{"rejected", "unreachable"}},
		{"refused and unreachable", onlineConfig(t, bad, badNotifiers), "validate --online: 3 of 4 tries failed", []string{
			"  account stale-session: admin key ok: reads the daily costs\n",
			"  account stale-session: session key rejected: HTTP 401 'Invalid authorization header' → Fix: give a browser session key (sess-…)",
			"  account gone: api key unreachable: GET /user/balance: ",
			"connection refused\n",
			"  notifier wrong-bot: bot token rejected: slack refused the bot token (invalid_auth)",
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCmd(t, env, "validate", "--online", "--config", tc.cfg)
			if got := fmt.Sprint(err); (tc.wantErr == "") != (err == nil) || tc.wantErr != "" && got != tc.wantErr {
				t.Errorf("error: got %v, want %q", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			checkNoSecret(t, secrets, out, errOut, fmt.Sprint(err))
		})
	}
	if n := hook.Requests(); n != 0 {
		t.Errorf("incoming webhook: got %d requests, want none (it has no harmless call)", n)
	}
	if n := len(api.Messages(slacktest.AlertsChannel)); n != 0 {
		t.Errorf("slack bot: got %d messages posted, want none", n)
	}

	// A project key where the admin key goes is caught before anything is
	// tried: its shape tells.
	env["OPENAI_ADMIN_KEY"] = "sk-proj-Pr0jectKeyTail0123"
	out, _, err := runCmd(t, env, "validate", "--online", "--config", onlineConfig(t, good, goodNotifiers))
	if err == nil || !strings.Contains(err.Error(), "accounts[0].source.admin_key_env: the value of OPENAI_ADMIN_KEY is a project key (sk-proj-…), not an admin key") ||
		strings.Contains(out, "online:") || strings.Contains(err.Error(), "Tail0123") {
		t.Errorf("project key as admin key: got %v and\n%s\nwant the offline error, nothing tried and no key shown", err, out)
	}
}
