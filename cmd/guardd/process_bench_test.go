package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/store/storetest"
)

// processAccounts is how many accounts BenchmarkCheckProcess checks.
const processAccounts = 100

// processState is a config of processAccounts DeepSeek-shaped accounts,
// each served by a history file of the polls after the stored ones, and a
// state database holding days of 15-minute polls of them ending now, as
// guardd check leaves it.
type processState struct {
	dir, config, cache string
}

// buildProcessState writes the state once per day and length into the
// temporary directory (a year takes minutes) and copies the database for
// each benchmark, so that every run starts from the same file. The
// generated history is moved to end at the start of today (UTC), so that
// the real clock of guardd check is right after it.
func buildProcessState(b *testing.B, days int) *processState {
	b.Helper()
	const (
		every = 15 * time.Minute
		extra = 40 // more than the checks of a run read; a file source holds them all in memory
	)
	stored := days * 24 * int(time.Hour/every)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	base := filepath.Join(os.TempDir(), fmt.Sprintf("guardd-bench-process-v1-%daccounts-%ddays-%s", processAccounts, days, today.Format("20060102")))
	ps := &processState{dir: b.TempDir(), cache: filepath.Join(base, "state.db")}
	ps.config = filepath.Join(ps.dir, "guardd.yaml")
	saved := lt.T0
	lt.T0 = today.Add(-time.Duration(stored) * every)
	a, polls := lt.History(lt.ShapeSplit, every, stored+extra)
	lt.T0 = saved

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "log: {level: warn, format: json}\nstate: {path: %q, retention: 87600h}\nhttp: {addr: off}\naccounts:\n",
		filepath.Join(ps.dir, "state.db"))
	if err := os.MkdirAll(base, 0o700); err != nil {
		b.Fatal(err)
	}
	var accounts []billing.Account
	for i := range processAccounts {
		acct := a
		acct.Name = fmt.Sprintf("acct-%03d", i)
		accounts = append(accounts, acct)
		src := filepath.Join(base, acct.Name+".json")
		f := &history.File{Account: acct}
		for _, p := range polls[stored:] {
			if p.Err == nil {
				o := p.Obs
				o.Account = acct.Name
				f.Observations = append(f.Observations, o)
			}
		}
		writeHistory(b, src, f)
		fmt.Fprintf(&cfg, "  - {name: %s, provider: deepseek, currency: CNY, drawdown: grants-first, auto_recharge: {enabled: false}, source: {type: file, path: %q}}\n",
			acct.Name, src)
	}
	if err := os.WriteFile(ps.config, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(ps.cache); err != nil {
		storetest.Stored(b, ps.cache, accounts, polls[:stored])
	}
	storetest.Copy(b, ps.cache, filepath.Join(ps.dir, "state.db"))
	return ps
}

func writeHistory(b *testing.B, path string, f *history.File) {
	b.Helper()
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := history.Encode(out, f); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// checkProcess runs guardd check, built as its own binary, under
// /usr/bin/time and returns its wall time and peak resident set size.
func (ps *processState) checkProcess(b *testing.B, guardd string) (time.Duration, uint64) {
	b.Helper()
	return timedProcess(b, guardd, "check", "--config", ps.config)
}

// timedProcess runs guardd with args under /usr/bin/time and returns its
// wall time and peak resident set size (/usr/bin/time's %M). The kernel's
// figure for a child started from this process would count this
// process's own memory too: a child's peak includes the image it was
// forked from.
func timedProcess(b *testing.B, guardd string, args ...string) (time.Duration, uint64) {
	b.Helper()
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "peak-rss-kb=%M", guardd}, args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("guardd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	_, kb, ok := strings.Cut(string(out), "peak-rss-kb=")
	if !ok {
		b.Fatalf("no peak RSS in /usr/bin/time's output:\n%s", out)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(kb), 10, 64)
	if err != nil {
		b.Fatalf("peak RSS %q: %v", kb, err)
	}
	return took, n << 10
}

// buildGuardd builds guardd into a temporary directory as a release is
// built (docs/deploy.md, "Build from source", and deploy/image's goBuild):
// static, trimmed, with the time zone database, without the symbol table,
// and returns its path. The binary measured is then the one the image and
// the systemd install run: a plain go build links the C library in (cgo's
// resolver), which maps 1.3 MiB more at idle.
func buildGuardd(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "guardd")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "timetzdata", "-ldflags", "-s -w -X main.version=bench", "-o", bin, "./cmd/guardd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build guardd: %v\n%s", err, out)
	}
	return bin
}

// BenchmarkCheckProcess is guardd check as a process (built by the
// benchmark, measured with /usr/bin/time), as a CronJob runs it:
// processAccounts accounts with a year of stored 15-minute polls against
// the same with a day and with 40 days (past the rules' 35-day history,
// which the checkpoint holds), paired. It reports the peak RSS of each
// (goal for the year ≤ 64 MiB), the wall time of each, year/day (goal ≤
// 1.2: the year's total time over the day's) and year/40d, and
// year/day-median, the median of the runs' own year/day (each year's check
// over the day's check run just before it), which one slow check moves
// less than the totals. The first check after the stored history (the one
// after an upgrade from a guardd without checkpoints, which rebuilds every
// ledger from 35 days of observations) is reported apart as first-*. The
// first run builds the states into the temporary directory, which takes
// minutes. A check takes about a tenth of a second, and on a shared
// machine one run of five checks each gave year/day anywhere from 1.0 to
// 1.26 for one build; twenty each gave 1.11-1.19. Run it with
//
//	go test ./cmd/guardd -run '^$' -bench CheckProcess -benchtime 20x
func BenchmarkCheckProcess(b *testing.B) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("no /usr/bin/time to measure peak RSS with")
	}
	guardd := buildGuardd(b)
	day, full, year := buildProcessState(b, 1), buildProcessState(b, 40), buildProcessState(b, 365)
	firstTook, firstRSS := year.checkProcess(b, guardd)
	day.checkProcess(b, guardd)
	full.checkProcess(b, guardd)
	var dayTook, fullTook, yearTook time.Duration
	var dayRSS, fullRSS, yearRSS uint64
	var paired []float64 // each run's year/day
	n := 0
	for b.Loop() {
		d, r := day.checkProcess(b, guardd)
		dayTook, dayRSS = dayTook+d, max(dayRSS, r)
		t, r := full.checkProcess(b, guardd)
		fullTook, fullRSS = fullTook+t, max(fullRSS, r)
		t, r = year.checkProcess(b, guardd)
		yearTook, yearRSS = yearTook+t, max(yearRSS, r)
		paired = append(paired, float64(t)/float64(d))
		n++
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(float64(yearTook)/float64(dayTook), "year/day")
	b.ReportMetric(median(paired), "year/day-median")
	b.ReportMetric(float64(yearTook)/float64(fullTook), "year/40d")
	b.ReportMetric(ms(dayTook), "day-ms")
	b.ReportMetric(ms(fullTook), "40d-ms")
	b.ReportMetric(ms(yearTook), "year-ms")
	b.ReportMetric(mib(dayRSS), "day-peak-RSS-MiB")
	b.ReportMetric(mib(fullRSS), "40d-peak-RSS-MiB")
	b.ReportMetric(mib(yearRSS), "year-peak-RSS-MiB")
	b.ReportMetric(float64(firstTook.Milliseconds()), "first-year-ms")
	b.ReportMetric(mib(firstRSS), "first-year-peak-RSS-MiB")
}

// BenchmarkRunIdle is guardd run's resident memory while idle with one
// account: built and started as its own process, it polls
// the account once, answers /readyz, and waits for the next scheduled
// poll; the benchmark then reads its VmRSS (goal ≤ 20 MiB), VmHWM (the
// peak), and the two parts of VmRSS, RssAnon (its own memory) and RssFile
// (its binary's pages mapped in), from /proc and stops it. Run it with
//
//	go test ./cmd/guardd -run '^$' -bench RunIdle -benchtime 3x
func BenchmarkRunIdle(b *testing.B) {
	src, err := filepath.Abs(filepath.Join("examples", "healthy.json"))
	if err != nil {
		b.Fatal(err)
	}
	guardd := buildGuardd(b)
	var worst memory
	for b.Loop() {
		dir := b.TempDir()
		addr := freeAddr(b)
		cfg := filepath.Join(dir, "guardd.yaml")
		text := fmt.Sprintf(`schedule: "0 0 1 1 *"
log: {level: warn, format: json}
state: {path: %q}
http: {addr: %q}
accounts:
  - {name: acme, provider: openai, currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}, source: {type: file, path: %q, loop: true}}
`, filepath.Join(dir, "state.db"), addr, src)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(guardd, "run", "--config", cfg)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		ready := waitReady(addr, 30*time.Second)
		time.Sleep(time.Second) // idle: the cycle and its writes are done
		m, statusErr := procMemory(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if !ready {
			b.Fatal("guardd run did not answer /readyz within 30s")
		}
		if statusErr != nil {
			b.Fatal(statusErr)
		}
		worst.rss, worst.hwm = max(worst.rss, m.rss), max(worst.hwm, m.hwm)
		worst.anon, worst.file = max(worst.anon, m.anon), max(worst.file, m.file)
	}
	b.ReportMetric(mib(worst.rss), "idle-RSS-MiB")
	b.ReportMetric(mib(worst.hwm), "peak-RSS-MiB")
	b.ReportMetric(mib(worst.anon), "idle-anon-MiB")
	b.ReportMetric(mib(worst.file), "idle-file-MiB")
}

// BenchmarkStart is what every guardd process pays before it does
// anything, a CronJob's run and each CLI command included: guardd version
// started and waited for (ns/op), with the runtime's trace of package
// initialisation on. It reports what initialisation allocates, in all and
// in guardd's own packages, in KiB, how many packages it initialises, and
// (when /usr/bin/time is there) the peak RSS of guardd version: the
// binary's pages that initialising its packages maps in, the floor under
// BenchmarkRunIdle's idle RSS. Run it with
//
//	go test ./cmd/guardd -run '^$' -bench Start
func BenchmarkStart(b *testing.B) {
	guardd := buildGuardd(b)
	var all, own float64
	var pkgs int
	for b.Loop() {
		cmd := exec.Command(guardd, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var trace strings.Builder
		cmd.Stderr = &trace
		if err := cmd.Run(); err != nil {
			b.Fatalf("guardd version: %v\n%s", err, trace.String())
		}
		all, own, pkgs = 0, 0, 0
		for line := range strings.Lines(trace.String()) {
			// init PKG @T ms, T ms clock, N bytes, N allocs
			f := strings.Fields(line)
			if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
				continue
			}
			n, err := strconv.ParseFloat(f[7], 64)
			if err != nil {
				b.Fatalf("init trace line %q: %v", line, err)
			}
			all, pkgs = all+n, pkgs+1
			if strings.HasPrefix(f[1], "github.com/guardd/guardd/") {
				own += n
			}
		}
		if all == 0 {
			b.Fatalf("no init trace from guardd version:\n%.500s", trace.String())
		}
	}
	b.ReportMetric(all/1024, "init-KiB")
	b.ReportMetric(own/1024, "guardd-init-KiB")
	b.ReportMetric(float64(pkgs), "packages-initialised")
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		_, rss := timedProcess(b, guardd, "version")
		b.ReportMetric(mib(rss), "peak-RSS-MiB")
	}
}

func freeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady says whether http://addr/readyz answered 200 within limit.
func waitReady(addr string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// memory is what /proc/PID/status says of a process's memory, in bytes.
type memory struct {
	rss, hwm uint64
	// anon is the process's own memory (heap, stacks, the runtime's);
	// file the pages of files mapped into it (its binary), which the page
	// cache shares and the kernel may drop and read again.
	anon, file uint64
}

// procMemory returns a process's VmRSS, VmHWM, RssAnon and RssFile.
func procMemory(pid int) (memory, error) {
	var m memory
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	fields := map[string]*uint64{"VmRSS": &m.rss, "VmHWM": &m.hwm, "RssAnon": &m.anon, "RssFile": &m.file}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		f := fields[name]
		if !ok || f == nil {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %q: %w", name, value, err)
		}
		*f = kb << 10
	}
	if m.rss == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// median returns the median of xs, which holds at least one value (the
// mean of the middle two when their number is even); it sorts xs.
func median(xs []float64) float64 {
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}
