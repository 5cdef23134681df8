package ledger_test

import (
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
)

// A grant's history keeps its used credit each time it changed, so the
// credit of a recharge can be followed as it is drawn; Points returns the
// positions in a span.
func TestGrantHistoryAndPoints(t *testing.T) {
	paid := billing.GrantPurchased
	g1 := func(used string) billing.Grant { return lt.Grant("cg_1", paid, "10.00", used, lastMonth, future) }
	g2 := func(used string) billing.Grant { return lt.Grant("cg_2", paid, "10.00", used, lastMonth, future) }
	l := build(t, lt.Account("5.00", "10.00"),
		lt.At(t0).Shown("4.00").Grants(g1("6.00")).Build(),
		lt.At(t0.Add(h)).Shown("13.50").Grants(g1("6.50"), g2("0")).Build(),
		lt.At(t0.Add(2*h)).Shown("13.50").Grants(g1("6.50"), g2("0")).Build(),
		lt.At(t0.Add(3*h)).Shown("10.00").Grants(g1("10.00"), g2("0")).Build(),
		lt.At(t0.Add(4*h)).Shown("9.00").Grants(g1("10.00"), g2("1.00")).Build(),
	)
	gs := l.Grants()
	if len(gs) != 2 || gs[0].Grant.ID != "cg_1" || gs[1].Grant.ID != "cg_2" {
		t.Fatalf("Grants: got %+v, want cg_1 then cg_2", gs)
	}
	if got := len(gs[0].Used); got != 3 {
		t.Errorf("cg_1 used changes: got %d, want 3 (6.00, 6.50, 10.00)", got)
	}
	if !gs[1].Grant.FirstSeen.Equal(t0.Add(h)) || !gs[1].LastSeen.Equal(t0.Add(4*h)) || gs[1].Source != lt.Source {
		t.Errorf("cg_2: got first seen %s, last seen %s, source %q", gs[1].Grant.FirstSeen, gs[1].LastSeen, gs[1].Source)
	}
	for _, tc := range []struct {
		g     int
		hours int
		want  string
		known bool
	}{
		{0, 0, "6.00", true}, {0, 2, "6.50", true}, {0, 3, "10.00", true},
		{1, 0, "0", false}, {1, 3, "0", true}, {1, 5, "1.00", true},
	} {
		got, known := gs[tc.g].UsedBy(t0.Add(h * time.Duration(tc.hours)))
		if known != tc.known || !got.Equal(dec(tc.want)) {
			t.Errorf("%s used by +%dh: got %s (known %v), want %s (known %v)", gs[tc.g].Grant.ID, tc.hours, got, known, tc.want, tc.known)
		}
	}
	pts := l.Points(t0.Add(h), t0.Add(3*h))
	if len(pts) != 3 || !pts[0].At.Equal(t0.Add(h)) || !pts[2].At.Equal(t0.Add(3*h)) {
		t.Errorf("Points(+1h, +3h): got %d points, want 3 from +1h to +3h", len(pts))
	}
	if pts := l.Points(t0.Add(5*h), t0.Add(9*h)); pts != nil {
		t.Errorf("Points after the last: got %d, want none", len(pts))
	}
}
