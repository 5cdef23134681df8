package guard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/storetest"
)

// checkAccounts is how many accounts BenchmarkCheckYearVsDay checks.
const checkAccounts = 100

// checkStore is a state database holding days of 15-minute polls of
// checkAccounts DeepSeek-shaped accounts, as guardd check leaves it, and
// the polls that come after.
type checkStore struct {
	path     string
	accounts []billing.Account
	next     [][]lt.Poll // per account, the polls after the stored ones
}

// buildCheckStore writes the store once per days into the test cache
// directory (it takes minutes for a year) and copies it for each run, so
// that every run starts from the same file.
func buildCheckStore(b *testing.B, days int) *checkStore {
	b.Helper()
	const every = 15 * time.Minute
	stored := days * 24 * int(time.Hour/every)
	const extra = 2000
	a, polls := lt.History(lt.ShapeSplit, every, stored+extra)
	cs := &checkStore{}
	for i := range checkAccounts {
		acct := a
		acct.Name = fmt.Sprintf("acct-%03d", i)
		cs.accounts = append(cs.accounts, acct)
		next := make([]lt.Poll, extra)
		for j, p := range polls[stored:] {
			p.Obs.Account = acct.Name
			next[j] = p
		}
		cs.next = append(cs.next, next)
	}
	cache := filepath.Join(os.TempDir(), fmt.Sprintf("guardd-bench-check-v1-%daccounts-%ddays.db", checkAccounts, days))
	if _, err := os.Stat(cache); err != nil {
		storetest.Stored(b, cache, cs.accounts, polls[:stored])
	}
	cs.path = filepath.Join(b.TempDir(), "state.db")
	storetest.Copy(b, cache, cs.path)
	return cs
}

// check runs what guardd check does once, without the network: open the
// state store, load every ledger, poll each account once (from memory) at
// the i-th poll after the stored ones, evaluate, persist, close. It
// returns the time spent opening the store and in all.
func (cs *checkStore) check(b *testing.B, i int) (open, total time.Duration) {
	ctx := context.Background()
	start := time.Now()
	st, err := store.Open(ctx, cs.path, store.Options{Retention: 10 * 365 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	open = time.Since(start)
	accounts := make([]guard.Account, len(cs.accounts))
	var now time.Time
	for k, a := range cs.accounts {
		p := cs.next[k][i]
		now = p.At
		accounts[k] = guard.Account{Account: a, Source: &fakeSource{FetchFunc: func(context.Context, time.Time) (billing.Observation, error) {
			return p.Obs, p.Err
		}}}
	}
	g := guard.New(accounts, guard.Options{Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions(), State: st.Lifecycle(), History: st})
	if err := g.Load(ctx, now); err != nil {
		b.Fatal(err)
	}
	if _, err := g.Cycle(ctx, now); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return open, time.Since(start)
}

// heapPeak samples the heap while a function runs and returns its peak
// above the heap live before it (the benchmark's own data), garbage not
// yet collected included.
func heapPeak(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak - min(base, peak)
}

// BenchmarkCheckYearVsDay is guardd check's cost against the history it
// has stored: checkAccounts accounts with a year of 15-minute polls
// against the same accounts with a day of them, paired (each iteration
// checks both). The goal is year/day ≤ 1.2. It reports that ratio for the
// whole check and for load and cycle without opening the store (whose
// integrity check is another matter), the milliseconds of each, and the
// peak heap of a year's check above the benchmark's own (the peak RSS of
// guardd check as a process is BenchmarkCheckProcess in cmd/guardd). The
// first run builds the stores into the temporary directory, which takes
// minutes; later runs copy them. Run it with
//
//	go test ./internal/guard -run '^$' -bench CheckYearVsDay -benchtime 10x
func BenchmarkCheckYearVsDay(b *testing.B) {
	day, year := buildCheckStore(b, 1), buildCheckStore(b, 365)
	// The first check after the stored history settles what a store
	// written by an older guardd needs once; it is not the steady state.
	day.check(b, 0)
	year.check(b, 0)
	var dayOpen, dayAll, yearOpen, yearAll time.Duration
	var peak uint64
	i := 1
	for b.Loop() {
		o, a := day.check(b, i)
		dayOpen, dayAll = dayOpen+o, dayAll+a
		peak = max(peak, heapPeak(func() {
			o, a = year.check(b, i)
		}))
		yearOpen, yearAll = yearOpen+o, yearAll+a
		i++
	}
	n := float64(i - 1)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(float64(yearAll)/float64(dayAll), "year/day")
	b.ReportMetric(float64(yearAll-yearOpen)/float64(dayAll-dayOpen), "year/day-no-open")
	b.ReportMetric(ms(dayAll), "day-ms")
	b.ReportMetric(ms(yearAll), "year-ms")
	b.ReportMetric(ms(yearOpen), "year-open-ms")
	b.ReportMetric(float64(peak)/(1<<20), "year-peak-heap-MiB")
}
