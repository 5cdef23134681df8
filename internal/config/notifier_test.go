package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/email"
	"github.com/guardd/guardd/internal/alert/pagerduty"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/webhook"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/setting"
)

const (
	botToken   = "xoxb-1111-2222-BOTsecret77"
	appToken   = "xapp-1-A0-3333-APPsecret88"
	routingKey = "0123456789abcdefROUTINGsecret999"
	hmacKey    = "hmac-SIGNINGsecret-0123456789"
	amToken    = "am-BEARERsecret-42"
	smtpPass   = "smtp PASSsecret 55"
	hookURL    = "https://hooks.example.com/in/HOOKsecret66"
)

// notifiersText configures one notifier of every type, secrets from the
// environment and from files in dir.
func notifiersText(t *testing.T, dir string) string {
	t.Helper()
	for name, content := range map[string]string{
		"source.json":   "{}",
		"routing-key":   routingKey + "\n",
		"smtp-password": smtpPass + "\n",
		"hmac":          "  " + hmacKey + "  \n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return `
accounts:
  - {name: acme, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: source.json}}
  - {name: beta, provider: deepseek, currency: CNY, drawdown: grants-first, auto_recharge: {enabled: false}, source: {type: file, path: source.json}}
notifiers:
  - name: team-slack
    type: slack
    min_severity: warning
    accounts: [acme]
    bot_token_env: SLACK_BOT_TOKEN
    app_token_env: SLACK_APP_TOKEN
    channel: "#billing-alerts"
    pacing: {max: 3, per: 30m}
  - name: hook
    type: webhook
    url_env: HOOK_URL
    secret_file: hmac
    timeout: 5s
  - name: pager
    type: pagerduty
    min_severity: critical
    routing_key_file: routing-key
    api_url: http://127.0.0.1:9999/
  - name: am
    type: alertmanager
    url: https://alertmanager.example.com:9093/
    bearer_token_env: AM_TOKEN
  - name: mail
    type: email
    accounts: [beta, acme]
    host: smtp.example.com
    tls: tls
    username: guardd@example.com
    password_file: smtp-password
    from: "guardd <guardd@example.com>"
    to: [ops@example.com, "Finance <finance@example.com>"]
    pacing: {max: 0}
  - name: relay
    type: email
    host: localhost
    tls: none
    port: 25
    from: guardd@localhost
    to: [root@localhost]
`
}

func notifierEnv() map[string]string {
	return map[string]string{"SLACK_BOT_TOKEN": botToken, "SLACK_APP_TOKEN": appToken, "HOOK_URL": hookURL, "AM_TOKEN": amToken}
}

func TestNotifierTypes(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(strings.NewReader(notifiersText(t, dir)), dir, mapEnv(notifierEnv()), AllSecrets)
	if err != nil {
		t.Fatalf("Load: got error\n%v\nwant none", err)
	}
	if len(c.Notifiers) != 6 {
		t.Fatalf("got %d notifiers, want 6", len(c.Notifiers))
	}
	sn, hn, pdn, amn, mailn, relayn := c.Notifiers[0], c.Notifiers[1], c.Notifiers[2], c.Notifiers[3], c.Notifiers[4], c.Notifiers[5]
	s, h, pd := sn.Config.(*slack.Config), hn.Config.(*webhook.Config), pdn.Config.(*pagerduty.Config)
	am, mail, relay := amn.Config.(*alertmanager.Config), mailn.Config.(*email.Config), relayn.Config.(*email.Config)
	texts := func(ts []setting.Text) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.S)
		}
		return fmt.Sprint(out)
	}
	defaultPace := alert.Pacing{Max: 5, Per: time.Hour}

	checks := []struct {
		what      string
		got, want any
	}{
		{"slack bot mode", s.BotMode(), true},
		{"slack bot token", s.BotToken.Value.Reveal(), botToken},
		{"slack app token", s.AppToken.Value.Reveal(), appToken},
		{"slack channel", s.Channel.S, "#billing-alerts"},
		{"slack api url", s.APIURL.S, ""},
		{"slack severity", sn.MinSeverity, billing.SeverityWarning},
		{"slack accounts", fmt.Sprint(sn.Accounts), "[acme]"},
		{"slack pacing", sn.Pace(), alert.Pacing{Max: 3, Per: 30 * time.Minute}},
		{"slack timeout", s.Timeout.Duration, 10 * time.Second},
		{"webhook url", h.URL.Value.Reveal(), hookURL},
		{"webhook secret", h.Secret.Value.Reveal(), hmacKey},
		{"webhook timeout", h.Timeout.Duration, 5 * time.Second},
		{"webhook pacing", hn.Pace(), alert.Pacing{Max: 0, Per: time.Hour}},
		{"webhook pacing off", hn.Pace().On(), false},
		{"webhook accounts", hn.Accounts == nil, true},
		{"pagerduty key", pd.RoutingKey.Value.Reveal(), routingKey},
		{"pagerduty api url", pd.APIURL.S, "http://127.0.0.1:9999"},
		{"pagerduty pacing", pdn.Pace(), alert.Pacing{}},
		{"alertmanager url", am.URL.S, "https://alertmanager.example.com:9093"},
		{"alertmanager token", am.BearerToken.Value.Reveal(), amToken},
		{"alertmanager resolve timeout", am.ResolveTimeout.Duration, 25 * time.Hour},
		{"email smtp", fmt.Sprintf("%s:%d %s %s", mail.Host.S, mail.Port.N, mail.TLS.S, mail.Username.S), "smtp.example.com:465 tls guardd@example.com"},
		{"email password", mail.Password.Value.Reveal(), smtpPass},
		{"email from", mail.From.S, `"guardd" <guardd@example.com>`},
		{"email to", texts(mail.To), "[ops@example.com finance@example.com]"},
		{"email accounts", fmt.Sprint(mailn.Accounts), "[beta acme]"},
		{"email pacing off", mailn.Pace().Max, 0},
		{"email timeout", mail.Timeout.Duration, 30 * time.Second},
		{"relay", fmt.Sprintf("%s:%d %s %q", relay.Host.S, relay.Port.N, relay.TLS.S, relay.Username.S), `localhost:25 none ""`},
		{"relay pacing", relayn.Pace(), defaultPace},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}

	// Slack in webhook mode keeps its defaults.
	wc := mustLoad(t, minimal+`
notifiers:
  - {name: hook, type: slack, webhook_url_env: HOOK}
`, map[string]string{"HOOK": hookURL})
	if n := wc.Notifiers[0]; n.Config.(*slack.Config).BotMode() || webhookURL(n) != hookURL || n.Pace() != defaultPace {
		t.Errorf("slack webhook: got %+v", n)
	}

	// Alertmanager's resolve_timeout follows the repeat intervals.
	ac := mustLoad(t, minimal+`
alerting: {repeat_warning: 48h}
notifiers:
  - {name: am, type: alertmanager, url: "http://127.0.0.1:9093"}
`, nil)
	if got, want := ac.Notifiers[0].Config.(*alertmanager.Config).ResolveTimeout.Duration, 49*time.Hour; got != want {
		t.Errorf("resolve_timeout: got %s, want %s", got, want)
	}
}

func TestNotifierDump(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(strings.NewReader(notifiersText(t, dir)), dir, mapEnv(notifierEnv()), AllSecrets)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	out = out[strings.Index(out, "notifiers:"):]
	if i := strings.Index(out, "\nstate:"); i >= 0 {
		out = out[:i+1]
	}
	want := `notifiers:
  - name: team-slack
    type: slack
    min_severity: warning
    accounts:
      - acme
    timeout: 10s
    pacing:
      max: 3
      per: 30m
    bot_token_env: SLACK_BOT_TOKEN
    app_token_env: SLACK_APP_TOKEN
    channel: '#billing-alerts'
  - name: hook
    type: webhook
    min_severity: info
    timeout: 5s
    url_env: HOOK_URL
    secret_file: hmac
  - name: pager
    type: pagerduty
    min_severity: critical
    timeout: 10s
    routing_key_file: routing-key
    api_url: http://127.0.0.1:9999
  - name: am
    type: alertmanager
    min_severity: info
    timeout: 10s
    url: https://alertmanager.example.com:9093
    bearer_token_env: AM_TOKEN
    resolve_timeout: 25h
    resend_interval: 1m
    watchdog: false
    watchdog_timeout: 30m
  - name: mail
    type: email
    min_severity: info
    accounts:
      - beta
      - acme
    timeout: 30s
    host: smtp.example.com
    port: 465
    tls: tls
    username: guardd@example.com
    password_file: smtp-password
    from: '"guardd" <guardd@example.com>'
    to:
      - ops@example.com
      - finance@example.com
  - name: relay
    type: email
    min_severity: info
    timeout: 30s
    pacing:
      max: 5
      per: 1h
    host: localhost
    port: 25
    tls: none
    from: <guardd@localhost>
    to:
      - root@localhost
`
	if out != want {
		t.Errorf("Dump notifiers:\ngot:\n%s\nwant:\n%s", out, want)
	}
}

// TestNotifierSecretsNeverLeak drives the error paths of every notifier
// secret with recognisable values and checks that no error, dump or %v of
// the config shows them.
func TestNotifierSecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	text := notifiersText(t, dir)
	secrets := []string{botToken, appToken, routingKey, hmacKey, amToken, "PASSsecret", "HOOKsecret66", "BOTsecret", "APPsecret"}
	check := func(what, s string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s shows the secret %q:\n%s", what, sec, s)
			}
		}
	}
	c, err := Load(strings.NewReader(text), dir, mapEnv(notifierEnv()), AllSecrets)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		check("Config "+verb, fmt.Sprintf(verb, *c))
		check("Notifiers "+verb, fmt.Sprintf(verb, c.Notifiers))
	}
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	check("Dump", buf.String())

	// Secrets in the wrong places and with the wrong form.
	for name, content := range map[string]string{"bad-bot": appToken, "bad-key": "short" + routingKey[:8], "bad-pass": "a\x00PASSsecret"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"WRONG_BOT": appToken, "WRONG_APP": botToken, "SHORT_KEY": routingKey[:20], "SPACE_TOKEN": "am BEARERsecret 42",
		"SHORT_HMAC": "HOOKsecret66", "NOT_URL": "hooks.example.com/HOOKsecret66",
	}
	bad := []string{
		`{name: n1, type: slack, bot_token_env: WRONG_BOT, channel: C1}`,
		`{name: n2, type: slack, bot_token_env: "` + botToken + `", channel: C1}`,
		`{name: n3, type: slack, bot_token_file: "` + botToken + `", channel: C1}`,
		`{name: n4, type: slack, bot_token_file: bad-bot, channel: C1, app_token_env: WRONG_APP}`,
		`{name: n5, type: slack, bot_token_env: WRONG_BOT, app_token_file: "` + appToken + `", channel: C1}`,
		`{name: n6, type: pagerduty, routing_key_env: SHORT_KEY}`,
		`{name: n7, type: pagerduty, routing_key_env: "` + routingKey + `"}`,
		`{name: n8, type: pagerduty, routing_key_file: bad-key}`,
		`{name: n9, type: alertmanager, url: "http://x:9093", bearer_token_env: SPACE_TOKEN}`,
		`{name: n10, type: alertmanager, url: "http://u:` + amToken + `@x:9093"}`,
		`{name: n11, type: webhook, url_env: NOT_URL, secret_env: SHORT_HMAC}`,
		`{name: n12, type: webhook, url_file: "` + hookURL + `"}`,
		`{name: n13, type: email, host: h, username: u, password_file: bad-pass, from: a@b.c, to: [d@e.f]}`,
		`{name: n14, type: slack, bot_token_env: SLACK_BOT_TOKEN, channel: C1, api_url: "http://u:` + amToken + `@slack.example.com"}`,
	}
	for i, n := range bad {
		text := minimal + "notifiers:\n  - " + n + "\n"
		_, err := Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
		if err == nil {
			t.Errorf("case %d (%s): got no error, want one", i, n)
			continue
		}
		check(fmt.Sprintf("case %d error", i), err.Error())
		check(fmt.Sprintf("case %d error %%#v", i), fmt.Sprintf("%#v", err))
	}
}
