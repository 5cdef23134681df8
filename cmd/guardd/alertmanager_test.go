package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/alertmanager/alertmanagertest"
)

// amConfig writes a config whose one notifier is the Alertmanager at
// amKeys (url or urls, and more keys), over the recorded history example,
// with a state database in dir.
func amConfig(t *testing.T, dir, example, amKeys string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("examples", example))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`schedule: "0 0 1 1 *"
log: {level: debug, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - {name: acme-openai, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: %q}}
notifiers:
  - name: am
    type: alertmanager
    %s
`, filepath.Join(dir, "state.db"), abs, amKeys)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// firing returns the active alerts of am with alertname rule.
func firing(t *testing.T, am *alertmanagertest.Server, rule string) []alertmanagertest.Alert {
	t.Helper()
	var out []alertmanagertest.Alert
	for _, a := range am.Alerts(t) {
		if a.Labels["alertname"] == rule && a.Status.State == "active" {
			out = append(out, a)
		}
	}
	return out
}

// TestCheckResendsToRestartedAlertmanager runs guardd check against a real
// Alertmanager over a recorded history, whose findings are weeks old: the
// alert arrives active (endsAt from the wall clock, not from the old
// observation). Alertmanager restarts and forgets it; the next check,
// which has no notification due, sends it again.
func TestCheckResendsToRestartedAlertmanager(t *testing.T) {
	t.Parallel()
	am := alertmanagertest.Start(t)
	cfg := amConfig(t, t.TempDir(), "expired-grants-counted.json", "url: "+am.URL())
	if _, errOut, err := runCmd(t, nil, "check", "--config", cfg); err != nil {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
	got := firing(t, am, "phantom-balance")
	if len(got) != 1 {
		t.Fatalf("after check: got %d active phantom-balance alerts, want 1; all: %+v\n%s", len(got), am.Alerts(t), am.Log())
	}
	if got[0].EndsAt.Before(time.Now().Add(time.Hour)) {
		t.Errorf("endsAt: got %s, want a resolve timeout (25h) from now", got[0].EndsAt)
	}

	am.Restart(t)
	if got := am.Alerts(t); len(got) != 0 {
		t.Fatalf("after the restart: got %d alerts, want none", len(got))
	}
	_, errOut, err := runCmd(t, nil, "check", "--config", cfg)
	if err != nil {
		t.Fatalf("second check: %v\n%s", err, errOut)
	}
	if strings.Contains(errOut, `"alertmanager alert pushed"`) {
		t.Fatalf("the second check pushed a notification; the test wants one with none due:\n%s", errOut)
	}
	if got := firing(t, am, "phantom-balance"); len(got) != 1 {
		t.Errorf("after the second check: got %d active phantom-balance alerts, want it back\n%s", len(got), errOut)
	}
}

// TestRunResendsBetweenCycles runs guardd run with cycles a year apart
// against two real Alertmanagers (the replicas of a cluster). One stops
// and starts again, empty; the first resend after it came back brings
// the alert back, with no cycle in between.
func TestRunResendsBetweenCycles(t *testing.T) {
	t.Parallel()
	a, b := alertmanagertest.Start(t), alertmanagertest.Start(t)
	dir := t.TempDir()
	cfg := amConfig(t, dir, "expired-grants-counted.json",
		fmt.Sprintf("urls: [%s, %s]\n    resend_interval: 100ms", a.URL(), b.URL()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg}, proc{getenv: func(string) (string, bool) { return "", false }, stdout: &out, stderr: &errOut})
	}()
	logLine(t, &errOut, "notifications delivered")
	for name, am := range map[string]*alertmanagertest.Server{"a": a, "b": b} {
		if got := firing(t, am, "phantom-balance"); len(got) != 1 {
			t.Fatalf("%s after the first cycle: got %d active phantom-balance alerts, want 1\n%s", name, len(got), errOut.String())
		}
	}

	a.Stop()
	// A resend while a is down fails there (and reaches b). Resends run
	// one at a time, so any resend logged as delivered after this failure
	// started after the stop.
	waitLines(t, &errOut, "firing alerts not resent", 1)
	sent := countLines(errOut.String(), "alertmanager alerts resent")
	a.Restart(t)
	waitLines(t, &errOut, "alertmanager alerts resent", sent+1)
	if got := firing(t, a, "phantom-balance"); len(got) != 1 {
		t.Errorf("a after its restart and one resend: got %d active phantom-balance alerts, want 1\n%s", len(got), a.Log())
	}
	if n := countLines(errOut.String(), "cycle done"); n != 1 {
		t.Errorf("got %d cycles, want 1: the resend alone brought the alert back", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
}

// countLines counts the JSON log lines with msg in log.
func countLines(log, msg string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			n++
		}
	}
	return n
}

// waitLines waits until buf holds at least n JSON log lines with msg.
func waitLines(t *testing.T, buf *syncBuffer, msg string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); countLines(buf.String(), msg) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d log lines %q in:\n%s", n, msg, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
