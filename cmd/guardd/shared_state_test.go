package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/storetest"
)

// TestRefusedStateIsLeftAlone points status and check at a state database
// they must refuse, beside the -wal and -shm of a process that had it open:
// each prints the refusal and leaves the three files byte for byte as they
// were.
func TestRefusedStateIsLeftAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string) []string
		want string
	}{
		{"corrupt", func(t *testing.T, path string) []string {
			names := storetest.LeftOpen(t, path, nil, storetest.Poll)
			storetest.Corrupt(t, path)
			return names
		}, "the database is corrupt"},
		{"newer schema", func(t *testing.T, path string) []string {
			return storetest.LeftOpen(t, path, nil, storetest.Newer)
		}, "schema version 99 is newer than this guardd understands"},
	} {
		for _, cmd := range []string{"status", "check"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				dir := t.TempDir()
				cfg := stateConfig(t, dir, "expired-grants-counted.json")
				path := filepath.Join(dir, "state.db")
				names := tc.make(t, path)
				before := storetest.ReadAll(t, names)
				_, _, err := runCmd(t, map[string]string{"TEAM_SLACK_URL": "http://127.0.0.1:9/unused"}, cmd, "--config", cfg)
				if want := "open state database " + path + ": " + tc.want; err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("got error %v, want %s…", err, want)
				}
				storetest.Unchanged(t, names, before)
			})
		}
	}
}

// TestStateWriteFailureSaysSo makes the state database refuse the poll a
// check records: check reports that the state could not be written, not
// that notifications could not be delivered. A delivery failure still says
// it is one.
func TestStateWriteFailureSaysSo(t *testing.T) {
	slack := slacktest.NewWebhook(t)
	env := map[string]string{"TEAM_SLACK_URL": slack.URL()}
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
		t.Fatalf("first check: %v", err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER full BEFORE INSERT ON polls BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, env, "check", "--config", cfg)
	if want := "write state: account acme-openai: "; err == nil || !strings.HasPrefix(err.Error(), want) ||
		!strings.Contains(err.Error(), "disk full") || strings.Contains(err.Error(), "deliver notifications") {
		t.Errorf("got error %v, want %s… disk full, and no word of delivery", err, want)
	}

	if _, err := db.Exec(`DROP TRIGGER full`); err != nil {
		t.Fatal(err)
	}
	slack.SetFault(slacktest.NoService) // not retried: a revoked webhook
	if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
		t.Fatalf("check at 01:00, nothing to send: %v", err)
	}
	_, _, err = runCmd(t, env, "check", "--config", cfg) // 02:00: recharge-above-threshold
	if want := "deliver notifications: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got error %v, want %s…", err, want)
	}
}

// TestSecondRunRefuses starts guardd run, then a second guardd run on the
// same state: the second refuses to start and names the first, while a
// check beside the first runs as usual. Killed, the first leaves the state
// free for the next run.
func TestSecondRunRefuses(t *testing.T) {
	env := map[string]string{"TEAM_SLACK_URL": slacktest.NewWebhook(t).URL()}
	dir := t.TempDir()
	cfg, first, firstErr := startRun(t, dir, env)
	logLine(t, firstErr, "cycle done")

	second := guarddProc(t, env, "run", "--config", cfg)
	var secondErr syncBuffer
	second.Stderr = &secondErr
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- second.Wait() }()
	var exit *exec.ExitError
	select {
	case err := <-exited:
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("second run: got %v, want exit status 1", err)
		}
	case <-started(t, &secondErr):
		second.Process.Kill()
		<-exited
		t.Fatalf("a second guardd run started beside the first:\n%s", secondErr.String())
	case <-time.After(2 * time.Minute):
		second.Process.Kill()
		<-exited
		t.Fatalf("the second guardd run neither refused nor started:\n%s", secondErr.String())
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf("guardd: another guardd run uses this state: pid %d on %s (since ", first.Process.Pid, host)
	if !strings.Contains(secondErr.String(), want) {
		t.Errorf("second run's error: got\n%s\nwant a line starting %s", secondErr.String(), want)
	}

	if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
		t.Errorf("check beside the daemon: %v", err)
	}

	if err := first.Process.Kill(); err != nil { // SIGKILL: no clean shutdown
		t.Fatal(err)
	}
	first.Wait()
	lock, err := store.LockDaemon(filepath.Join(dir, "state.db"), time.Now())
	if err != nil {
		t.Fatalf("lock after the first run was killed: %v", err)
	}
	lock.Unlock()
}

// startRun starts guardd run as a separate process on stateConfig's
// config in dir, scheduled to run one cycle, at start. It is killed when
// the test ends.
func startRun(t *testing.T, dir string, env map[string]string) (cfg string, cmd *exec.Cmd, stderr *syncBuffer) {
	t.Helper()
	cfg = stateConfig(t, dir, "hourly-recharge.json")
	editConfig(t, cfg, `schedule: "@every 1s"`, `schedule: "@every 1h"`)
	cmd = guarddProc(t, env, "run", "--config", cfg)
	stderr = new(syncBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cfg, cmd, stderr
}

// started is closed once buf holds the log line of a daemon that started;
// it stops looking when the test ends.
func started(t *testing.T, buf *syncBuffer) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		for !strings.Contains(buf.String(), `"msg":"guardd started"`) {
			select {
			case <-t.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		close(c)
	}()
	return c
}

// holdingSlack is a slow Slack: it passes messages on to slacktest
// webhooks (by the first part of the path: /team/… to team, /ops/… to
// ops), but the first message of each round waits until the round lets it
// go. A message whose sender stopped waiting is dropped, as a Slack that
// never answered would drop it.
type holdingSlack struct {
	srv       *httptest.Server
	team, ops *slacktest.Server

	mu      sync.Mutex
	held    bool
	arrived chan struct{} // closed when the round's first message arrives
	release chan struct{} // closed to let it go
	once    *sync.Once
}

func newHoldingSlack(t *testing.T) *holdingSlack {
	h := &holdingSlack{team: slacktest.NewWebhook(t), ops: slacktest.NewWebhook(t)}
	h.arm()
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() { h.letGo(); h.srv.Close() })
	return h
}

// arm starts a round: its first message will wait.
func (h *holdingSlack) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held, h.arrived, h.release, h.once = false, make(chan struct{}), make(chan struct{}), &sync.Once{}
}

// letGo lets the round's held message go on.
func (h *holdingSlack) letGo() {
	h.mu.Lock()
	release, once := h.release, h.once
	h.mu.Unlock()
	once.Do(func() { close(release) })
}

func (h *holdingSlack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	first, arrived, release := !h.held, h.arrived, h.release
	h.held = true
	h.mu.Unlock()
	if first {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	if r.Context().Err() != nil {
		return
	}
	to := h.team
	if strings.HasPrefix(r.URL.Path, "/ops/") {
		to = h.ops
	}
	resp, err := http.Post(to.URL(), r.Header.Get("Content-Type"), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// TestConcurrentChecksSendOnce runs twenty rounds of two guardd check
// processes on one state file, as a CronJob's check and one run by hand:
// the second starts while the first is sending its first message, which
// Slack holds until the second has finished. Every message goes out once,
// to each of two receivers, and both processes exit 0.
func TestConcurrentChecksSendOnce(t *testing.T) {
	t.Parallel()
	slack := newHoldingSlack(t)
	env := map[string]string{
		"TEAM_SLACK_URL": slack.srv.URL + "/team/services/T0/B0/secret",
		"OPS_SLACK_URL":  slack.srv.URL + "/ops/services/T0/B1/secret",
	}
	const rounds = 20
	for round := 1; round <= rounds; round++ {
		dir := t.TempDir()
		cfg := stateConfig(t, dir, "expired-grants-counted.json")
		body, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ops := string(body) + "  - name: ops-slack\n    type: slack\n    webhook_url_env: OPS_SLACK_URL\n"
		if err := os.WriteFile(cfg, []byte(ops), 0o600); err != nil {
			t.Fatal(err)
		}
		slack.arm()

		first := guarddProc(t, env, "check", "--config", cfg)
		var firstOut syncBuffer
		first.Stdout, first.Stderr = &firstOut, &firstOut
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- first.Wait() }()
		select {
		case <-slack.arrived:
		case err := <-done:
			t.Fatalf("round %d: the first check ended (%v) before sending anything:\n%s", round, err, firstOut.String())
		}
		out, err := guarddProc(t, env, "check", "--config", cfg).CombinedOutput()
		if err != nil {
			t.Errorf("round %d: the second check: %v\n%s", round, err, out)
		}
		slack.letGo()
		if err := <-done; err != nil {
			t.Errorf("round %d: the first check: %v\n%s", round, err, firstOut.String())
		}
		for _, s := range []*slacktest.Server{slack.team, slack.ops} {
			if got := len(s.Messages()); got != round {
				t.Fatalf("round %d: got %d messages in all at a receiver, want %d: one per round", round, got, round)
			}
		}
	}
	for _, s := range []*slacktest.Server{slack.team, slack.ops} {
		for i, m := range s.Messages() {
			if title, _, _ := strings.Cut(m.Text, "  "); title != "[WARNING] phantom-balance on acme-openai" {
				t.Errorf("message %d: got %q, want the phantom balance", i, title)
			}
		}
	}
}
