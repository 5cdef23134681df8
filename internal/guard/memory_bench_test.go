package guard_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
)

// inUse returns the bytes of heap in use after collecting garbage (the
// spans holding any object), and of them the bytes of live objects.
func inUse() (inuse, live uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.HeapAlloc
}

// BenchmarkLedgerMemory is guardd run's memory over simulated days:
// memAccounts accounts (a quarter of each generated shape) polled every 15
// minutes, each poll appended to the account's ledger (a fresh copy of
// the observation, as a source fetches) and checked by the rules, as the
// cycle does, each ledger held frozen between its polls as the guard
// holds it (thawed for the poll, frozen after). It reports the heap in use after collecting garbage (the
// ledgers, the generated histories and the runtime's own), in MiB, at days
// 1 and 30 and their ratio (goal: day30/day1 ≤ 1.1, day30 ≤ 64 MiB), and
// the ledgers' bytes per account at both. It also reports the live bytes
// (objects, without the free room of the spans they keep in use) at both
// days, in MiB: what the heap in use grows by beyond them is
// fragmentation, not data; and the µs a poll spends thawing and freezing
// its ledger, on top of the rules, in the last day. Last, it thaws every
// ledger and holds them all live, as guardd check does from its load to its
// exit (Options.LiveLedgers), and reports that heap and the bytes each
// account adds to it over the frozen one. With GUARDD_BENCH_MEMORY_DAYS=66
// it also reports day 36 (the rules' history, 35 days, is full) and day
// 66, their ratio, and the live bytes at both. Run it with
//
//	go test ./internal/guard -run '^$' -bench LedgerMemory -benchtime 1x
func BenchmarkLedgerMemory(b *testing.B) {
	const (
		accounts = memAccounts
		every    = 15 * time.Minute
	)
	days := 30
	if os.Getenv("GUARDD_BENCH_MEMORY_DAYS") == "66" {
		days = 66
	}
	perDay := int(24 * time.Hour / every)
	params := rules.DefaultParams()
	engine := rules.New(params)
	type history struct {
		account billing.Account
		polls   []lt.Poll
	}
	var shapes []history
	for _, s := range lt.Shapes {
		a, polls := lt.History(s, every, days*perDay)
		shapes = append(shapes, history{a, polls})
	}
	for b.Loop() {
		base, _ := inUse()
		opts := ledger.DefaultOptions()
		opts.Keep, opts.KeepPoints, opts.NoGrantHistory = engine.History(), engine.PointHistory(), true // as guard.New sets them
		ledgers := make([]ledger.Frozen, accounts)
		for i := range ledgers {
			a := shapes[i%len(shapes)].account
			a.Name = fmt.Sprintf("acct-%04d", i)
			ledgers[i] = ledger.New(a, opts).Freeze(nil)
		}
		heap, per, live := map[int]float64{}, map[int]float64{}, map[int]float64{}
		var frozenTime time.Duration
		for d := range days {
			frozenTime = 0
			for k := range perDay {
				for i := range ledgers {
					p := shapes[i%len(shapes)].polls[d*perDay+k]
					if p.Err == nil {
						p.Obs = lt.Clone(p.Obs)
					}
					start := time.Now()
					l, err := ledgers[i].Thaw()
					if err != nil {
						b.Fatal(err)
					}
					frozenTime += time.Since(start)
					if err := p.Feed(l); err != nil {
						b.Fatal(err)
					}
					if _, held := l.Held(); !held && p.Err == nil {
						sink = engine.Check(l, p.At)
						state = l.State(p.At, params.BurnWindow.Duration)
					}
					start = time.Now()
					ledgers[i] = l.Freeze(ledgers[i].Checkpoint())
					frozenTime += time.Since(start)
				}
			}
			switch d + 1 {
			case 1, 30, 36, 66:
				now, objects := inUse()
				heap[d+1], per[d+1], live[d+1] = float64(now)/(1<<20), float64(now-base)/accounts, float64(objects)/(1<<20)
			}
		}
		runtime.KeepAlive(ledgers)
		held := make([]*ledger.Ledger, accounts)
		for i := range ledgers {
			l, err := ledgers[i].Thaw()
			if err != nil {
				b.Fatal(err)
			}
			held[i] = l
		}
		ledgers = nil
		liveHeap, _ := inUse()
		runtime.KeepAlive(held)
		b.ReportMetric(float64(liveHeap)/(1<<20), "live-ledgers-heap-MiB")
		b.ReportMetric((float64(liveHeap)/(1<<20)-heap[days])*(1<<20)/accounts, "live-ledgers-B/account")
		b.ReportMetric(heap[1], "heap-MiB@day1")
		b.ReportMetric(heap[30], "heap-MiB@day30")
		b.ReportMetric(heap[30]/heap[1], "day30/day1")
		b.ReportMetric(per[1], "B/account@day1")
		b.ReportMetric(per[30], "B/account@day30")
		b.ReportMetric(live[1], "live-MiB@day1")
		b.ReportMetric(live[30], "live-MiB@day30")
		b.ReportMetric(float64(frozenTime.Microseconds())/float64(perDay*accounts), "thaw+freeze-µs/poll")
		if days == 66 {
			b.ReportMetric(heap[36], "heap-MiB@day36")
			b.ReportMetric(heap[66], "heap-MiB@day66")
			b.ReportMetric(heap[66]/heap[36], "day66/day36")
			b.ReportMetric(live[36], "live-MiB@day36")
			b.ReportMetric(live[66], "live-MiB@day66")
		}
	}
}

// memAccounts is how many accounts BenchmarkLedgerMemory keeps.
const memAccounts = 1000
