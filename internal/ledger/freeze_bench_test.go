package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
)

// BenchmarkFreezeThaw is what guardd run pays at each poll of an account
// for holding its ledger frozen between polls: one Thaw and one Freeze
// (the freeze's checkpoint is the one written to the store when due). It
// grows with the ledger's windows, not with the history: at 1, 8 (the
// points' horizon), 35 (the rules' history) and 140 days of 15-minute
// polls of the grants shape, it reports the time of a thaw and a freeze
// and the checkpoint's bytes. Past 35 days both follow what the last 35
// hold (recharges, grants), not how many days came before. Run it with
//
//	go test ./internal/ledger -run '^$' -bench FreezeThaw
func BenchmarkFreezeThaw(b *testing.B) {
	for _, days := range []int{1, 8, 35, 140} {
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			a, polls := lt.History(lt.ShapeGrants, 15*time.Minute, days*96)
			opts := ledger.DefaultOptions()
			opts.Keep, opts.KeepPoints, opts.NoGrantHistory = 35*24*time.Hour, 8*24*time.Hour, true // as the default rules need
			l := ledger.New(a, opts)
			for _, p := range polls {
				if err := p.Feed(l); err != nil {
					b.Fatal(err)
				}
			}
			f := l.Freeze(nil)
			b.ReportAllocs()
			for b.Loop() {
				l, err := f.Thaw()
				if err != nil {
					b.Fatal(err)
				}
				f = l.Freeze(f.Checkpoint())
			}
			b.ReportMetric(float64(len(f.Checkpoint())), "checkpoint-bytes")
		})
	}
}
