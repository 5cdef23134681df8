package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStatusAndSilences(t *testing.T) {
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret", "USER": "alice"}

	if _, _, err := runCmd(t, env, "status", "--config", cfg); err == nil || !strings.Contains(err.Error(), "no state database at") {
		t.Fatalf("status before any check: got %v, want 'no state database'", err)
	}
	for range 5 { // 00:00 to 04:00: the burst fired at 03:00
		if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Commands that only read or mark the state need no secret.
	env = map[string]string{"USER": "alice"}
	out, _, err := runCmd(t, env, "silence", "add", "--config", cfg, "--rule", "recharge-burst", "--for", "24h", "--comment", "ticket 4711")
	if err != nil || !strings.HasPrefix(out, "silence #1: recharge-burst on every account until ") {
		t.Fatalf("silence add: got %q, %v", out, err)
	}
	out, _, err = runCmd(t, env, "status", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "ACCOUNT      REAL    SHOWN   RUNWAY  BURN       LAST POLL") ||
		!strings.HasPrefix(lines[1], "acme-openai  $42.80  $42.80  7 days  $6.00/day  2026-10-14 04:00 UTC, ") ||
		!strings.HasSuffix(lines[1], " ago, ok  recharge-burst (critical), recharge-above-threshold (warning)") ||
		lines[3] != "delivery: every notification delivered (1 receiver)" {
		t.Errorf("status: got\n%s", out)
	}
	out, _, err = runCmd(t, env, "status", "--config", cfg, "--account", "acme-openai")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"acme-openai (openai, USD)",
		"  sees         costs ✓ charges inferred balance ✓ grants ✓ → live: recharge-burst,",
		"  balance      $42.80 effective; the provider shows $42.80",
		"  as of        2026-10-14 04:00 UTC (",
		"  runway       7 days at $6.00/day (burn over the last 4 hours), until 2026-10-21",
		"  last poll    2026-10-14 04:00 UTC ok",
		"  alert        [CRITICAL] recharge-burst recharges since 2026-10-14 03:00 UTC (notified 2026-10-14 03:00 UTC)",
		"  alert        [WARNING] recharge-above-threshold recharges since 2026-10-14 02:00 UTC",
		"by alice: ticket 4711",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status --account lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCmd(t, env, "status", "--config", cfg, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Accounts []struct {
			Name    string
			Balance struct {
				Effective  string
				BurnPerDay string `json:"burn_per_day"`
			}
			Alerts []struct{ Rule string }
		}
		Receivers []struct {
			Name    string
			Pending int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --output json: %v\n%s", err, out)
	}
	if len(rep.Accounts) != 1 || rep.Accounts[0].Balance.Effective != "42.8" || rep.Accounts[0].Balance.BurnPerDay != "6" ||
		len(rep.Accounts[0].Alerts) != 2 || len(rep.Receivers) != 1 || rep.Receivers[0].Name != "team-slack" {
		t.Errorf("status --output json: got %+v from\n%s", rep, out)
	}
	if _, _, err := runCmd(t, env, "status", "--config", cfg, "--account", "nope"); err == nil || !strings.Contains(err.Error(), `account "nope" is not in`) {
		t.Errorf("status --account nope: got %v", err)
	}
	if out, _, _ := runCmd(t, env, "silence", "list", "--config", cfg); !strings.Contains(out, "#1  recharge-burst on every account") || !strings.Contains(out, "active") {
		t.Errorf("silence list: got %q", out)
	}
	if out, _, err := runCmd(t, env, "silence", "expire", "--config", cfg, "1"); err != nil || out != "silence #1 expired\n" {
		t.Errorf("silence expire: got %q, %v", out, err)
	}
	if out, _, _ := runCmd(t, env, "silence", "list", "--config", cfg); out != "no silences\n" {
		t.Errorf("silence list after expiry: got %q, want no silences", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"silence", "add", "--config", cfg, "--rule", "recharge-brust", "--for", "1h", "--comment", "x"}, `unknown rule "recharge-brust"`},
		{[]string{"silence", "add", "--config", cfg, "--rule", "recharge-burst", "--account", "nope", "--for", "1h", "--comment", "x"}, `account "nope" is not in`},
		{[]string{"silence", "add", "--config", cfg, "--rule", "recharge-burst", "--for", "1h"}, "--comment"},
		{[]string{"silence", "expire", "--config", cfg, "7"}, "expire silence 7: not found"},
		{[]string{"silence", "mute"}, `unknown subcommand "mute"`},
	} {
		if _, _, err := runCmd(t, env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// Commands that only read need no secret: a config whose Slack URL
// variable is unset still prints and replays; only validate, which checks
// the secrets, names it.
func TestReadOnlyCommandsNeedNoSecret(t *testing.T) {
	cfg := stateConfig(t, t.TempDir(), "hourly-recharge.json")
	none := map[string]string{}
	out, _, err := runCmd(t, none, "validate", "--print", "--config", cfg)
	if err != nil || !strings.Contains(out, "webhook_url_env: TEAM_SLACK_URL") {
		t.Errorf("validate --print without the secret: got %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, none, "validate", "--config", cfg); err == nil || !strings.Contains(err.Error(), "TEAM_SLACK_URL is not set") {
		t.Errorf("validate without the secret: got %v, want it to name TEAM_SLACK_URL", err)
	}
	out, _, err = runCmd(t, none, "replay", "--config", cfg, "examples/hourly-recharge.json")
	if err != nil || !strings.Contains(out, "recharge-burst") {
		t.Errorf("replay --config without the secret: got %v\n%s", err, out)
	}
}
