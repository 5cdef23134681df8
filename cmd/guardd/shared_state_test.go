package main

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	slack := slacktest.NewWebhook(t)
	env := map[string]string{"TEAM_SLACK_URL": slack.URL()}
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hourly := strings.Replace(string(body), `schedule: "@every 1s"`, `schedule: "@every 1h"`, 1) // one cycle, at start
	if err := os.WriteFile(cfg, []byte(hourly), 0o600); err != nil {
		t.Fatal(err)
	}

	first := guarddProc(t, env, "run", "--config", cfg)
	var firstErr syncBuffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	logLine(t, &firstErr, "cycle done")

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
