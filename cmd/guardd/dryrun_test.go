package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/store"
)

// TestCheckDryRunWithState pins what guardd check --dry-run prints, byte for
// byte, for two accounts: without a state database yet (the phantom balance
// of the expired grants example fires on each), and over one on the hourly
// recharge loop at 07:00 (the burst repeats) and at 13:00 (on each account
// the burst resolves and credits-accumulating fires).
// Nothing is sent or stored: a second dry run prints the same.
func TestCheckDryRunWithState(t *testing.T) {
	slack := newRecordingSlack(t)
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret"}
	for _, tc := range []struct {
		name, example string
		checks        int // real checks before the dry run, one observation each
	}{
		{"dry-run-fresh", "expired-grants-counted.json", 0},
		{"dry-run-0700", "hourly-recharge.json", 7},
		{"dry-run-1300", "hourly-recharge.json", 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			abs, err := filepath.Abs(filepath.Join("examples", tc.example))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			text := fmt.Sprintf(`schedule: "@every 1h"
log: {level: debug, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - {name: acme-openai, provider: openai, currency: USD, drawdown: expiring-first, source: {type: file, path: %q},
     auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}}
  - {name: acme-two, provider: openai, currency: USD, drawdown: expiring-first, source: {type: file, path: %q},
     auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}}
notifiers:
  - {name: team-slack, type: slack, webhook_url_env: TEAM_SLACK_URL}
`, filepath.Join(dir, "state.db"), abs, abs)
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			for i := range tc.checks {
				if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
					t.Fatalf("check %d: %v", i, err)
				}
			}
			sent, before := len(slack.got()), stateSnapshot(t, filepath.Join(dir, "state.db"))
			out, _, err := runCmd(t, env, "check", "--dry-run", "--config", cfg)
			if err != nil {
				t.Fatalf("check --dry-run: %v", err)
			}
			golden(t, filepath.Join("cmd", "guardd", "testdata", "check", tc.name+".txt"), out)
			again, _, err := runCmd(t, env, "check", "--dry-run", "--config", cfg)
			if err != nil || again != out {
				t.Errorf("a second dry run printed something else (%v):\n%s", err, again)
			}
			if _, err := os.Stat(filepath.Join(dir, "state.db")); tc.checks == 0 && !os.IsNotExist(err) {
				t.Errorf("the dry run created the state database (stat: %v)", err)
			}
			if n := len(slack.got()); n != sent {
				t.Errorf("slack messages: got %d after the dry runs, want still %d", n, sent)
			}
			if after := stateSnapshot(t, filepath.Join(dir, "state.db")); after != before {
				t.Errorf("the dry runs changed the state database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// stateSnapshot describes everything a state database holds, or "" when
// there is none.
func stateSnapshot(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return ""
	}
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	if err := st.View(context.Background(), func(tx *store.Tx) error {
		as, err1 := tx.Alerts("", "")
		fs, err2 := tx.Findings("", time.Time{})
		ss, err3 := tx.Silences(time.Time{})
		due, err4 := tx.Due(time.Now().AddDate(10, 0, 0), 0)
		dead, err5 := tx.Dead()
		n, err6 := tx.PendingCount()
		fmt.Fprintf(&b, "%+v %+v %+v %+v %+v %d", as, fs, ss, due, dead, n)
		for _, name := range []string{"acme-openai", "acme-two"} {
			obs, err := tx.ObservationCount(name)
			polls, err2 := tx.RecentPolls(name, 1000)
			fmt.Fprintf(&b, " %s: %d observations, %d polls", name, obs, len(polls))
			if err := errors.Join(err, err2); err != nil {
				return err
			}
		}
		return errors.Join(err1, err2, err3, err4, err5, err6)
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
