package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/guardd/guardd/internal/alert/email/smtptest"
	"github.com/guardd/guardd/internal/alert/receivertest"
)

// leakSecret is a configured secret: its public prefix (such as "sk-admin-",
// which tells what kind of key it is and is no secret) and its body.
type leakSecret struct{ prefix, body string }

func (s leakSecret) String() string { return s.prefix + s.body }

// The secrets of every configured place, recognisable and unlike each
// other.
var (
	leakOpenAIAdmin   = leakSecret{"sk-admin-", "Qz7Wk2Rp9Lm4Xv8Tn3Bj6Hc1"}
	leakOpenAISession = leakSecret{"sess-", "Yd5Fg8Ks2Lq9Zw4Nr7Pm3Ct6"}
	leakAnthropic     = leakSecret{"sk-ant-admin01-", "Jx4Vb7Ne2Ru9Ka5Ls8Dw3Ge6"}
	leakDeepSeek      = leakSecret{"sk-", "Mh6Tq1Yz8Gc3Wp5Rf2Xk9Vn4"}
	leakOpenRouter    = leakSecret{"sk-or-v1-", "Bd3Jm8Sq5Lw1Ht7Zc4Kv9Fy2"}
	leakSlackPath     = leakSecret{"", "Hw7Pk2Mz9Rt4Qx6Lc1Vb8Ea5"}
	leakSlackBot      = leakSecret{"xoxb-", "4Gt8Ln2Ws6Dq9Kz3Vh7Rp1Ub5"}
	leakSlackApp      = leakSecret{"xapp-1-", "Ce5Mx9Tb2Fw7Nj4Qs8Ly3Od6"}
	leakHookPath      = leakSecret{"", "Zr8Kd3Wm6Tp1Qv9Ye4Ga7"}
	leakHookToken     = leakSecret{"", "Jn5Bx2Hc7Lf4Sy8Gt1Io3"}
	leakHMAC          = leakSecret{"hmac-", "Vq6Lz1Tn8Rk3Wd5Mx9Pc2Au4"}
	leakPagerDuty     = leakSecret{"", "Pq7Xm2Kz9Wd4Rt6Lb1Vn8Hc3Jf5Sy0Ga"[:32]}
	leakAMToken       = leakSecret{"amtok-", "Nw3Fk8Zq5Tx1Lm7Rc4Vd9Ei2"}
	leakSMTPPassword  = leakSecret{"smtp-", "Kc9Rw4Tz1Mq6Lx3Vb8Nd2Uf7"}
	leakHeartbeat     = leakSecret{"", "Ws4Hy9Pd2Kf7Nb1Tz6Qm3Lx8"}
)

var leakSecrets = []leakSecret{leakOpenAIAdmin, leakOpenAISession, leakAnthropic, leakDeepSeek, leakOpenRouter,
	leakSlackPath, leakSlackBot, leakSlackApp, leakHookPath, leakHookToken, leakHMAC, leakPagerDuty, leakAMToken, leakSMTPPassword, leakHeartbeat}

// echoes are the ways a server quotes a secret back: whole, its end after
// an ellipsis (as providers mask keys), its start, its middle, its body
// without the prefix, and in a URL's query.
func echoes(s leakSecret) []string {
	v, b := s.String(), s.body
	return []string{v, "…" + v[len(v)-10:], v[:len(s.prefix)+9] + "…", b[4:14], b, "https://help.example.com/keys?key=" + b[2:12]}
}

// echoOf is a server's answer quoting each of secrets every way.
func echoOf(secrets ...leakSecret) string {
	var parts []string
	for _, s := range secrets {
		parts = append(parts, echoes(s)...)
	}
	return strings.Join(parts, " ")
}

// owners maps a path prefix of the echo server to the secrets the source
// or receiver sending there holds: what it could quote back.
var owners = map[string][]leakSecret{
	"/source/openai/":     {leakOpenAIAdmin, leakOpenAISession},
	"/source/anthropic/":  {leakAnthropic},
	"/source/deepseek/":   {leakDeepSeek},
	"/source/openrouter/": {leakOpenRouter},
	"/api/":               {leakSlackBot, leakSlackApp},
	"/services/":          {leakSlackPath},
	"/hook/":              {leakHookPath, leakHookToken, leakHMAC},
	"/pd/":                {leakPagerDuty},
	"/am/":                {leakAMToken},
	"/hb/":                {leakHeartbeat},
}

// echoServer answers every request with an error whose body quotes the
// secrets of the part that sent it: in a provider's JSON envelope (which
// guardd reads the message of), as a Slack Web API answer, as an incoming
// webhook's text, as a receiver's JSON; 4xx, or 5xx for the sources on
// every other request.
func echoServer(t *testing.T) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		var echo string
		for prefix, secrets := range owners {
			if strings.HasPrefix(r.URL.Path, prefix) {
				echo = echoOf(secrets...)
			}
		}
		quoted := strings.ReplaceAll(echo, `"`, `\"`)
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/api/"): // the Slack Web API
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"ok":false,"error":"missing_scope","needed":"%s","detail":"%s"}`, quoted, quoted)
		case strings.HasPrefix(p, "/services/"): // a Slack incoming webhook
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "invalid_payload "+echo)
		case strings.HasPrefix(p, "/source/"):
			w.Header().Set("Content-Type", "application/json")
			code := http.StatusUnauthorized
			if n.Add(1)%2 == 0 {
				code = http.StatusInternalServerError
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error"}}`, quoted)
		default: // webhook, PagerDuty, Alertmanager, the dead-man's switch
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"invalid event","message":"%s","errors":["%s"]}`, quoted, quoted)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNoSecretLeavesThroughErrors puts a recognisable secret in every place
// the config takes one, points every source and receiver at servers that
// answer with errors quoting the secrets each holds (whole, their start,
// their end, their middle, in a URL's query), and drives guardd check, guardd notify
// test for every receiver, guardd status and guardd validate: no run of 8
// characters of any secret beyond its public prefix may appear in an error,
// a log line or the output.
func TestNoSecretLeavesThroughErrors(t *testing.T) {
	t.Parallel()
	echo := echoServer(t)
	smtp := smtptest.New(t, smtptest.Options{Username: "guardd", Password: leakSMTPPassword.String(), NoStartTLS: true, AuthBeforeTLS: true})
	smtp.SetFault(smtptest.Fault{Stage: smtptest.Auth, Code: 535, Text: "5.7.8 Authentication failed: " + echoOf(leakSMTPPassword)})
	dir := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("examples", "expired-grants-counted.json"))
	source := func(kind, key string) string {
		return fmt.Sprintf("{type: %s, base_url: %q, %s, max_requests: 1}", kind, echo.URL+"/source/"+kind, key)
	}
	cfg := fmt.Sprintf(`schedule: "@every 1h"
log: {level: debug, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - {name: acme-file, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: %q}}
  - {name: acme-openai, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: %s}
  - {name: acme-anthropic, provider: anthropic, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: %s}
  - {name: acme-deepseek, provider: deepseek, currency: CNY, drawdown: grants-first, auto_recharge: {enabled: false}, source: %s}
  - {name: acme-openrouter, provider: openrouter, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: %s}
notifiers:
  - {name: slack-hook, type: slack, webhook_url_env: SLACK_URL, pacing: {max: 0}}
  - {name: slack-bot, type: slack, bot_token_env: SLACK_BOT, app_token_env: SLACK_APP, channel: C0ALERTS, api_url: %q, pacing: {max: 0}}
  - {name: hook, type: webhook, url_env: HOOK_URL, secret_env: HOOK_HMAC}
  - {name: pager, type: pagerduty, routing_key_env: PD_KEY, api_url: %q}
  - {name: am, type: alertmanager, url: %q, bearer_token_env: AM_TOKEN}
  - {name: mail, type: email, host: 127.0.0.1, port: %d, tls: none, username: guardd, password_env: SMTP_PASSWORD, from: guardd@example.com, to: [ops@example.com], pacing: {max: 0}}
heartbeat: {url_env: HB_URL, start: true}
`, filepath.Join(dir, "state.db"), src,
		source("openai", "admin_key_env: OPENAI_ADMIN, session_key_env: OPENAI_SESSION"),
		source("anthropic", "admin_key_env: ANTHROPIC_ADMIN"),
		source("deepseek", "api_key_env: DEEPSEEK_KEY"),
		source("openrouter", "management_key_env: OPENROUTER_KEY"),
		echo.URL+"/api", echo.URL+"/pd", echo.URL+"/am", smtp.Port())
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"OPENAI_ADMIN": leakOpenAIAdmin.String(), "OPENAI_SESSION": leakOpenAISession.String(), "ANTHROPIC_ADMIN": leakAnthropic.String(),
		"DEEPSEEK_KEY": leakDeepSeek.String(), "OPENROUTER_KEY": leakOpenRouter.String(),
		"SLACK_URL": echo.URL + "/services/T0GUARDD/B0GUARDD/" + leakSlackPath.String(),
		"SLACK_BOT": leakSlackBot.String(), "SLACK_APP": leakSlackApp.String(),
		"HOOK_URL":  echo.URL + "/hook/" + leakHookPath.String() + "?token=" + leakHookToken.String(),
		"HOOK_HMAC": leakHMAC.String(), "PD_KEY": leakPagerDuty.String(), "AM_TOKEN": leakAMToken.String(),
		"SMTP_PASSWORD": leakSMTPPassword.String(),
		"HB_URL":        echo.URL + "/hb/" + leakHeartbeat.String() + "?create=1",
	}
	var seen []string
	runAndKeep := func(wantErr bool, args ...string) {
		t.Helper()
		out, errOut, err := runCmd(t, env, args...)
		seen = append(seen, out, errOut)
		if err != nil {
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
		}
		if (err != nil) != wantErr {
			t.Errorf("%v: got error %v, want one: %t\n%s", args, err, wantErr, errOut)
		}
	}
	runAndKeep(true, "check", "--config", path)
	for _, name := range []string{"slack-hook", "slack-bot", "hook", "pager", "am", "mail"} {
		runAndKeep(true, "notify", "test", "--config", path, "--receiver", name)
	}
	runAndKeep(false, "status", "--config", path)
	runAndKeep(false, "validate", "--print", "--config", path)
	// With the servers gone, the network errors, which libraries word with
	// the URL, secret path and query included.
	echo.Close()
	smtp.Close()
	runAndKeep(true, "check", "--config", path)
	for _, name := range []string{"slack-hook", "slack-bot", "hook", "mail"} {
		runAndKeep(true, "notify", "test", "--config", path, "--receiver", name)
	}

	// Every path was driven: each source and receiver failed at least once.
	all := strings.Join(seen, "\n")
	for _, want := range []string{"acme-openai", "acme-anthropic", "acme-deepseek", "acme-openrouter",
		"receiver slack-hook", "receiver slack-bot", "receiver hook", "receiver pager", "receiver am", "receiver mail", "535",
		"connection refused", `"heartbeat ping failed","ping":"start"`, `"heartbeat ping failed","ping":"fail"`, `"status":400`} {
		if !strings.Contains(all, want) {
			t.Errorf("no failure of %s was seen:\n%s", want, all)
		}
	}
	var bodies []string
	for _, s := range leakSecrets {
		bodies = append(bodies, s.body)
	}
	for _, text := range seen {
		if run, s := receivertest.Leak(text, bodies); run != "" {
			t.Errorf("%q of the secret %s shows in:\n%s", run, s, text)
		}
	}
	if strings.Contains(all, "?key=") {
		t.Errorf("a URL's query shows in the output:\n%s", all)
	}
}
