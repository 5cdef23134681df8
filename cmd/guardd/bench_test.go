package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/poller/pollertest"
)

// slowDeepSeek starts a fake DeepSeek that adds latency to every answer,
// and returns an account's YAML (but its name) reading it, and the
// environment holding its key.
func slowDeepSeek(b *testing.B, latency time.Duration) (string, map[string]string) {
	f := pollertest.NewDeepSeek(b)
	f.SetLatency(latency)
	return fmt.Sprintf(`    provider: deepseek
    currency: CNY
    drawdown: grants-first
    auto_recharge: {enabled: false}
    source: {type: deepseek, base_url: %q, api_key_env: KEY}
`, f.URL()), map[string]string{"KEY": f.APIKey}
}

// benchConfig writes a config of head (global settings) and n accounts of
// the YAML account, named acct-0000 and on, with a state database beside
// it, and returns its path.
func benchConfig(b *testing.B, head string, n int, account string) string {
	var cfg strings.Builder
	cfg.WriteString("log: {level: warn, format: json}\n" + head + "accounts:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - name: acct-%04d\n%s", i, account)
	}
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkCycle10000Accounts times one cycle of guardd check over 10,000
// DeepSeek accounts (one request each) against a fake DeepSeek, a real
// httptest server, that answers after 50 ms, at poll.concurrency 32: the
// ideal is 10000/32 × 50 ms = 15.6 s, and x-ideal is the cycle over it
// (the goal: at most 1.2). The cycle is the real one: the DeepSeek client
// over HTTP, the ledgers and rules, and one write transaction per account
// in the state database; setting up (loading the config, opening the
// state) is not timed. Each iteration is a cycle 15 minutes after the
// last. It takes about 20 s an iteration and is not run by go test:
//
//	go test ./cmd/guardd -run '^$' -bench Cycle10000 -benchtime 1x
func BenchmarkCycle10000Accounts(b *testing.B) {
	const n, latency, inFlight = 10000, 50 * time.Millisecond, 32
	account, env := slowDeepSeek(b, latency)
	path := benchConfig(b, fmt.Sprintf("poll: {concurrency: %d}\n", inFlight), n, account)
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	now := time.Now().UTC()
	var errOut bytes.Buffer
	a, err := setup(b.Context(), path, getenv, &bytes.Buffer{}, &errOut, false, false, now)
	if err != nil {
		b.Fatalf("setup: %v\n%s", err, errOut.String())
	}
	defer a.Close()
	cpu0 := cpuTime(b)
	for b.Loop() {
		now = now.Add(15 * time.Minute)
		rep, err := a.guard.Cycle(b.Context(), now)
		if err != nil || rep.Polled != n {
			b.Fatalf("cycle: polled %d of %d: %v", rep.Polled, n, err)
		}
	}
	cpu := cpuTime(b) - cpu0
	ideal := float64(n) / inFlight * latency.Seconds()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/cycle")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/ideal, "x-ideal")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/cycle")
}

// cpuTime returns the CPU time the process has used, user and system: on a
// shared machine a steadier measure of a cycle's cost than its wall time,
// which the other processes' load stretches. It counts the fake's CPU too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
