package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/pgtest"
)

// TestReplicaProcesses runs three guardd run processes on one PostgreSQL,
// polling every second 30 DeepSeek accounts (fakes recharging at every
// request), and SIGKILLs one of them: every account is polled once per
// tick, with no gap longer than a tick and a half, and every message
// reaches Slack once.
func TestReplicaProcesses(t *testing.T) {
	t.Parallel()
	const accounts = 30
	slack := newRecordingSlack(t)
	dsn := pgtest.DSN(t)
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret", "PG_DSN": dsn}
	var b strings.Builder
	b.WriteString(`schedule: "@every 1s"
log: {level: warn, format: json}
state: {driver: postgres, dsn_env: PG_DSN}
http: {addr: off}
notifiers:
  - name: team-slack
    type: slack
    webhook_url_env: TEAM_SLACK_URL
    pacing: {max: 0}
accounts:
`)
	for a := range accounts {
		f := pollertest.NewDeepSeek(t)
		f.RechargeLoop("CNY", "10.00")
		key := fmt.Sprintf("DEEPSEEK_KEY_%d", a)
		env[key] = f.APIKey
		fmt.Fprintf(&b, `  - name: acct-%02d
    provider: deepseek
    currency: CNY
    drawdown: grants-first
    auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}
    source: {type: deepseek, api_key_env: %s, base_url: %q}
`, a, key, f.URL())
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var procs [3]*procRun
	for i := range procs {
		procs[i] = startProc(t, env, "run", "--config", cfg)
	}
	time.Sleep(4 * time.Second)
	procs[1].cmd.Process.Kill() // SIGKILL, mid-cycle or between cycles
	procs[1].cmd.Wait()
	time.Sleep(5 * time.Second)
	for _, i := range []int{0, 2} {
		procs[i].cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, i := range []int{0, 2} {
		if err := procs[i].cmd.Wait(); err != nil {
			t.Errorf("replica %d: %v\n%s", i, err, procs[i].out.String())
		}
	}
	end := time.Now()

	st, err := store.OpenPostgres(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx *store.Tx) error {
		for a := range accounts {
			name := fmt.Sprintf("acct-%02d", a)
			ps, err := tx.RecentPolls(name, 1000)
			if err != nil {
				return err
			}
			ticks := map[time.Time]int{}
			var last time.Time
			for i := len(ps) - 1; i >= 0; i-- { // oldest first
				p := ps[i]
				ticks[p.At.Truncate(time.Second)]++
				if !last.IsZero() && p.At.Sub(last) > 1500*time.Millisecond {
					t.Errorf("%s: no poll from %s to %s", name, last.Format("15:04:05.000"), p.At.Format("15:04:05.000"))
				}
				last = p.At
			}
			for tick, n := range ticks {
				if n > 1 {
					t.Errorf("%s: polled %d times in the tick of %s", name, n, tick.Format("15:04:05"))
				}
			}
			if len(ps) < 6 || ps[len(ps)-1].At.Sub(start) > 2*time.Second || end.Sub(ps[0].At) > 2*time.Second {
				t.Errorf("%s: %d polls from %s to %s, want one a second from the start to the end (%s to %s)", name, len(ps),
					ps[len(ps)-1].At.Format("15:04:05"), ps[0].At.Format("15:04:05"), start.Format("15:04:05"), end.Format("15:04:05"))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := slack.got()
	t.Logf("Slack got %d messages, such as %q", len(got), got[:min(2, len(got))])
	seen := map[string]int{}
	for _, title := range got {
		seen[title]++
	}
	for title, n := range seen {
		if n > 1 {
			t.Errorf("Slack got %q %d times, want once", title, n)
		}
	}
	if len(got) < accounts {
		t.Errorf("Slack got %d messages, want at least one per account: %q", len(got), got)
	}
}

// procRun is a guardd process a test started, with its output.
type procRun struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startProc starts guardd as a process of its own; it is killed when the
// test ends, if it still runs.
func startProc(t *testing.T, env map[string]string, args ...string) *procRun {
	t.Helper()
	p := &procRun{cmd: guarddProc(t, env, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}
