package web

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	t0       = lt.T0
	h        = time.Hour
	day      = 24 * h
	future   = t0.Add(365 * day)
	backDate = time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)
)

func costDay(start time.Time, amount string, settled bool) billing.CostBucket {
	return billing.CostBucket{Start: start, End: start.Add(day), Amount: lt.USD(amount), Settled: settled}
}

// hourlyLoop is the reported loop in small: every hour a new $10 grant
// lands, although the balance is far above the $5 threshold.
func hourlyLoop(t testing.TB) *ledger.Ledger {
	paid := billing.GrantPurchased
	var obs []billing.Observation
	var gs []billing.Grant
	for i := range 6 {
		used := "0.00"
		if i == 0 {
			used = "6.20"
		}
		gs = append(gs, lt.Grant("cg_0"+string(rune('1'+i)), paid, "10.00", used, backDate, future))
		gs[0].Used = lt.USD("6.20")
		shown := lt.USD("3.80").Amount().Add(lt.USD("10.00").Amount().Mul(lt.USD(string(rune('0' + i))).Amount()))
		obs = append(obs, lt.At(t0.Add(time.Duration(i)*h)).Shown(shown.String()).Grants(gs...).
			Costs(costDay(t0, "0.00", false)).Build())
	}
	return built(t, lt.Account("5.00", "10.00"), obs...)
}

// expiredAndInvoices shows an expired grant the provider still counts,
// two invoices with tax (one a manual purchase) and three days of costs.
func expiredAndInvoices(t testing.TB) *ledger.Ledger {
	paid, promo := billing.GrantPurchased, billing.GrantPromotional
	old := lt.Grant("cg_promo", promo, "50.00", "0.00", t0.Add(-200*day), t0.Add(day))
	live := func(used string) billing.Grant { return lt.Grant("cg_live", paid, "20.00", used, backDate, future) }
	bought := func(used string) billing.Grant { return lt.Grant("cg_bought", paid, "25.00", used, backDate, future) }
	in1 := lt.Invoice("in_1001", t0.Add(30*h), "27.50", "2.50", billing.TriggerManual)
	return built(t, lt.Account("5.00", "10.00"),
		lt.At(t0).Shown("70.00").Grants(old, live("0.00")).Costs(costDay(t0.Add(-day), "3.10", true)).Build(),
		lt.At(t0.Add(12*h)).Shown("66.00").Grants(old, live("4.00")).Costs(costDay(t0, "4.00", false)).Build(),
		lt.At(t0.Add(24*h)).Shown("62.00").Grants(old, live("8.00")).Costs(costDay(t0, "8.00", true)).Build(),
		lt.At(t0.Add(36*h)).Shown("83.00").Grants(old, live("12.00"), bought("0.00")).Charges(in1).
			Costs(costDay(t0.Add(day), "4.00", false)).Build(),
		lt.At(t0.Add(48*h)).Shown("75.00").Grants(old, live("20.00"), bought("0.00")).Charges(in1).
			Costs(costDay(t0.Add(day), "8.00", true)).Build(),
	)
}

// split is a DeepSeek-style account: granted and paid balances, no grant
// list; a rise in paid balance is a recharge guardd infers.
func split(t testing.TB) *ledger.Ledger {
	a := lt.Account("5.00", "50.00")
	a.Currency, a.Drawdown = "CNY", billing.DrawdownGrantsFirst
	a.AutoRecharge = billing.AutoRecharge{}
	return built(t, a,
		lt.At(t0).Split("10.00", "20.00", "CNY").Build(),
		lt.At(t0.Add(6*h)).Split("10.00", "12.00", "CNY").Build(),
		lt.At(t0.Add(12*h)).Split("10.00", "58.00", "CNY").Build(),
		lt.At(t0.Add(18*h)).Split("10.00", "51.00", "CNY").Build(),
	)
}

func TestTimelineGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		l        *ledger.Ledger
		from, to time.Time
		findings []Mark
	}{
		{"hourly-loop", hourlyLoop(t), t0, t0.Add(6 * h), []Mark{
			{At: t0.Add(2 * h), Until: t0.Add(3 * h), Rule: "recharge-above-threshold", Severity: billing.SeverityWarning, Summary: "a recharge with $13.30 left"},
			{At: t0.Add(3 * h), Rule: "recharge-burst", Severity: billing.SeverityCritical, Summary: "3 recharges in 6 hours"},
		}},
		{"expired-and-invoices", expiredAndInvoices(t), t0.Add(-day), t0.Add(2 * day), []Mark{
			{At: t0, Rule: "phantom-balance", Severity: billing.SeverityWarning},
		}},
		{"split", split(t), t0, t0.Add(day), nil},
		{"empty", built(t, lt.Account("5.00", "10.00")), t0, t0.Add(day), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline("tl", tc.l, tc.from, tc.to, tc.findings)
			tl.Link = func(i int) string { return "#charge-" + string(rune('0'+i)) }
			got := tl.SVG()
			golden(t, filepath.Join("testdata", "timeline", tc.name+".svg"), got)
		})
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what was drawn (go test ./internal/web -run %s -update rewrites it); got:\n%s", path, t.Name(), got)
	}
}

var markerRE = regexp.MustCompile(`<a class="rc[^"]*" href="[^"]*"( data-n="(\d+)")?`)

// Each recharge is one marker; recharges too close to tell apart are one
// marker that says how many; every recharge is counted once.
func TestTimelineMarkers(t *testing.T) {
	l := hourlyLoop(t)
	rs := l.Recharges(t0.Add(-time.Nanosecond), t0.Add(6*h))
	if len(rs) != 5 {
		t.Fatalf("the loop has %d recharges, want 5", len(rs))
	}
	link := func(int) string { return "#x" }
	for _, tc := range []struct {
		name     string
		to       time.Time
		markers  int
		grouped  bool
		wantText string
	}{
		{"six hours: each apart", t0.Add(6 * h), 5, false, "Recharge 2026-10-01 01:00 UTC: $10.00 of credit (inferred: new purchased grant, no invoice seen"},
		{"a year: one group", t0.Add(365 * day), 1, true, "5 recharges from 2026-10-01 01:00 UTC to 2026-10-01 05:00 UTC: $50.00 of credit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline("tl", l, t0, tc.to, nil)
			tl.Link = link
			svg := tl.SVG()
			ms := markerRE.FindAllStringSubmatch(svg, -1)
			if len(ms) != tc.markers {
				t.Errorf("got %d markers, want %d", len(ms), tc.markers)
			}
			if grouped := len(ms) > 0 && ms[0][2] == "5"; grouped != tc.grouped {
				t.Errorf("grouped: got %v, want %v", grouped, tc.grouped)
			}
			if !strings.Contains(svg, tc.wantText) {
				t.Errorf("no tooltip %q in\n%s", tc.wantText, svg)
			}
		})
	}
}

// An invoice's number and tax are in its marker; a charge is a filled
// marker, an inferred recharge a hollow one.
func TestTimelineInvoiceMarker(t *testing.T) {
	svg := NewTimeline("tl", expiredAndInvoices(t), t0, t0.Add(2*day), nil).SVG()
	want := `<g class="rc"><title>Recharge 2026-10-02 06:00 UTC: $25.00 of credit, invoice in_1001 paid $27.50 with $2.50 tax, credited as grant cg_bought; source test:/dashboard/billing/credit_grants, seen 2026-10-02 12:00 UTC</title>`
	if !strings.Contains(svg, want) {
		t.Errorf("want the invoice marker %q in\n%s", want, svg)
	}
}

// built returns the ledger of account a after obs.
func built(t testing.TB, a billing.Account, obs ...billing.Observation) *ledger.Ledger {
	t.Helper()
	l := ledger.New(a, ledger.DefaultOptions())
	lt.Fill(t, l, obs...)
	return l
}
