package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store"
)

// logLine waits for a JSON log line with msg and returns its fields.
func logLine(t *testing.T, buf *syncBuffer, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(buf.String()))
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line %q in:\n%s", msg, buf.String())
	return nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDaemonMetricsHealthAndReload(t *testing.T) {
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "expired-grants-counted.json")
	body, _ := os.ReadFile(cfg)
	good := strings.Replace(string(body), "http: {addr: off}", "http: {addr: \"127.0.0.1:0\"}", 1)
	good = strings.Replace(good, "auto_recharge: {enabled: true, threshold: \"5.00\", mode: add, amount: \"10.00\"}", "auto_recharge: {enabled: false}", 1)
	good = strings.Replace(good, `schedule: "@every 1s"`, `schedule: "@every 1h"`, 1) // one cycle: the scrape below is exact
	if err := os.WriteFile(cfg, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	slack := newRecordingSlack(t)
	getenv := func(k string) (string, bool) {
		if k == "TEAM_SLACK_URL" {
			return slack.srv.URL + "/services/T0/B0/secret", true
		}
		return "", false
	}
	reload := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg}, proc{getenv: getenv, stdout: &out, stderr: &errOut, reload: reload})
	}()

	addr := logLine(t, &errOut, "serving metrics and health")["addr"].(string)
	base := "http://" + addr
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: got %d, want 200", code)
	}
	logLine(t, &errOut, "cycle done")
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz after a cycle: got %d, want 200", code)
	}
	logLine(t, &errOut, "notifications delivered") // apart from the cycle
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`guardd_effective_balance{account="acme-openai",currency="USD"} 3.93`,
		`guardd_shown_balance{account="acme-openai",currency="USD"} 69`,
		`guardd_findings{account="acme-openai",rule="phantom-balance",severity="warning"} 1`,
		`guardd_notifications_delivered_total 1`,
		`guardd_cycles_total 1`,
		`guardd_build_info{goversion="` + runtime.Version() + `",revision=`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A broken config is refused and the running one kept.
	if err := os.WriteFile(cfg, []byte(good+"bogus: key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	failed := logLine(t, &errOut, "config reload failed; keeping the running config")
	if e, _ := failed["error"].(string); !strings.Contains(e, `unknown key "bogus"`) {
		t.Errorf("reload error: got %q, want the unknown key named", e)
	}
	// A good one is taken.
	if err := os.WriteFile(cfg, []byte(strings.Replace(good, `schedule: "@every 1h"`, `schedule: "@every 2h"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	if got := logLine(t, &errOut, "config reloaded")["schedule"]; got != "@every 2h" {
		t.Errorf("reloaded schedule: got %v, want @every 2h", got)
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
	if n := len(slack.got()); n != 1 {
		t.Errorf("slack messages: got %d, want 1 (the phantom balance, once)", n)
	}
}

// TestDaemonAnswersSlackButtons runs guardd run in Slack bot mode with an
// app-level token: the alert carries buttons, and pressing Acknowledge
// records who did in the state store.
func TestDaemonAnswersSlackButtons(t *testing.T) {
	api := slacktest.NewAPI(t)
	dir := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("examples", "expired-grants-counted.json"))
	cfg := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf(`schedule: "@every 1h"
log: {level: debug, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - {name: acme, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: %q}}
notifiers:
  - {name: team-slack, type: slack, bot_token_env: BOT, app_token_env: APP, channel: %s, api_url: %q}
`, filepath.Join(dir, "state.db"), src, slacktest.AlertsChannel, api.URL())
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) (string, bool) {
		switch k {
		case "BOT":
			return api.BotToken(), true
		case "APP":
			return api.AppToken(), true
		}
		return "", false
	}
	errOut, done, cancel := runInProcess(t, getenv, "--config", cfg)
	logLine(t, errOut, "notifications delivered")
	wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer wcancel()
	if err := api.WaitConnected(wctx); err != nil {
		t.Fatalf("socket mode never connected: %v\n%s", err, errOut.String())
	}
	msgs := api.Messages(slacktest.AlertsChannel)
	if len(msgs) != 1 {
		t.Fatalf("messages: got %d, want the phantom-balance alert", len(msgs))
	}
	acked, err := api.Press(slacktest.AlertsChannel, msgs[0].TS, slack.ActionAck, slacktest.User{ID: "U42", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-time.After(30 * time.Second):
		t.Fatal("the press was never acknowledged")
	}
	// The envelope is acknowledged before the work (Slack wants it within 3
	// s); the thread reply comes once the press is recorded.
	for deadline := time.Now().Add(30 * time.Second); len(api.Replies(slacktest.AlertsChannel, msgs[0].TS)) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no reply to the press; log:\n%s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Lifecycle().View(context.Background(), func(tx lifecycle.Tx) error {
		as, err := tx.Alerts("acme", lifecycle.Firing)
		if err != nil || len(as) != 1 || as[0].AckedBy == "" {
			t.Errorf("alert acknowledged by %q (%d alerts, %v), want alice's press recorded; log:\n%s", ackedBy(as), len(as), err, errOut.String())
		}
		return nil
	})
}

func ackedBy(as []lifecycle.Alert) string {
	if len(as) == 0 {
		return ""
	}
	return as[0].AckedBy
}

// runInProcess runs guardd run in this process with args after "run": it
// returns what it logs, the channel its result arrives on, and the cancel
// that stops it (as SIGTERM does; also called when the test ends).
func runInProcess(t *testing.T, getenv getenvFunc, args ...string) (stderr *syncBuffer, done <-chan error, stop context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stderr = new(syncBuffer)
	result := make(chan error, 1)
	go func() {
		result <- run(ctx, append([]string{"run"}, args...), proc{getenv: getenv, stdout: io.Discard, stderr: stderr})
	}()
	return stderr, result, cancel
}
