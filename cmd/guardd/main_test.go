package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/guardd/guardd/internal/store/pgtest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slacktest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// runCmd runs guardd with args and an environment of env, from the repo root.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	err = run(context.Background(), args, proc{getenv: getenv, stdout: &out, stderr: &errOut})
	return out.String(), errOut.String(), err
}

func TestMain(m *testing.M) {
	// Re-executed by a test as a separate guardd process (see guarddProc).
	if os.Getenv("GUARDD_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	// In-process runs retry deliveries without waiting seconds; the
	// processes the tests start keep the real back-off.
	deliveryBackoff = 10 * time.Millisecond
	// The slow tests here mostly wait (for a schedule's next second, for
	// the processes they start), not compute: run up to 8 at once even on
	// a machine of 2 CPUs, unless -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", "8"); err != nil {
			panic(err)
		}
	}
	// Tests use paths relative to the repo root, as README's commands do.
	if err := os.Chdir(filepath.Join("..", "..")); err != nil {
		panic(err)
	}
	// Stops the PostgreSQL the tests started, if any.
	pgtest.Main(m)
}

// The field reports behind each example, and exactly what replaying it must
// notify, in order.
var replayCases = []struct {
	file string
	want []string // "HH:MM status rule"
}{
	{"hourly-recharge.json", []string{
		"02:00 firing recharge-above-threshold",
		"03:00 firing recharge-burst", // its symptoms are folded into it until it resolves
		"13:00 resolved recharge-burst",
		"13:00 firing credits-accumulating",
		"02:00 firing spend-without-usage", // the next day, once the cost window settled
	}},
	{"expired-grants-counted.json", []string{
		"00:00 firing phantom-balance",
	}},
	{"grants-untouched.json", []string{
		"06:00 firing drawdown-order",
		"06:00 firing recharge-above-threshold",
		"06:00 firing recharge-while-grant-credit",
	}},
	{"healthy.json", nil},
	{"healthy-busy.json", nil},
	{"healthy-restore.json", nil},
}

func TestReplayExamples(t *testing.T) {
	for _, tc := range replayCases {
		name := strings.TrimSuffix(tc.file, ".json")
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("examples", tc.file)
			jsonOut, _, err := runCmd(t, nil, "replay", "--output", "json", path)
			if err != nil {
				t.Fatalf("replay --output json: %v", err)
			}
			var got []string
			sc := bufio.NewScanner(strings.NewReader(jsonOut))
			for sc.Scan() {
				var rec struct {
					Status, Rule string
					FiredAt      time.Time  `json:"fired_at"`
					ResolvedAt   *time.Time `json:"resolved_at"`
					Evidence     []json.RawMessage
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				at := rec.FiredAt
				if rec.ResolvedAt != nil {
					at = *rec.ResolvedAt
				}
				got = append(got, fmt.Sprintf("%s %s %s", at.Format("15:04"), rec.Status, rec.Rule))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("notifications:\ngot  %q\nwant %q", got, tc.want)
			}

			text, _, err := runCmd(t, nil, "replay", path)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			golden(t, filepath.Join("cmd", "guardd", "testdata", "replay", name+".txt"), text)
			golden(t, filepath.Join("cmd", "guardd", "testdata", "replay", name+".jsonl"), jsonOut)
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/guardd -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cmd/guardd -update and review the diff):\ngot:\n%s", path, got)
	}
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	example, err := os.ReadFile(filepath.Join("examples", "hourly-recharge.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Break the first observation's grant amount.
	grant := "\"id\": \"cg_01\",\n          \"amount\": \"10.00\""
	if !strings.Contains(string(example), grant) {
		t.Fatalf("example lacks %q", grant)
	}
	broken := strings.Replace(string(example), grant, strings.Replace(grant, "10.00", "ten", 1), 1)
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    string
		isUsage bool
	}{
		{"bad amount names the observation, field and value", []string{"replay", bad},
			`observations[0].grants[0].amount: invalid amount "ten"`, false},
		{"missing file", []string{"replay", filepath.Join(dir, "nope.json")}, "no such file or directory", false},
		{"no file", []string{"replay"}, "want exactly one history file", true},
		{"bad output", []string{"replay", "--output", "yaml", bad}, `--output "yaml": want text or json`, true},
		{"unknown command", []string{"replya"}, `unknown command "replya"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: got %v, want one containing %q", err, tc.want)
			}
			var u *usageError
			if isUsage := errors.As(err, &u); isUsage != tc.isUsage {
				t.Errorf("usage error: got %v, want %v", isUsage, tc.isUsage)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	out, _, err := runCmd(t, nil, "validate", "--config", "config.example.yaml")
	if err != nil {
		t.Fatalf("validate config.example.yaml: %v", err)
	}
	for _, want := range []string{"OK, 1 accounts, 1 notifiers", "account acme-openai: openai, USD, auto-recharge adds $10.00 below $5.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output %q lacks %q", out, want)
		}
	}
	cfg := writeConfig(t, "expired-grants-counted.json", "webhook_url_env: MISSING_WEBHOOK")
	_, _, err = runCmd(t, nil, "validate", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "notifiers[1].webhook_url_env: environment variable MISSING_WEBHOOK is not set") {
		t.Errorf("error: got %v, want the unset webhook variable named", err)
	}
}

// writeConfig writes a config watching one example with a Slack notifier
// whose URL comes from slackKey (a webhook_url_env or _file line).
func writeConfig(t *testing.T, example, slackKey string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("examples", example))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`schedule: "@every 1h"
log: {level: debug, format: json}
http: {addr: off}
accounts:
  - name: acme-research
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: file, path: %q}
notifiers:
  - {name: console, type: stdout}
  - name: team-slack
    type: slack
    min_severity: warning
    %s
`, abs, slackKey)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckPostsToSlack(t *testing.T) {
	slack := slacktest.NewWebhook(t)
	cfg := writeConfig(t, "expired-grants-counted.json", "webhook_url_env: TEAM_SLACK_URL")
	out, _, err := runCmd(t, map[string]string{"TEAM_SLACK_URL": slack.URL()}, "check", "--config", cfg)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	msgs := slack.Messages()
	if len(msgs) != 1 {
		t.Fatalf("slack messages: got %d, want 1", len(msgs))
	}
	if !strings.HasPrefix(msgs[0].Text, "[WARNING] phantom-balance on acme-research") {
		t.Errorf("slack text: got %q, want the phantom-balance finding", msgs[0].Text)
	}
	if !strings.Contains(msgs[0].Text, "only $3.93 is really spendable") {
		t.Errorf("slack text lacks the real balance: %q", msgs[0].Text)
	}
	if !strings.Contains(out, "[WARNING] phantom-balance") {
		t.Errorf("stdout notifier did not print the finding: %q", out)
	}

	t.Run("dry run prints, sends nothing and changes nothing", func(t *testing.T) {
		fresh := writeConfig(t, "expired-grants-counted.json", "webhook_url_env: TEAM_SLACK_URL")
		out, _, err := runCmd(t, map[string]string{"TEAM_SLACK_URL": slack.URL()}, "check", "--dry-run", "--config", fresh)
		if err != nil {
			t.Fatalf("check --dry-run: %v", err)
		}
		if n := len(slack.Messages()); n != 1 {
			t.Errorf("slack messages after a dry run: got %d, want still 1", n)
		}
		if !strings.Contains(out, "[WARNING] phantom-balance") {
			t.Errorf("dry run did not print what it would send: %q", out)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(fresh), "guardd-state.db")); !os.IsNotExist(err) {
			t.Errorf("dry run created the state database (stat: %v)", err)
		}
	})
}

// TestSecretsNeverLeak proves the webhook URL from the config never appears
// in a log line, an error or printed output (validate --online's included),
// whatever Slack answers.
func TestSecretsNeverLeak(t *testing.T) {
	faults := map[string]func(*slacktest.Server){
		"ok":           func(*slacktest.Server) {},
		"revoked":      func(s *slacktest.Server) { s.SetFault(slacktest.NoService) },
		"server error": func(s *slacktest.Server) { s.SetFault(slacktest.ServerError) },
		"rate limited": func(s *slacktest.Server) { s.SetFault(slacktest.RateLimited(time.Second)) },
		"unreachable":  func(s *slacktest.Server) { s.Close() },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each case waits out real retry back-off
			slack := slacktest.NewWebhook(t)
			secret := slack.Path()
			fault(slack)
			env := map[string]string{"TEAM_SLACK_URL": slack.URL()}
			fileCfgDir := t.TempDir()
			urlFile := filepath.Join(fileCfgDir, "webhook")
			if err := os.WriteFile(urlFile, []byte(slack.URL()+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var seen strings.Builder
			for _, key := range []string{"webhook_url_env: TEAM_SLACK_URL", "webhook_url_file: " + urlFile} {
				cfg := writeConfig(t, "expired-grants-counted.json", key)
				for _, args := range [][]string{
					{"check", "--config", cfg},
					{"validate", "--print", "--config", cfg},
					{"validate", "--online", "--config", cfg},
				} {
					out, errOut, err := runCmd(t, env, args...)
					fmt.Fprintf(&seen, "%s\n%s\n%v\n", out, errOut, err)
				}
			}
			for _, part := range strings.Split(strings.Trim(secret, "/"), "/") {
				if len(part) >= 4 && strings.Contains(seen.String(), part) {
					t.Fatalf("output contains the secret path segment %q:\n%s", part, seen.String())
				}
			}
			// The dump says where the webhook is read from, never what it is.
			if !strings.Contains(seen.String(), "webhook_url_env: ") && !strings.Contains(seen.String(), "webhook_url_file: ") {
				t.Errorf("validate --print should show where the webhook is read from")
			}
		})
	}
}

func TestRunStopsGracefully(t *testing.T) {
	cfg := writeConfig(t, "expired-grants-counted.json", "webhook_url_env: TEAM_SLACK_URL")
	slack := slacktest.NewWebhook(t)
	getenv := func(k string) (string, bool) {
		if k == "TEAM_SLACK_URL" {
			return slack.URL(), true
		}
		return "", false
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	var errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg}, proc{getenv: getenv, stdout: out, stderr: &errOut})
	}()
	// The first cycle runs at start; wait for its notification.
	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), "phantom-balance") {
		select {
		case <-deadline:
			cancel()
			t.Fatalf("no notification from the first cycle; stderr:\n%s", errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: got %v, want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	if !strings.Contains(errOut.String(), `"guardd stopped"`) {
		t.Errorf("log lacks the stop message:\n%s", errOut.String())
	}
	if len(slack.Messages()) != 1 {
		t.Errorf("slack messages: got %d, want 1", len(slack.Messages()))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRuleTestCommand(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.test.yaml"))
	if err != nil || len(files) < 6 {
		t.Fatalf("example tests: got %d (%v), want at least 6", len(files), err)
	}
	out, _, err := runCmd(t, nil, append([]string{"test"}, files...)...)
	if err != nil {
		t.Fatalf("guardd test examples: %v\n%s", err, out)
	}
	if n := strings.Count(out, "PASS "); n != len(files) {
		t.Errorf("PASS lines: got %d, want %d:\n%s", n, len(files), out)
	}

	bad := filepath.Join(t.TempDir(), "bad.test.yaml")
	hist, _ := filepath.Abs(filepath.Join("examples", "healthy.json"))
	body := "history: " + hist + "\nevaluations:\n  - at: 2026-10-14T00:00:00Z\n    active: [{rule: recharge-burst}]\n"
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, nil, "test", bad)
	if err == nil || err.Error() != "1 of 1 rule tests failed" {
		t.Errorf("error: got %v, want 1 of 1 rule tests failed", err)
	}
	if want := "FAIL " + bad + "\n  2026-10-14T00:00:00Z: active: missing    recharge-burst\n"; out != want {
		t.Errorf("output:\ngot  %q\nwant %q", out, want)
	}
}

// TestHelpAndConfigDefault checks the help made from the table of commands,
// and that $GUARDD_CONFIG stands in for --config.
func TestHelpAndConfigDefault(t *testing.T) {
	out, _, err := runCmd(t, nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "guardd "+c.name) || !strings.Contains(out, c.summary) {
			t.Errorf("help lacks %s (%s):\n%s", c.name, c.summary, out)
		}
		// Every command in the table dispatches: -h is never "unknown".
		if _, _, err := runCmd(t, nil, c.name, "-h"); err != nil && strings.Contains(err.Error(), "unknown command") {
			t.Errorf("%s -h: %v", c.name, err)
		}
	}
	if _, _, err := runCmd(t, nil, "frobnicate"); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: got %v", err)
	}

	out, _, err = runCmd(t, map[string]string{"GUARDD_CONFIG": "config.example.yaml"}, "validate")
	if err != nil || !strings.HasPrefix(out, "config.example.yaml: OK") {
		t.Errorf("validate with $GUARDD_CONFIG: got %q, %v; want the example validated", out, err)
	}
	if _, _, err := runCmd(t, nil, "validate"); err == nil || !strings.Contains(err.Error(), "--config is required") {
		t.Errorf("validate without --config or $GUARDD_CONFIG: got %v, want a usage error", err)
	}
}
