package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// At info, guardd logs what each account's source lets the rules see and
// which rules that leaves live and off: for a file source, read off its
// history (costs are not in examples/healthy.json, so spend-without-usage
// is off).
func TestLogsWhatEachAccountSees(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("examples", "healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "guardd.yaml")
	text := fmt.Sprintf(`log: {level: info, format: json}
state: {path: %q}
http: {addr: off}
accounts:
  - {name: acme, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: %q}}
`, filepath.Join(dir, "state.db"), src)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCmd(t, nil, "check", "--config", cfg)
	if err != nil {
		t.Fatalf("guardd check: %v\n%s", err, stderr)
	}
	type seesLine struct {
		Msg, Account, Sees string
		Live, Off          []string
	}
	var line seesLine
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() && line.Msg != "account sees" {
		line = seesLine{}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
	}
	if line.Msg != "account sees" {
		t.Fatalf("no \"account sees\" line in:\n%s", stderr)
	}
	if line.Account != "acme" || !strings.Contains(line.Sees, "costs ✗ (not in the history)") || !strings.Contains(line.Sees, "grants ✓") ||
		!slices.Equal(line.Off, []string{"spend-without-usage"}) || !slices.Contains(line.Live, "charge-without-credit") {
		t.Errorf("got %+v, want acme seeing grants and no costs, with spend-without-usage off", line)
	}
}
