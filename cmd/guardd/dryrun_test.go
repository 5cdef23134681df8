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
	t.Parallel()
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

// TestCheckDryRunPlaysRecordedHistory: on the example config, whose demo
// account replays a history file, the next poll has nothing to send (it is
// the history's first observation), so a dry run plays the history on in
// memory and prints what guardd would send when it comes, saying so; on a
// healthy history it says that nothing would be sent all the way through.
// Either way it writes nothing, and a second dry run prints the same.
func TestCheckDryRunPlaysRecordedHistory(t *testing.T) {
	cfg, _ := demoDir(t, "config.example.yaml")
	healthy := strings.Replace(readFile(t, cfg), "path: examples/hourly-recharge.json", "path: healthy.json", 1)
	healthyCfg := filepath.Join(filepath.Dir(cfg), "healthy.yaml")
	if err := os.WriteFile(healthyCfg, []byte(healthy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "healthy.json"), []byte(readFile(t, "examples/healthy.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  string
		want []string
	}{
		{cfg, []string{"[WARNING] recharge-above-threshold on acme-openai  2026-10-14 02:00 UTC\n",
			"(dry run: the next poll would send nothing; played on in memory, the recorded history brings the above 2 polls later)\n"}},
		{healthyCfg, []string{"(dry run: nothing would be sent at the next poll, nor at any of the "}},
	} {
		out, _, err := runCmd(t, nil, "check", "--dry-run", "--config", tc.cfg)
		if err != nil {
			t.Fatalf("check --dry-run %s: %v", tc.cfg, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("dry run of %s lacks %q:\n%s", filepath.Base(tc.cfg), w, out)
			}
		}
		if strings.Count(out, "\n[") > 0 {
			t.Errorf("dry run of %s printed more than the first notifications due:\n%s", filepath.Base(tc.cfg), out)
		}
		if again, _, _ := runCmd(t, nil, "check", "--dry-run", "--config", tc.cfg); again != out {
			t.Errorf("a second dry run printed something else:\n%s", again)
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "*.db*")); len(entries) > 0 {
		t.Errorf("the dry runs wrote %v", entries)
	}
}
