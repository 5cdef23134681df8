package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/status"
)

// TestFirstHour is a new user's first hour, each command a process of its
// own as a person would run it: a quick look with guardd balance (no state
// database), then guardd check with an expired session key, while Slack
// takes messages and then stops taking them. The reason and the fix reach
// the Slack alert and status, status needs no secret, and a notification
// Slack refused shows as not delivered.
func TestFirstHour(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	openai := pollertest.NewOpenAI(t)
	g := pollertest.PurchaseGrant("cg_01", "50.00", now.AddDate(0, 0, -10))
	g.Used = "12.50"
	openai.SetGrants(g)
	for d := 1; d <= 7; d++ {
		openai.SetCost(now.AddDate(0, 0, -d), "1.75")
	}
	slack := slacktest.NewWebhook(t)

	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	cfg := filepath.Join(dir, "guardd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state: {path: %q}
http: {addr: off}
accounts:
  - name: acme
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: openai, base_url: %q, admin_key_env: OPENAI_ADMIN_KEY, session_key_env: OPENAI_SESSION_KEY}
notifiers:
  - {name: team-slack, type: slack, webhook_url_env: SLACK_WEBHOOK_URL}
`, state, openai.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	const expired = "sess-expired0123456789abcdef"
	keys := map[string]string{"OPENAI_ADMIN_KEY": openai.AdminKey, "OPENAI_SESSION_KEY": openai.SessionKey}
	withExpired := map[string]string{"OPENAI_ADMIN_KEY": openai.AdminKey, "OPENAI_SESSION_KEY": expired, "SLACK_WEBHOOK_URL": slack.URL()}
	guardd := func(env map[string]string, args ...string) (string, error) {
		t.Helper()
		out, err := guarddProc(t, env, args...).CombinedOutput()
		return string(out), err
	}
	secrets := []string{openai.AdminKey, openai.SessionKey, expired, slack.Path()}

	// The quick look: the real balance and a runway from the week of costs,
	// with no state database and no Slack URL.
	out, err := guardd(keys, "balance", "--config", cfg)
	if err != nil {
		t.Fatalf("balance: %v\n%s", err, out)
	}
	if !strings.Contains(out, "  $37.50  $37.50  21 days  $1.75/day (costs)  ") {
		t.Errorf("balance: want the real balance and a runway from costs:\n%s", out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("balance made a state database (stat: %v)", err)
	}

	// Three polls with an expired session key: the grants and the balance
	// go blind, and Slack is told why and what to do.
	for i := range 3 {
		// Exit 3: read, but only in part.
		if out, err := guardd(withExpired, "check", "--config", cfg); exitStatus(err) != 3 {
			t.Fatalf("check %d: %v, want exit status 3\n%s", i, err, out)
		} else if i == 0 && !strings.Contains(out, `"why":"GET /dashboard/billing/credit_grants: http 401 Unauthorized`) {
			t.Errorf("check: the log does not say why the grants were not read:\n%s", out)
		}
	}
	var blind string
	for _, raw := range slack.Raw() {
		if m := string(raw); strings.Contains(m, "could not read the balance and grants of account acme") {
			blind = m
		}
	}
	const refused = "the session key (session_key) was refused. Fix: give a browser session key (sess-…)"
	if !strings.Contains(blind, refused) || !strings.Contains(blind, "Recommendation: Fix: give a browser session key") {
		t.Errorf("source-blind on Slack: want the refused key and the fix, got:\n%s\n(all: %q)", blind, slack.Raw())
	}

	// status with no secret at all: the reason, in detail.
	out, err = guardd(nil, "status", "--config", cfg, "--account", "acme")
	checkNoSecret(t, secrets, out)
	if err != nil {
		t.Fatalf("status with no secret: %v\n%s", err, out)
	}
	if !strings.Contains(out, "  unavailable  grants: GET /dashboard/billing/credit_grants: http 401 Unauthorized") || !strings.Contains(out, refused) {
		t.Errorf("status --account: want why the grants were not read:\n%s", out)
	}

	// The key is replaced while Slack's webhook is gone: the resolutions
	// are not delivered, and status says so with Slack's answer.
	slack.SetFault(slacktest.NoService)
	withExpired["OPENAI_SESSION_KEY"] = openai.SessionKey
	for range 3 {
		guardd(withExpired, "check", "--config", cfg) // fails when a delivery does
	}
	out, err = guardd(nil, "status", "--config", cfg)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "receiver team-slack: 1 not delivered yet, next attempt ") || !strings.Contains(out, "slack answered 404 Not Found (no_service): the webhook URL is wrong or has been revoked") {
		t.Errorf("status: want the undelivered resolutions and Slack's answer:\n%s", out)
	}
	out, err = guardd(nil, "status", "--config", cfg, "--output", "json")
	var rep status.Report
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Receivers) != 1 || rep.Receivers[0].Pending != 1 {
		t.Errorf("status --output json: %v, want team-slack with 1 pending:\n%s", err, out)
	}
	checkNoSecret(t, secrets, out, blind)
}

// exitStatus is the exit status of a process that ended with err.
func exitStatus(err error) int {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
