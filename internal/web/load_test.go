package web

import (
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/lifecycle"
)

// The findings log becomes stretches: a finding holds from its first
// record until the first evaluation without one; a record logged twice at
// one evaluation counts once; records after the period's end are left out.
func TestEpisodes(t *testing.T) {
	t0 := time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	var pts []ledger.Point
	for i := 0; i <= 6; i++ {
		pts = append(pts, ledger.Point{At: h(i)})
	}
	rec := func(rule string, at time.Time, summary string) lifecycle.FindingRecord {
		return lifecycle.FindingRecord{Rule: rule, Fingerprint: rule, Severity: billing.SeverityWarning, At: at, Summary: summary}
	}
	records := []lifecycle.FindingRecord{
		rec("a", h(1), "a1"), rec("a", h(2), "a2"), rec("b", h(2), "b1"), rec("b", h(2), "b1 again"),
		rec("a", h(4), "a3"), rec("a", h(5), "a4"), rec("a", h(6), "after the end"),
	}
	got := episodes(records, pts, h(5).Add(30*time.Minute))
	want := []Mark{
		{At: h(1), Until: h(3), Rule: "a", Summary: "a2"},
		{At: h(2), Until: h(3), Rule: "b", Summary: "b1"},
		{At: h(4), Until: h(6), Rule: "a", Summary: "a4"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d stretches %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if !g.At.Equal(w.At) || !g.Until.Equal(w.Until) || g.Rule != w.Rule || g.Summary != w.Summary {
			t.Errorf("stretch %d: got %s %v–%v %q, want %s %v–%v %q", i, g.Rule, g.At, g.Until, g.Summary, w.Rule, w.At, w.Until, w.Summary)
		}
	}
}
