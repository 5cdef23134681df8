package ruletest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/ruletest"
)

// writeTest writes a test file next to a copy of the hourly example.
func writeTest(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	hist, err := os.ReadFile(filepath.Join("..", "..", "examples", "hourly-recharge.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.json"), hist, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunReportsDifferences(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{
			name: "passes",
			body: `history: history.json
evaluations:
  - at: 2026-10-14T03:00:00Z
    active: [{rule: recharge-burst}, {rule: recharge-above-threshold, inhibited: true}]
    notified: [firing recharge-burst]
`,
		},
		{
			name: "missing, unexpected and wrong notifications",
			body: `history: history.json
evaluations:
  - at: 2026-10-14T03:00:00Z
    active: [{rule: recharge-burst, severity: warning}]
    notified: []
`,
			want: []string{
				"2026-10-14T03:00:00Z: active: missing    recharge-burst (warning)",
				"2026-10-14T03:00:00Z: active: unexpected recharge-above-threshold recharges (warning) inhibited by recharge-burst",
				"2026-10-14T03:00:00Z: active: unexpected recharge-burst recharges (critical)",
				`2026-10-14T03:00:00Z: notified: got ["firing recharge-burst"], want []`,
			},
		},
		{
			name: "a time with no observation",
			body: `history: history.json
evaluations:
  - at: 2026-10-14T03:30:00Z
    active: []
`,
			want: []string{"2026-10-14T03:30:00Z: evaluations[0].at is not the time of any observation in history.json"},
		},
		{
			name: "throughout is checked at every observation",
			body: `history: history.json
throughout:
  notified: []
`,
			want: []string{
				`2026-10-14T02:00:00Z: notified: got ["firing recharge-above-threshold"], want []`,
				`2026-10-14T03:00:00Z: notified: got ["firing recharge-burst"], want []`,
				`2026-10-14T13:00:00Z: notified: got ["firing credits-accumulating" "resolved recharge-burst"], want []`,
				`2026-10-15T02:00:00Z: notified: got ["firing spend-without-usage"], want []`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ruletest.Run(context.Background(), writeTest(t, tc.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(res.Failures, "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("failures:\ngot:\n%s\nwant:\n%s", got, want)
			}
			if res.Passed() != (len(tc.want) == 0) {
				t.Errorf("passed: got %v, want %v", res.Passed(), len(tc.want) == 0)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"no history", "evaluations: [{at: 2026-10-14T03:00:00Z, active: []}]\n", "history: required"},
		{"nothing to check", "history: h.json\nevaluations: [{at: 2026-10-14T03:00:00Z}]\n", "evaluations[0]: set active, notified or both"},
		{"bad notification", "history: h.json\nevaluations: [{at: 2026-10-14T03:00:00Z, notified: [burst]}]\n",
			`evaluations[0].notified[0]: "burst": want "firing RULE" or "resolved RULE"`},
		{"bad severity", "history: h.json\nevaluations: [{at: 2026-10-14T03:00:00Z, active: [{rule: x, severity: loud}]}]\n",
			`evaluations[0].active[0].severity: unknown severity "loud"`},
		{"unknown key", "history: h.json\nevaluation: []\n", "field evaluation not found"},
		{"mistyped rule", "history: h.json\nevaluations: [{at: 2026-10-14T03:00:00Z, active: [{rule: recharge-brust}]}]\n",
			`evaluations[0].active[0].rule: unknown rule "recharge-brust" (did you mean "recharge-burst"?)`},
		{"mistyped rule notified", "history: h.json\nthroughout: {notified: [firing phantom_balance]}\n",
			`throughout.notified[0]: unknown rule "phantom_balance" (did you mean "phantom-balance"?)`},
		{"unknown rule", "history: h.json\nevaluations: [{at: 2026-10-14T03:00:00Z, active: [{rule: frobnicate}]}]\n",
			`evaluations[0].active[0].rule: unknown rule "frobnicate" (want one of recharge-burst, `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ruletest.Run(context.Background(), writeTest(t, tc.body), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: got %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRunStopsWhenCancelled: a rule test whose context has ended runs no
// replay and says so, naming the file.
func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join("..", "..", "examples", "healthy.test.yaml")
	_, err := ruletest.Run(ctx, path, nil)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), path+": stopped after 0 of ") {
		t.Errorf("Run: got %v, want it stopped before the first observation, naming %s", err, path)
	}
}
