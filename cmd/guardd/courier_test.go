package main

import (
	"strings"
	"testing"
	"time"
)

// TestSlowReceiverDelaysNoPoll runs guardd run every second with a Slack
// that hangs on every message until its 30 s timeout: the polls go on,
// every second, while the first message still waits, and the cycle's
// log says so; when guardd run stops, it waits for the
// message in flight no longer than the shutdown's grace.
func TestSlowReceiverDelaysNoPoll(t *testing.T) {
	t.Parallel()
	slack := newRecordingSlack(t)
	slack.block = true
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	editConfig(t, cfg, "webhook_url_env: TEAM_SLACK_URL", "webhook_url_env: TEAM_SLACK_URL\n    timeout: 30s")
	getenv := func(k string) (string, bool) {
		if k == "TEAM_SLACK_URL" {
			return slack.srv.URL + "/services/T0/B0/secret", true
		}
		return "", false
	}
	errOut, done, cancel := runInProcess(t, getenv, "--config", cfg, "--shutdown-timeout", "1s")
	select {
	case <-slack.blocked:
	case <-time.After(30 * time.Second):
		t.Fatalf("no message reached Slack in 30s\n%s", errOut.String())
	}
	hung := time.Now()
	before := countLines(errOut.String(), "cycle done")
	for countLines(errOut.String(), "cycle done") < before+3 {
		if time.Since(hung) > 20*time.Second {
			t.Fatalf("%d cycles in the 20s after Slack hung, want 3 (the polls wait for the delivery)\n%s",
				countLines(errOut.String(), "cycle done")-before, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(slack.blocked); n != 0 {
		t.Errorf("%d more messages reached Slack while the first hung; a receiver sends one at a time", n)
	}
	if strings.Contains(errOut.String(), "notifications delivered") {
		t.Errorf("a delivery was logged while Slack hung\n%s", errOut.String())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("guardd run did not stop within its 1s grace (and some)\n%s", errOut.String())
	}
}
