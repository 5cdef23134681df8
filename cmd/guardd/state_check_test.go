package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/metrics"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/storetest"
)

// freelistDamage is what quick_check says of a file damaged by
// damageFreelist.
const freelistDamage = "the database is corrupt (quick_check: Freelist: size is 0 but should be 5)"

// damageFreelist makes the header of the state database at path, closed
// and checkpointed, count 5 free pages it does not have: damage that no
// read meets, only a whole-file check.
func damageFreelist(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("%s-wal holds %d bytes: the header there would hide the damage", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(data[36:], 5) // the header's freelist page count
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkedState runs guardd check once on a new state database in a
// temporary directory, and returns the config, the database's path and
// the environment.
func checkedState(t *testing.T) (cfg, db string, env map[string]string) {
	t.Helper()
	dir := t.TempDir()
	cfg = stateConfig(t, dir, "hourly-recharge.json")
	env = map[string]string{"TEAM_SLACK_URL": slacktest.NewWebhook(t).URL()}
	if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, filepath.Join(dir, "state.db"), env
}

// TestStateCheck: guardd state check finds damage no command that opens the
// database looks for when it was closed cleanly, and exits 1 on it.
func TestStateCheck(t *testing.T) {
	cfg, db, env := checkedState(t)
	out, _, err := runCmd(t, nil, "state", "check", "--config", cfg)
	if err != nil {
		t.Fatalf("state check of a sound database: %v", err)
	}
	fi, _ := os.Stat(db)
	want := fmt.Sprintf("%s: no damage found (PRAGMA quick_check of every page, %d bytes and the -wal; schema version %d)\n",
		db, fi.Size(), known(t))
	if out != want {
		t.Errorf("state check: got %q, want %q", out, want)
	}

	damageFreelist(t, db)
	// A clean open does not check the whole file: status opens it.
	if _, _, err := runCmd(t, env, "status", "--config", cfg); err != nil {
		t.Errorf("status of a database closed cleanly: got %v, want it opened unchecked", err)
	}
	out, _, err = runCmd(t, nil, "state", "check", "--config", cfg)
	if want := "check state database " + db + ": " + freelistDamage; err == nil || err.Error() != want || exitCode(err) != 1 {
		t.Errorf("state check of a damaged database: got %v (exit %d), want %s (exit 1)", err, exitCode(err), want)
	}
	if out != "" {
		t.Errorf("state check of a damaged database: got output %q, want none", out)
	}

	if _, _, err := runCmd(t, nil, "state", "check"); exitCode(err) != 2 {
		t.Errorf("state check without --config: got %v, want a usage error", err)
	}
}

// known is the newest schema version this guardd knows.
func known(t *testing.T) int {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "new.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return st.SchemaVersion()
}

// TestKilledRunLeavesStateChecked kills guardd run (SIGKILL) and damages
// the database it left open: the next command checks the whole file and
// refuses it, leaving it as it was, and state check names who left it open.
func TestKilledRunLeavesStateChecked(t *testing.T) {
	env := map[string]string{"TEAM_SLACK_URL": slacktest.NewWebhook(t).URL()}
	dir := t.TempDir()
	cfg, daemon, errOut := startRun(t, dir, env)
	logLine(t, errOut, "state database checked: no damage found")
	if err := daemon.Process.Kill(); err != nil { // SIGKILL: no clean shutdown
		t.Fatal(err)
	}
	daemon.Wait()

	// Fold the -wal in, as SQLite would, then damage the file.
	path := filepath.Join(dir, "state.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	damageFreelist(t, path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Join(dir, e.Name()))
	}
	before := storetest.ReadAll(t, names)

	for _, args := range [][]string{{"status"}, {"check"}} {
		_, _, err := runCmd(t, env, append(args, "--config", cfg)...)
		if want := "open state database " + path + ": " + freelistDamage; err == nil || err.Error() != want {
			t.Errorf("%s after a killed run: got %v, want %s", args[0], err, want)
		}
	}
	storetest.Unchanged(t, names, before)

	out, _, err := runCmd(t, nil, "state", "check", "--config", cfg)
	host, _ := os.Hostname()
	if want := fmt.Sprintf("left open by pid %d on %s (", daemon.Process.Pid, host); !strings.HasPrefix(out, want) ||
		!strings.HasSuffix(out, "), which ended without closing it\n") {
		t.Errorf("state check: got %q, want %s…), which ended without closing it", out, want)
	}
	if err == nil || !strings.HasSuffix(err.Error(), freelistDamage) {
		t.Errorf("state check: got %v, want …%s", err, freelistDamage)
	}
}

// testDaemon is guardd run's daemon over the config cfg, with its clock at
// *now, without the schedule: the test runs its cycles. It logs to errOut.
func testDaemon(t *testing.T, cfg string, env map[string]string, now *time.Time, errOut *syncBuffer) (*daemon, error) {
	t.Helper()
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	clk := clock.Clock{NowFunc: func() time.Time { return *now }}
	a, err := setup(t.Context(), cfg, getenv, &bytes.Buffer{}, errOut, false, false, clk.Now())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { a.Close() })
	return &daemon{app: a, clk: clk, metrics: metrics.New(metrics.Build{Version: "test"}), fatal: make(chan error, 1), courier: newCourier(),
		jobCtx: t.Context(), lastPrune: clk.Now()}, nil
}

// TestRunChecksStateOnSchedule runs guardd run's cycles on an injected
// clock: the whole database is checked at the first cycle, then once
// state.integrity_check has passed, never with 0; damage stops the daemon
// and leaves the file refused.
func TestRunChecksStateOnSchedule(t *testing.T) {
	const checked = `"msg":"state database checked: no damage found"`
	for _, tt := range []struct {
		every string
		want  []int // checks done after each cycle
	}{
		{"24h", []int{1, 1, 2, 2, 3}},
		{"0", []int{0, 0, 0, 0, 0}},
	} {
		t.Run(tt.every, func(t *testing.T) {
			cfg, _, env := checkedState(t)
			editConfig(t, cfg, "state: {", "state: {integrity_check: "+tt.every+", ")
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			var errOut syncBuffer
			d, err := testDaemon(t, cfg, env, &now, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			steps := []time.Duration{0, 23 * time.Hour, time.Hour, 23*time.Hour + 59*time.Minute, time.Minute}
			for i, step := range steps {
				now = now.Add(step)
				d.runCycle()
				if got := strings.Count(errOut.String(), checked); got != tt.want[i] {
					t.Errorf("after cycle %d (+%s): got %d checks, want %d", i+1, step, got, tt.want[i])
				}
			}
			select {
			case err := <-d.fatal:
				t.Errorf("got the daemon stopped: %v", err)
			default:
			}
		})
	}

	t.Run("damage", func(t *testing.T) {
		cfg, db, env := checkedState(t)
		damageFreelist(t, db)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var errOut syncBuffer
		d, err := testDaemon(t, cfg, env, &now, &errOut)
		if err != nil {
			t.Fatalf("setup on a database closed cleanly: %v (want it opened unchecked)", err)
		}
		d.runCycle()
		want := "check state database " + db + ": " + freelistDamage
		select {
		case err := <-d.fatal:
			if err.Error() != want {
				t.Errorf("daemon stopped with %v, want %s", err, want)
			}
		default:
			t.Fatalf("got the daemon going on, want it stopped with %s", want)
		}
		d.app.Close()
		if _, _, err := runCmd(t, env, "status", "--config", cfg); err == nil || err.Error() != "open state database "+db+": "+freelistDamage {
			t.Errorf("status after the daemon found damage: got %v, want the file refused", err)
		}
	})
}

// editConfig replaces the first old in the config file cfg with new.
func editConfig(t *testing.T, cfg, old, new string) {
	t.Helper()
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(old)) {
		t.Fatalf("%s has no %q", cfg, old)
	}
	if err := os.WriteFile(cfg, bytes.Replace(body, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}
