package guard_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
)

// retained returns the bytes the heap holds after collecting garbage.
func retained() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLedgerMemory is guardd run's memory over simulated days: 100
// accounts (25 of each generated shape) polled every 15 minutes for 66
// days, each poll appended to the account's ledger (a fresh copy of the
// observation, as a source fetches) and checked by the rules, as the
// cycle does. It reports the bytes the ledgers hold per account, measured
// after collecting garbage, at days 1, 30, 36 (the rules' history, 35
// days, is full) and 66, and the ratios day30/day1 and day66/day36 (goal:
// flat, within 1.1). keep=all keeps everything, as ledgers did before
// they kept only the rules' history. Run it with
//
//	go test ./internal/guard -run '^$' -bench LedgerMemory -benchtime 1x
func BenchmarkLedgerMemory(b *testing.B) {
	const (
		accounts = 100
		every    = 15 * time.Minute
		days     = 66
	)
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
	for _, keep := range []struct {
		name string
		keep time.Duration
	}{{"keep=all", 0}, {"keep=history", engine.History()}} {
		b.Run(keep.name, func(b *testing.B) {
			for b.Loop() {
				base := retained()
				opts := ledger.DefaultOptions()
				opts.Keep = keep.keep
				ledgers := make([]*ledger.Ledger, accounts)
				for i := range ledgers {
					a := shapes[i%len(shapes)].account
					a.Name = fmt.Sprintf("acct-%03d", i)
					ledgers[i] = ledger.New(a, opts)
				}
				at := map[int]float64{}
				for d := range days {
					for k := range perDay {
						for i, l := range ledgers {
							p := shapes[i%len(shapes)].polls[d*perDay+k]
							if p.Err == nil {
								p.Obs = lt.Clone(p.Obs)
							}
							if err := p.Feed(l); err != nil {
								b.Fatal(err)
							}
							if _, held := l.Held(); !held && p.Err == nil {
								sink = engine.Check(l, p.At)
								state = l.State(p.At, params.BurnWindow.Duration)
							}
						}
					}
					switch d + 1 {
					case 1, 30, 36, 66:
						at[d+1] = float64(retained()-base) / accounts
					}
				}
				runtime.KeepAlive(ledgers)
				b.ReportMetric(at[1], "B/account@day1")
				b.ReportMetric(at[30], "B/account@day30")
				b.ReportMetric(at[36], "B/account@day36")
				b.ReportMetric(at[66], "B/account@day66")
				b.ReportMetric(at[30]/at[1], "day30/day1")
				b.ReportMetric(at[66]/at[36], "day66/day36")
			}
		})
	}
}
