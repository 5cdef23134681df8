package web

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/status"
)

// yearPage is an account page over a year of hourly history (ledgertest.
// Year: 20 grants in every poll, a charge every 4h23m) with a finding
// that held all year and one that came and went every day.
func yearPage(b *testing.B) (*ledger.Ledger, Account, []lifecycle.FindingRecord) {
	a, obs := lt.Year(365 * 24)
	l := ledger.New(a, ledger.DefaultOptions())
	for i, o := range obs {
		if err := l.Append(o); err != nil {
			b.Fatalf("observation %d: %v", i, err)
		}
	}
	from, to := obs[0].At, obs[len(obs)-1].At
	var records []lifecycle.FindingRecord
	for i, o := range obs {
		records = append(records, lifecycle.FindingRecord{Account: a.Name, Rule: "charge-without-credit", Entity: "charges",
			Fingerprint: billing.Fingerprint("charge-without-credit", a.Name, "charges"), Severity: billing.SeverityCritical, At: o.At,
			Summary: "charges without credit"})
		if i%24 < 3 {
			records = append(records, lifecycle.FindingRecord{Account: a.Name, Rule: "runway-short", Entity: "balance",
				Fingerprint: billing.Fingerprint("runway-short", a.Name, "balance"), Severity: billing.SeverityWarning, At: o.At,
				Summary: "the balance lasts less than 3 days"})
		}
	}
	now := to.Add(time.Hour)
	st := status.Account{Name: a.Name, Provider: a.Provider, Currency: string(a.Currency), State: l.State(to, 7*24*time.Hour),
		Sees: "costs ✓ charges ✓ balance ✓ grants ✓", LastPoll: &status.Poll{At: to, OK: true}}
	p := Account{At: now, Status: st, Currency: a.Currency, Period: Period{From: from, To: to, Chosen: true}, Newest: to}
	return l, p, records
}

// BenchmarkYearPage renders an account's page over a year of hourly
// history, from its ledger: the timeline (downsampled), the money flow and
// the tables. Goals: under 50 ms and under 200 KB a page; both are
// reported (ms/page, bytes/page).
func BenchmarkYearPage(b *testing.B) {
	l, p, records := yearPage(b)
	var size int
	cpu0 := cpuTime()
	for b.Loop() {
		page := p
		page.fill(l, records)
		var buf bytes.Buffer
		if err := RenderAccount(&buf, page); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/page")
	b.ReportMetric(float64(size), "bytes/page")
	// The machine is shared: the CPU time the process spent says more
	// than the wall time when others are busy.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/page")
}

// cpuTime is the CPU time (user and system) this process has spent.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
