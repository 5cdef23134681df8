package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/store/pgtest"
)

// TestStateCopy builds a SQLite state with guardd check over the hourly
// recharge loop (observations, polls, alerts fired, repeated and resolved,
// a silence, the outbox), copies it to PostgreSQL with guardd state copy,
// and shows that guardd status prints the same from both; the DSN, which
// holds a password, is never printed.
func TestStateCopy(t *testing.T) {
	t.Parallel()
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	dsn := pgtest.DSN(t)
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret", "USER": "alice", "PG_DSN": dsn}
	for range 14 {
		if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := runCmd(t, env, "silence", "add", "--config", cfg, "--rule", "recharge-burst", "--for", "24h", "--comment", "ticket 4711"); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "state.db")
	out, _, err := runCmd(t, env, "state", "copy", "--from", db, "--to", "postgres", "--dsn-env", "PG_DSN")
	if err != nil {
		t.Fatalf("state copy: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^ *observations +14 +[0-9a-f]{16}$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^ *ledger_checkpoints +1 +[0-9a-f]{16}$`).MatchString(out) ||
		!regexp.MustCompile(`\ncopied .*state.db to PostgreSQL database "t\w+" on 127.0.0.1:\d+ \(connection string in \$PG_DSN\): \d+ rows in 11 tables, each table's count and checksum verified\n$`).MatchString(out) {
		t.Errorf("state copy printed:\n%s", out)
	}
	srv := pgtest.Get(t)
	if strings.Contains(out, srv.Password) {
		t.Errorf("state copy printed the password:\n%s", out)
	}

	// The same config on PostgreSQL.
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pgCfg := filepath.Join(dir, "pg.yaml")
	pgText := regexp.MustCompile(`state: \{path: .*\}`).ReplaceAllString(string(text), "state: {driver: postgres, dsn_env: PG_DSN}")
	if err := os.WriteFile(pgCfg, []byte(pgText), 0o600); err != nil {
		t.Fatal(err)
	}
	// What differs is when each ran: "3 minutes ago", the JSON's "at".
	ago := regexp.MustCompile(`\d+ (second|minute|hour|day)s? ago|(?m)^  "at": ".*",$`)
	for _, args := range [][]string{
		{"status"},
		{"status", "--output", "json"},
		{"status", "--account", "acme-openai"},
		{"silence", "list", "--all"},
	} {
		want, _, err := runCmd(t, env, append(args, "--config", cfg)...)
		if err != nil {
			t.Fatalf("%v on SQLite: %v", args, err)
		}
		got, _, err := runCmd(t, env, append(args, "--config", pgCfg)...)
		if err != nil {
			t.Fatalf("%v on PostgreSQL: %v", args, err)
		}
		if want == "" || ago.ReplaceAllString(got, "ago") != ago.ReplaceAllString(want, "ago") {
			t.Errorf("%v on PostgreSQL:\n%s\nwant, as on SQLite:\n%s", args, got, want)
		}
	}
	// Both keep going: the next check on PostgreSQL finds the alerts the
	// copy carried, so it sends nothing twice.
	before := len(slack.got())
	if _, _, err := runCmd(t, env, "check", "--config", pgCfg); err != nil {
		t.Fatal(err)
	}
	if got := slack.got()[before:]; len(got) != 0 {
		t.Errorf("check on the copy sent %q, want nothing (the loop's end holds no new alert)", got)
	}
	out, _, err = runCmd(t, env, "validate", "--config", pgCfg, "--print")
	if err != nil || strings.Contains(out, srv.Password) || strings.Contains(out, dsn) || !strings.Contains(out, "dsn_env: PG_DSN") {
		t.Errorf("validate --print: got %v and\n%s\nwant dsn_env: PG_DSN and never the connection string", err, out)
	}
}
