package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cancelOnWrite is an output that cancels the command's context at the first
// write: SIGINT arriving just after the first notification is printed.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return w.Buffer.Write(p)
}

// TestReplayStopsWhenInterrupted: a replay whose context ends (SIGINT or
// SIGTERM in main) stops before the next observation, says how far it got
// and fails, instead of playing the rest of the history.
func TestReplayStopsWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnWrite{cancel: cancel}
	var errOut bytes.Buffer
	path := filepath.Join("examples", "hourly-recharge.json")
	err := run(ctx, []string{"replay", "--output", "json", path}, proc{getenv: noEnv, stdout: out, stderr: &errOut})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("replay: got %v, want it stopped by the cancelled context", err)
	}
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `: replay interrupted: stopped after (\d+) of (\d+) observations: context canceled$`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error: got %q, want the history, and how far the replay got", err)
	}
	done, _ := strconv.Atoi(m[1])
	total, _ := strconv.Atoi(m[2])
	if done >= total {
		t.Errorf("replayed %d of %d observations, want it stopped before the end", done, total)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Errorf("notifications printed: got %d, want only the one printed before the signal:\n%s", n, out.String())
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("exit code: got %d, want 1", code)
	}
}

// TestRuleTestStopsWhenInterrupted: guardd test stops when its context
// ends, and fails saying so, instead of running every file.
func TestRuleTestStopsWhenInterrupted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.test.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("example tests: got %d (%v)", len(files), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, append([]string{"test"}, files...), proc{getenv: noEnv, stdout: &out, stderr: &errOut})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "test interrupted (0 of "+strconv.Itoa(len(files))+" files run): "+files[0]+": stopped after 0 of ") {
		t.Fatalf("test: got %v, want it interrupted at the first file", err)
	}
	if out.Len() != 0 {
		t.Errorf("output: got %q, want no PASS or FAIL for a test that did not run", out.String())
	}
}

func noEnv(string) (string, bool) { return "", false }
