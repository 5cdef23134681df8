package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
)

// yearFile is a one-year hourly history (8,760 observations, 20 grants,
// 2,000 charges) as a history file.
func yearFile(b *testing.B) (*history.File, []byte) {
	b.Helper()
	a, obs := lt.Year(8760)
	f := &history.File{Account: a, Observations: obs}
	var buf bytes.Buffer
	if err := history.Encode(&buf, f); err != nil {
		b.Fatal(err)
	}
	return f, buf.Bytes()
}

// The goal: evaluating a history costs no more than decoding it with
// guardd's own validating decoder (history.Decode), the honest floor:
// BenchmarkYearEvaluate reports the ratio as eval/decode.
// BenchmarkYearDecodeJSON is kept for comparison with a plain decode.

// BenchmarkYearDecodeJSON decodes the same file with encoding/json into
// generic values.
func BenchmarkYearDecodeJSON(b *testing.B) {
	_, data := yearFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkYearDecodeHistory decodes the file with guardd's validating decoder.
func BenchmarkYearDecodeHistory(b *testing.B) {
	_, data := yearFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := history.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkYearEvaluate replays the decoded year through the whole cycle
// (poll from the file source, ledger, rules after every observation, alert
// lifecycle), as guardd replay does, without the decode. Each iteration
// also decodes the file with history.Decode, timed apart, and the
// benchmark reports evaluation over decoding (eval/decode, goal ≤ 1) from
// those paired runs; ns/op counts both.
func BenchmarkYearEvaluate(b *testing.B) {
	f, data := yearFile(b)
	b.ReportAllocs()
	var eval, decode time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := history.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		err := guard.Replay(context.Background(), f.Account, "year", f.Observations, guard.Options{
			Params:    rules.DefaultParams(),
			Ledger:    ledger.DefaultOptions(),
			Receivers: []alert.Receiver{{Name: "count", Notifier: &countingNotifier{}}},
		}, func(int, guard.Report) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		eval, decode = eval+time.Since(mid), decode+mid.Sub(start)
	}
	b.ReportMetric(float64(eval)/float64(decode), "eval/decode")
	b.ReportMetric(float64(eval.Milliseconds())/float64(b.N), "eval-ms")
	b.ReportMetric(float64(decode.Milliseconds())/float64(b.N), "decode-ms")
}

type countingNotifier struct{ n int }

var _ alert.Notifier = (*countingNotifier)(nil)

func (c *countingNotifier) Send(context.Context, alert.Notification) (alert.Ref, bool, error) {
	c.n++
	return alert.Ref{}, false, nil
}

// BenchmarkEvaluateOne measures what one poll costs guardd on an account
// with a month and with a year of hourly history: appending the observation,
// checking every rule and taking the account's state (findings are only
// explained when they start firing). The goal is that the year costs at most
// 1.5 times the month.
func BenchmarkEvaluateOne(b *testing.B) {
	const extra = 1000
	a, obs := lt.Year(8760 + extra)
	engine := rules.New(rules.DefaultParams())
	for _, tc := range []struct {
		name  string
		hours int
	}{{"history=month", 720}, {"history=year", 8760}} {
		b.Run(tc.name, func(b *testing.B) {
			// The month starts where the year's last month starts, so both
			// evaluate the same observations.
			base := 8760 - tc.hours
			build := func() *ledger.Ledger {
				l := ledger.New(a, ledger.DefaultOptions())
				for _, o := range obs[base:8760] {
					if err := l.Append(o); err != nil {
						b.Fatal(err)
					}
				}
				return l
			}
			l, k := build(), 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if k == extra {
					b.StopTimer()
					l, k = build(), 0
					b.StartTimer()
				}
				o := obs[8760+k]
				if err := l.Append(o); err != nil {
					b.Fatal(err)
				}
				sink = engine.Check(l, o.At)
				state = l.State(o.At, rules.DefaultParams().BurnWindow.Duration)
				k++
			}
		})
	}
}

var (
	sink  []billing.Finding
	state billing.AccountState
)

// BenchmarkReplayManyCharges replays a history whose charges are listed in
// one poll, as a provider's invoice list or a mailbox's backlog brings
// them: the ledger pairs each charge with its credit through indexes of the
// unpaired halves, so the cost grows linearly with the number of charges
// (ns/charge stays flat from 25,000 to 100,000; it was quadratic, and
// 100,000 charges ran 12 minutes).
func BenchmarkReplayManyCharges(b *testing.B) {
	for _, n := range []int{25000, 50000, 100000} {
		b.Run(fmt.Sprintf("charges=%d", n), func(b *testing.B) {
			a := lt.Account("5", "10")
			t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			cs := make([]billing.Charge, n)
			for i := range cs {
				cs[i] = lt.Invoice(fmt.Sprintf("in_%d", i), t0.Add(-time.Duration(n-i)*time.Minute), "10.00", "0", billing.TriggerAutoRecharge)
			}
			g := lt.Grant("g", billing.GrantPurchased, "10", "0", t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0))
			obs := []billing.Observation{lt.At(t0).Grants(g).Charges().Build(), lt.At(t0.Add(time.Hour)).Grants(g).Charges(cs...).Build()}
			b.ResetTimer()
			for range b.N {
				if err := guard.Replay(context.Background(), a, "many", obs, guard.Options{Params: rules.DefaultParams()},
					func(int, guard.Report) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/charge")
		})
	}
}
