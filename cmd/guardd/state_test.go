package main

import (
	"context"
	"encoding/json"
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

	"github.com/guardd/guardd/internal/store"
)

// guarddProc returns guardd run as a separate process: this test binary,
// re-executed into main().
func guarddProc(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GUARDD_TEST_AS_MAIN=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// recordingSlack is a fake Slack incoming webhook that records message
// titles; while block is set, requests hang until the test ends.
type recordingSlack struct {
	srv     *httptest.Server
	mu      sync.Mutex
	titles  []string
	at      []time.Time // when each title arrived
	block   bool
	blocked chan struct{}
	release chan struct{}
}

func newRecordingSlack(t *testing.T) *recordingSlack {
	s := &recordingSlack{blocked: make(chan struct{}, 16), release: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		block := s.block
		s.mu.Unlock()
		if block {
			s.blocked <- struct{}{}
			<-s.release
			return
		}
		var msg struct{ Text string }
		if err := json.Unmarshal(body, &msg); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		title, _, _ := strings.Cut(msg.Text, "  ")
		s.mu.Lock()
		s.titles = append(s.titles, title)
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(func() { close(s.release); s.srv.Close() })
	return s
}

func (s *recordingSlack) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.titles...)
}

// stateConfig watches one example with a Slack receiver and a state
// database in dir.
func stateConfig(t *testing.T, dir, example string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("examples", example))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`schedule: "@every 1s"
log: {level: debug, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - name: acme-openai
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}
    source: {type: file, path: %q}
notifiers:
  - name: team-slack
    type: slack
    webhook_url_env: TEAM_SLACK_URL
`, filepath.Join(dir, "state.db"), abs)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTenCheckProcessesShareOneDatabase runs guardd check as ten separate
// processes over the hourly recharge loop, one observation each: the alerts
// are sent once, repeated on schedule and resolved, as one daemon would.
func TestTenCheckProcessesShareOneDatabase(t *testing.T) {
	t.Parallel()
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret"}
	for i := range 14 {
		out, err := guarddProc(t, env, "check", "--config", cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("check process %d: %v\n%s", i, err, out)
		}
	}
	want := []string{
		"[WARNING] recharge-above-threshold on acme-openai",                                  // 02:00
		"[CRITICAL] recharge-burst on acme-openai",                                           // 03:00
		"[CRITICAL] recharge-burst on acme-openai (still firing since 2026-10-14 03:00 UTC)", // 07:00: repeated after 4 hours
		"[CRITICAL] recharge-burst on acme-openai (still firing since 2026-10-14 03:00 UTC)", // 11:00: and again
		"[RESOLVED] recharge-burst on acme-openai",                                           // 13:00: absent at 12:00 and 13:00
		"[WARNING] credits-accumulating on acme-openai",                                      // 13:00: no longer folded into the burst
	}
	if got := slack.got(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slack messages over 14 processes:\ngot  %q\nwant %q", got, want)
	}
	// Every holding finding was recorded, inhibited ones included.
	st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(context.Background(), func(tx *store.Tx) error {
		n, err := tx.ObservationCount("acme-openai")
		if err != nil || n != 14 {
			t.Errorf("stored observations: got %d (%v), want 14", n, err)
		}
		fs, err := tx.Findings("acme-openai", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		inhibited := 0
		for _, f := range fs {
			if f.Rule == "recharge-above-threshold" {
				inhibited++
			}
		}
		if inhibited < 10 {
			t.Errorf("recorded recharge-above-threshold findings: got %d, want one per evaluation from 02:00 (>= 10)", inhibited)
		}
		return nil
	})
}

// TestKilledBetweenWriteAndSend kills guardd while Slack hangs on the first
// notification, after the outbox row was committed; the next run delivers it
// exactly once.
func TestKilledBetweenWriteAndSend(t *testing.T) {
	t.Parallel()
	slack := newRecordingSlack(t)
	slack.block = true
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "expired-grants-counted.json")
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret"}
	cmd := guarddProc(t, env, "check", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slack.blocked:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("guardd never tried to send")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	if got := slack.got(); len(got) != 0 {
		t.Fatalf("delivered before the kill: %q", got)
	}
	slack.mu.Lock()
	slack.block = false
	slack.mu.Unlock()
	for i := range 2 {
		if out, err := guarddProc(t, env, "check", "--config", cfg).CombinedOutput(); err != nil {
			t.Fatalf("check after the kill (%d): %v\n%s", i, err, out)
		}
	}
	want := []string{"[WARNING] phantom-balance on acme-openai"}
	if got := slack.got(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slack messages after restart: got %q, want %q (exactly once)", got, want)
	}
}

// TestDaemonRestartMidLoop stops and restarts guardd run while the recharge
// burst is in progress: it stays one alert.
func TestDaemonRestartMidLoop(t *testing.T) {
	t.Parallel()
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret"}
	countObs := func() int {
		st, err := store.Open(context.Background(), filepath.Join(dir, "state.db"), store.Options{})
		if err != nil {
			return 0
		}
		defer st.Close()
		n := 0
		st.View(context.Background(), func(tx *store.Tx) error { n, _ = tx.ObservationCount("acme-openai"); return nil })
		return n
	}
	runUntil := func(obs int) {
		cmd := guarddProc(t, env, "run", "--config", cfg)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for countObs() < obs && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("guardd run: %v\n%s", err, out.String())
		}
		if n := countObs(); n < obs {
			t.Fatalf("observations stored: got %d, want %d\n%s", n, obs, out.String())
		}
	}
	runUntil(5) // 00:00-04:00: the burst fired at 03:00
	before := slack.got()
	runUntil(7) // restarted: 05:00 onwards
	after := slack.got()
	bursts := 0
	for _, m := range after {
		if m == "[CRITICAL] recharge-burst on acme-openai" {
			bursts++
		}
	}
	if bursts != 1 {
		t.Errorf("recharge-burst messages across the restart: got %d, want 1 (before %q, after %q)", bursts, before, after)
	}
}

// firstAt returns when title first arrived, or the zero time.
func (s *recordingSlack) firstAt(title string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range s.titles {
		if t == title {
			return s.at[i]
		}
	}
	return time.Time{}
}
