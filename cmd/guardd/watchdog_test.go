package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/alertmanager/alertmanagertest"
	"github.com/guardd/guardd/internal/heartbeat/heartbeattest"
)

// TestCheckSendsWatchdog: with watchdog: true, guardd check leaves the
// always-firing GuarddWatchdog alert in a real Alertmanager, ending
// watchdog_timeout from now; without it, none.
func TestCheckSendsWatchdog(t *testing.T) {
	am := alertmanagertest.Start(t)
	cfg := amConfig(t, t.TempDir(), "expired-grants-counted.json", "url: "+am.URL()+"\n    watchdog: true\n    watchdog_timeout: 20m")
	before := time.Now()
	if _, errOut, err := runCmd(t, nil, "check", "--config", cfg); err != nil {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
	got := firing(t, am, "GuarddWatchdog")
	if len(got) != 1 {
		t.Fatalf("after check: got %d active GuarddWatchdog alerts, want 1; all: %+v\n%s", len(got), am.Alerts(t), am.Log())
	}
	if w := got[0]; w.Labels["severity"] != "none" || w.Labels["account"] != "" ||
		w.EndsAt.Before(before.Add(20*time.Minute-time.Second)) || w.EndsAt.After(time.Now().Add(20*time.Minute+time.Second)) {
		t.Errorf("watchdog: got labels %v ending %s, want severity none, no account, ending 20m after the check", w.Labels, w.EndsAt)
	}
	if n := len(firing(t, am, "phantom-balance")); n != 1 {
		t.Errorf("phantom-balance: got %d active, want 1 beside the watchdog", n)
	}

	off := alertmanagertest.Start(t)
	cfg = amConfig(t, t.TempDir(), "expired-grants-counted.json", "url: "+off.URL())
	if _, errOut, err := runCmd(t, nil, "check", "--config", cfg); err != nil {
		t.Fatalf("check without watchdog: %v\n%s", err, errOut)
	}
	if got := firing(t, off, "GuarddWatchdog"); len(got) != 0 {
		t.Errorf("without watchdog: got %d GuarddWatchdog alerts, want none", len(got))
	}
}

// TestWatchdogReachesDeadManThroughDocumentedRoute runs Alertmanager with
// the route docs/deploy.md shows, its webhook pointed at a fake
// healthchecks.io: after guardd check, Alertmanager pings the dead-man's
// switch with GuarddWatchdog, and with it alone.
func TestWatchdogReachesDeadManThroughDocumentedRoute(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, route, ok := strings.Cut(string(doc), "```yaml\n# alertmanager.yml\n")
	route, _, _ = strings.Cut(route, "```")
	const placeholder = "https://hc-ping.com/<uuid>"
	if !ok || !strings.Contains(route, placeholder) {
		t.Fatalf("docs/deploy.md shows no alertmanager.yml with a webhook to %s", placeholder)
	}
	hb := heartbeattest.New(t)
	am := alertmanagertest.StartConfig(t, strings.Replace(route, placeholder, hb.URL(), 1))
	cfg := amConfig(t, t.TempDir(), "expired-grants-counted.json", "url: "+am.URL()+"\n    watchdog: true")
	if _, errOut, err := runCmd(t, nil, "check", "--config", cfg); err != nil {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
	var p heartbeattest.Ping
	select {
	case p = <-hb.Received():
	case <-time.After(time.Minute):
		t.Fatalf("the dead-man's switch heard nothing from Alertmanager within a minute\n%s", am.Log())
	}
	var msg struct {
		Status string
		Alerts []struct{ Labels map[string]string }
	}
	if err := json.Unmarshal([]byte(p.Body), &msg); err != nil {
		t.Fatalf("ping body: %v\n%s", err, p.Body)
	}
	if p.Kind != "success" || msg.Status != "firing" || len(msg.Alerts) != 1 || msg.Alerts[0].Labels["alertname"] != "GuarddWatchdog" {
		t.Errorf("ping: got %s %s with %+v, want a success ping with the firing GuarddWatchdog alone", p.Kind, msg.Status, msg.Alerts)
	}
}
