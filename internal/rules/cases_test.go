package rules_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	hf "github.com/guardd/guardd/internal/history"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/ruletest"
	"github.com/shopspring/decimal"
)

var update = flag.Bool("update", false, "rewrite the generated history.json of each case under testdata/cases")

// Each case is a folder under testdata/cases holding history.json (built
// here, so it stays readable and reproducible) and test.yaml (written by
// hand: what must hold, and when).
var caseHistories = map[string]func() *hf.File{
	"drawdown-openai-idle-promo":     drawdownIdlePromo,
	"drawdown-openai-in-order":       drawdownInOrder,
	"drawdown-openai-expired-promo":  drawdownExpiredPromo,
	"drawdown-deepseek-cny":          drawdownDeepSeek,
	"charge-tax-backdated-matched":   chargeMatched,
	"charge-without-credit":          chargeWithoutCredit,
	"credit-without-charge":          creditWithoutCharge,
	"spend-unsettled-window":         spendUnsettled,
	"grant-expiring-unused":          func() *hf.File { return expiringPromo("0.02") },
	"grant-expiring-used-in-time":    func() *hf.File { return expiringPromo("0.15") },
	"monthly-cap-and-new-month":      monthlyCap,
	"runway-low-auto-recharge-off":   func() *hf.File { return runway(false, "5.00") },
	"runway-ok-auto-recharge-on":     func() *hf.File { return runway(true, "5.00") },
	"runway-negative-after-cutoff":   func() *hf.File { return runway(false, "-0.40") },
	"source-blind-grants-missing":    grantsMissing,
	"source-blind-one-endpoint":      func() *hf.File { return endpointsFailing(false) },
	"source-blind-two-endpoints":     func() *hf.File { return endpointsFailing(true) },
	"match-sparse-polls":             matchSparsePolls,
	"match-second-charge-above":      matchSecondChargeAbove,
	"match-one-payment-counted-once": matchOnePaymentOnce,
}

func TestCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(caseHistories) {
		t.Errorf("case folders: got %d, want %d (one per caseHistories entry)", len(dirs), len(caseHistories))
	}
	for name, build := range caseHistories {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "cases", name)
			var buf bytes.Buffer
			if err := hf.Encode(&buf, build()); err != nil {
				t.Fatalf("encode: %v", err)
			}
			path := filepath.Join(dir, "history.json")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, buf.Bytes()) {
				t.Fatalf("%s is missing or stale (%v): run go test ./internal/rules -update", path, err)
			}
			res, err := ruletest.Run(context.Background(), filepath.Join(dir, "test.yaml"), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res.Failures {
				t.Error(f)
			}
		})
	}
}

// Builders. Every history polls an OpenAI-style USD account hourly from
// t0 unless it says otherwise.

var (
	cases0  = time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	yearOut = cases0.AddDate(1, 0, 0)
)

func file(a billing.Account, obs ...billing.Observation) *hf.File {
	for i := range obs {
		obs[i].Account = a.Name
	}
	return &hf.File{Account: a, Observations: obs}
}

func hour(n int) time.Time { return cases0.Add(time.Duration(n) * time.Hour) }

func g(id string, kind billing.GrantKind, amount, used string, expires time.Time) billing.Grant {
	return lt.Grant(id, kind, amount, used, lastMonth, expires)
}

func usedAt(start string, perHour string, n int) string {
	return decimal.RequireFromString(start).Add(decimal.RequireFromString(perHour).Mul(decimal.NewFromInt(int64(n)))).String()
}

// A $18 promotional grant expiring in 30 days sits idle while the purchased
// grant is drawn $0.50 an hour.
func drawdownIdlePromo() *hf.File {
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		obs = append(obs, lt.At(hour(n)).Grants(
			g("promo", promo, "18.00", "0", cases0.AddDate(0, 0, 30)),
			g("paid", paid, "20.00", usedAt("2", "0.50", n), yearOut),
		).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// The same account, but the promo is drawn first, as the policy says.
func drawdownInOrder() *hf.File {
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		obs = append(obs, lt.At(hour(n)).Grants(
			g("promo", promo, "18.00", usedAt("0", "0.50", n), cases0.AddDate(0, 0, 30)),
			g("paid", paid, "20.00", "2", yearOut),
		).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// The promo expired before the polls: its credit is gone, drawing paid is
// right.
func drawdownExpiredPromo() *hf.File {
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		obs = append(obs, lt.At(hour(n)).Grants(
			lt.Grant("promo", promo, "18.00", "0", cases0.AddDate(0, -2, 0), cases0.Add(-time.Hour)),
			g("paid", paid, "20.00", usedAt("2", "0.50", n), yearOut),
		).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// DeepSeek: ¥10 granted stays put while the topped-up balance falls, though
// grants are documented to be spent first.
func drawdownDeepSeek() *hf.File {
	a := billing.Account{Name: "acme", Provider: "deepseek", Currency: "CNY", Drawdown: billing.DrawdownGrantsFirst}
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		obs = append(obs, lt.At(hour(n)).Split("10.00", usedAt("100", "-0.85", n), "CNY").Build())
	}
	return file(a, obs...)
}

// An invoice of $10.80 ($0.80 tax) at 00:30; its $10.00 grant, back-dated
// to the end of last month, is seen at 01:00. Same recharge: no alarm.
func chargeMatched() *hf.File {
	inv := lt.Invoice("in_1", hour(0).Add(30*time.Minute), "10.80", "0.80", billing.TriggerAutoRecharge)
	var obs []billing.Observation
	for n := 0; n <= 4; n++ {
		gs := []billing.Grant{g("g0", paid, "10.00", usedAt("6", "0.40", n), yearOut)}
		var cs []billing.Charge
		if n >= 1 {
			gs = append(gs, g("g1", paid, "10.00", "0", yearOut))
			cs = append(cs, inv)
		}
		obs = append(obs, lt.At(hour(n)).Grants(gs...).Charges(cs...).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// An invoice of $21.60 ($1.60 tax) at 00:30 that no grant ever matches.
func chargeWithoutCredit() *hf.File {
	inv := lt.Invoice("in_9", hour(0).Add(30*time.Minute), "21.60", "1.60", billing.TriggerManual)
	var obs []billing.Observation
	for n := 0; n <= 4; n++ {
		var cs []billing.Charge
		if n >= 1 {
			cs = append(cs, inv)
		}
		obs = append(obs, lt.At(hour(n)).Grants(g("g0", paid, "50.00", usedAt("6", "0.40", n), yearOut)).Charges(cs...).Build())
	}
	return file(lt.Account("5", "20"), obs...)
}

// Charges are read (an invoice list) but a new purchased grant comes with
// none.
func creditWithoutCharge() *hf.File {
	var obs []billing.Observation
	for n := 0; n <= 4; n++ {
		gs := []billing.Grant{g("g0", paid, "50.00", usedAt("6", "0.40", n), yearOut)}
		if n >= 1 {
			gs = append(gs, g("g1", paid, "25.00", "0", yearOut))
		}
		obs = append(obs, lt.At(hour(n)).Grants(gs...).Charges().Build())
	}
	return file(lt.Account("5", "20"), obs...)
}

// The cost API reports $0.00 for a day that never settles while credit is
// drawn: lagging data is never judged.
func spendUnsettled() *hf.File {
	day := cases0
	var obs []billing.Observation
	for n := 0; n <= 30; n++ {
		o := lt.At(hour(n)).Grants(g("g0", paid, "100.00", usedAt("10", "0.50", n), yearOut)).Build()
		o.Parts[billing.PartCosts] = billing.PartStatus{Source: "openai:/v1/organization/costs", AsOf: hour(n)}
		o.Costs = []billing.CostBucket{{Start: day, End: day.AddDate(0, 0, 1), Amount: lt.USD("0"), Settled: false}}
		obs = append(obs, o)
	}
	return file(lt.Account("5", "10"), obs...)
}

// An $18 promotional grant expires in ten days; it is drawn at perHour.
func expiringPromo(perHour string) *hf.File {
	a := lt.Account("5", "10")
	a.AutoRecharge.Enabled = false
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		obs = append(obs, lt.At(hour(n)).Grants(
			g("promo", promo, "18.00", usedAt("0", perHour, n), cases0.AddDate(0, 0, 10)),
			g("paid", paid, "50.00", "0", yearOut),
		).Build())
	}
	return file(a, obs...)
}

// $40 recharges every 8 hours against a $100 monthly cap set in guardd, from
// October 30 into November; spend keeps pace, so each recharge is due.
func monthlyCap() *hf.File {
	a := lt.Account("10", "40")
	a.MonthlyCap, a.HasMonthlyCap = lt.USD("100"), true
	start := time.Date(2026, 10, 30, 16, 0, 0, 0, time.UTC)
	var gs []billing.Grant
	gs = append(gs, lt.Grant("g0", paid, "40.00", "28.00", lastMonth, yearOut))
	var obs []billing.Observation
	for n := 0; n <= 12; n++ {
		at := start.Add(time.Duration(n) * 4 * time.Hour)
		spend := decimal.NewFromInt(20) // $5 an hour, from the oldest grant with credit
		for i := range gs {
			if n == 0 {
				break
			}
			rem := gs[i].Remaining().Amount()
			take := decimal.Min(rem, spend)
			gs[i].Used = billing.NewMoney(gs[i].Used.Amount().Add(take), "USD")
			spend = spend.Sub(take)
		}
		if n > 0 && n%2 == 1 {
			gs = append(gs, lt.Grant(fmt.Sprintf("g%d", n), paid, "40.00", "0", lastMonth, yearOut))
		}
		obs = append(obs, lt.At(at).Grants(gs...).Build())
	}
	return file(a, obs...)
}

// A balance of left (-$0.40 models a provider's late cut-off) spent at
// $0.20 an hour, so $5.00 lasts 25 hours; auto-recharge on or off.
func runway(autoRecharge bool, left string) *hf.File {
	a := lt.Account("1", "10")
	a.AutoRecharge.Enabled = autoRecharge
	used0 := decimal.NewFromInt(10).Sub(decimal.RequireFromString(left))
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		used := used0.Add(decimal.New(int64(n)*20, -2)).String()
		obs = append(obs, lt.At(hour(n)).Grants(g("g0", paid, "10.00", used, yearOut)).Build())
	}
	return file(a, obs...)
}

// The grants endpoint fails three polls running while the balance reads.
func grantsMissing() *hf.File {
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		b := lt.At(hour(n)).Shown("12.00")
		if n >= 1 {
			b.Unavailable(billing.PartGrants, "HTTP 403: must be made with a session key")
		} else {
			b.Grants(g("g0", paid, "20.00", "8.00", yearOut))
		}
		obs = append(obs, b.Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// An OpenAI account read through two endpoints, costs from the Costs API
// and the balance and grants from the credit grants endpoint; the credit
// grants endpoint fails three polls running (the session key expired) and,
// when costsToo, so does the Costs API. One source-blind per endpoint that
// fails, not one per part it serves.
func endpointsFailing(costsToo bool) *hf.File {
	const grantsSrc, costsSrc = "openai:GET /dashboard/billing/credit_grants", "openai:GET /v1/organization/costs"
	var obs []billing.Observation
	for n := 0; n <= 3; n++ {
		b := lt.At(hour(n))
		if n == 0 {
			b.Shown("12.00").Grants(g("g0", paid, "20.00", "8.00", yearOut))
		} else {
			why := "GET /dashboard/billing/credit_grants: http 403 Forbidden: must be made with a session key"
			b.Unavailable(billing.PartBalance, why).Unavailable(billing.PartGrants, why)
		}
		if n > 0 && costsToo {
			b.Unavailable(billing.PartCosts, "GET /v1/organization/costs: http 503 Service Unavailable")
		} else {
			b.Costs(billing.CostBucket{Start: cases0, End: cases0.AddDate(0, 0, 1), Amount: lt.USD("0.50")})
		}
		o := b.Build()
		for p, st := range o.Parts {
			st.Source = grantsSrc
			if p == billing.PartCosts {
				st.Source = costsSrc
			}
			o.Parts[p] = st
		}
		obs = append(obs, o)
	}
	return file(lt.Account("5", "10"), obs...)
}

// spendGrants draws perHour from the oldest grants with credit left over d.
func spendGrants(gs []billing.Grant, perHour string, d time.Duration) {
	spend := decimal.RequireFromString(perHour).Mul(decimal.NewFromFloat(d.Hours()))
	for i := range gs {
		take := decimal.Min(gs[i].Remaining().Amount(), spend)
		gs[i].Used = billing.NewMoney(gs[i].Used.Amount().Add(take), gs[i].Used.Currency())
		spend = spend.Sub(take)
	}
}

// Receipts are visible, but polls are far apart: every 4 hours, then a
// CronJob that missed its runs for 5 hours. $1 an hour is spent; each time
// the balance reaches $5, auto-recharge adds $10 ($10.80 paid, $0.80 tax).
// Each receipt and its grant first show in the same poll, hours after the
// payment. A normal recharge is one recharge: nothing fires.
func matchSparsePolls() *hf.File {
	at := []time.Time{hour(0), hour(4), hour(8), hour(9), hour(10), hour(15), hour(16)}
	pays := []struct {
		id  string
		at  time.Time
		due int // the first poll after it
	}{{"rc_1", hour(2), 1}, {"rc_2", hour(12), 5}}
	gs := []billing.Grant{g("g0", paid, "10.00", "3.00", yearOut)}
	var cs []billing.Charge
	var obs []billing.Observation
	for i, t := range at {
		if i > 0 {
			spendGrants(gs, "1.00", t.Sub(at[i-1]))
		}
		for n, p := range pays {
			if p.due == i {
				gs = append(gs, g(fmt.Sprintf("g%d", n+1), paid, "10.00", "0", yearOut))
				// Spent since the payment came from the new credit too;
				// the total spent is what matters here.
				cs = append(cs, lt.Invoice(p.id, p.at, "10.80", "0.80", billing.TriggerAutoRecharge))
			}
		}
		obs = append(obs, lt.At(t).Grants(gs...).Charges(cs...).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// Two identical $10 auto-recharges 40 seconds apart from $4.50: the first
// was due, the second came with $14.50 already there, far above the $5
// threshold. Both receipts and both grants show at the next poll.
func matchSecondChargeAbove() *hf.File {
	gs := []billing.Grant{g("g0", paid, "10.00", "5.00", yearOut)}
	var cs []billing.Charge
	var obs []billing.Observation
	for n := 0; n <= 2; n++ {
		if n > 0 {
			spendGrants(gs, "0.50", time.Hour)
		}
		if n == 1 {
			first := hour(0).Add(30 * time.Minute)
			gs = append(gs, g("g1", paid, "10.00", "0", yearOut), g("g2", paid, "10.00", "0", yearOut))
			cs = append(cs, lt.Invoice("rc_1", first, "10.00", "0", billing.TriggerAutoRecharge),
				lt.Invoice("rc_2", first.Add(40*time.Second), "10.00", "0", billing.TriggerAutoRecharge))
		}
		obs = append(obs, lt.At(hour(n)).Grants(gs...).Charges(cs...).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}

// Two auto-recharges five hours apart ($2 an hour is spent), each with a
// receipt that gives no tax line ($10.60 paid) and a $10.00 grant: charge
// and credit do not match to the cent, but each pair is one payment. Two
// payments in 6 hours are not a burst of four.
func matchOnePaymentOnce() *hf.File {
	gs := []billing.Grant{g("g0", paid, "10.00", "4.00", yearOut)}
	var cs []billing.Charge
	var obs []billing.Observation
	for n := 0; n <= 7; n++ {
		if n > 0 {
			spendGrants(gs, "2.00", time.Hour)
		}
		if n == 1 || n == 6 {
			gs = append(gs, g(fmt.Sprintf("g%d", n), paid, "10.00", "0", yearOut))
			cs = append(cs, lt.Invoice(fmt.Sprintf("rc_%d", n), hour(n).Add(-20*time.Minute), "10.60", "0", billing.TriggerAutoRecharge))
		}
		obs = append(obs, lt.At(hour(n)).Grants(gs...).Charges(cs...).Build())
	}
	return file(lt.Account("5", "10"), obs...)
}
