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
// polling 300 DeepSeek accounts (fakes recharging at every request) every 5
// seconds, and SIGKILLs one of them once all poll: every account is polled
// once per tick, with no gap longer than two ticks and a second (a cycle
// may start a tick late on a machine busy with other tests, never later),
// and every message reaches Slack once but the one the killed replica may
// have had in flight. Not parallel: its ticks are seconds.
func TestReplicaProcesses(t *testing.T) {
	const accounts, every = 300, 5 * time.Second
	slack := newRecordingSlack(t)
	dsn := pgtest.DSN(t)
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret", "PG_DSN": dsn}
	var b strings.Builder
	fmt.Fprintf(&b, `schedule: "@every %s"
log: {level: info, format: json}
state: {driver: postgres, dsn_env: PG_DSN}
http: {addr: off}
notifiers:
  - name: team-slack
    type: slack
    webhook_url_env: TEAM_SLACK_URL
    pacing: {max: 0}
accounts:
`, every)
	for a := range accounts {
		f := pollertest.NewDeepSeek(t)
		f.RechargeLoop("CNY", "10.00")
		key := fmt.Sprintf("DEEPSEEK_KEY_%d", a)
		env[key] = f.APIKey
		fmt.Fprintf(&b, `  - name: acct-%03d
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
	var procs [3]*procRun
	for i := range procs {
		procs[i] = startProc(t, env, "run", "--config", cfg)
	}
	st, err := store.OpenPostgres(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Once every account was polled (the processes may start slowly on a
	// busy machine), two more ticks, then one replica dies.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var n int
		st.View(context.Background(), func(tx *store.Tx) error {
			n = 0
			for a := range accounts {
				if ps, err := tx.RecentPolls(fmt.Sprintf("acct-%03d", a), 1); err == nil && len(ps) == 1 {
					n++
				}
			}
			return nil
		})
		if n == accounts {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accounts polled after a minute:\n%s", n, accounts, procs[0].out.String())
		}
	}
	time.Sleep(2 * every)
	procs[1].cmd.Process.Kill() // SIGKILL, mid-cycle or between cycles
	procs[1].cmd.Wait()
	killed := time.Now()
	time.Sleep(3 * every)
	for _, i := range []int{0, 2} {
		procs[i].cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, i := range []int{0, 2} {
		if err := procs[i].cmd.Wait(); err != nil {
			t.Errorf("replica %d: %v\n%s", i, err, procs[i].out.String())
		}
	}
	err = st.View(context.Background(), func(tx *store.Tx) error {
		for a := range accounts {
			name := fmt.Sprintf("acct-%03d", a)
			ps, err := tx.RecentPolls(name, 1000)
			if err != nil {
				return err
			}
			ticks := map[time.Time]int{}
			var last time.Time
			for i := len(ps) - 1; i >= 0; i-- { // oldest first
				p := ps[i]
				ticks[p.At.Truncate(every)]++
				if !last.IsZero() && p.At.Sub(last) > 2*every+time.Second {
					t.Errorf("%s: no poll from %s to %s", name, last.Format("15:04:05.000"), p.At.Format("15:04:05.000"))
				}
				last = p.At
			}
			for tick, n := range ticks {
				if n > 1 {
					t.Errorf("%s: polled %d times in the tick of %s", name, n, tick.Format("15:04:05"))
				}
			}
			if len(ps) < 5 || ps[0].At.Before(killed.Add(every)) {
				t.Errorf("%s: %d polls, the last at %s; want 5 or more, polled on after the kill at %s", name, len(ps),
					ps[0].At.Format("15:04:05.000"), killed.Format("15:04:05.000"))
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
	// A webhook cannot tell a message sent again from a new one: a message
	// the killed replica had handed to Slack but not yet marked sent is
	// sent again by another (docs/deploy.md). Each replica sends one
	// message at a time to a receiver, so at most one such message, first
	// received before the kill.
	again := 0
	for title, n := range seen {
		switch {
		case n == 2 && slack.firstAt(title).Before(killed) && again == 0:
			again++
			t.Logf("Slack got %q twice: in flight at the killed replica when it died", title)
		case n > 1:
			t.Errorf("Slack got %q %d times, want once (first at %s, the kill at %s)", title, n,
				slack.firstAt(title).Format("15:04:05.000"), killed.Format("15:04:05.000"))
		}
	}
	if len(got) < accounts {
		t.Errorf("Slack got %d messages, want at least one per account: %q", len(got), got)
	}
	if t.Failed() {
		t.Logf("the kill at %s", killed.Format("15:04:05.000"))
		for i, p := range procs {
			var said []string
			for _, line := range strings.Split(p.out.String(), "\n") {
				if !strings.Contains(line, `"msg":"account polled"`) {
					said = append(said, line)
				}
			}
			t.Logf("replica %d said (but its accounts polled):\n%s", i, strings.Join(said, "\n"))
		}
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
