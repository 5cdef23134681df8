package history

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// yearFile returns a year of hourly observations, each with a balance, 20
// grants, a charge and a cost bucket, encoded as a history file.
func yearFile(tb testing.TB) []byte {
	tb.Helper()
	usd := func(cents int64) billing.Money { return billing.NewMoney(decimal.New(cents, -2), "USD") }
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &File{Account: billing.Account{
		Name: "bench", Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst,
		AutoRecharge: billing.AutoRecharge{Enabled: true, Threshold: usd(500), Mode: billing.RechargeAdd, Amount: usd(1000)},
	}}
	const hours, grants = 8760, 20
	for h := range hours {
		at := start.Add(time.Duration(h) * time.Hour)
		o := billing.Observation{
			Account: "bench",
			At:      at,
			Parts: map[billing.Part]billing.PartStatus{
				billing.PartBalance: {Source: "openai:/dashboard/billing/credit_grants", AsOf: at},
				billing.PartGrants:  {Source: "openai:/dashboard/billing/credit_grants", AsOf: at},
				billing.PartCharges: {Source: "openai:/v1/invoices", AsOf: at},
				billing.PartCosts:   {Source: "openai:/v1/organization/costs", AsOf: at.Add(-5 * time.Minute)},
			},
			Balance: billing.Balance{Shown: usd(int64(200000 - h*7))},
		}
		for g := range grants {
			eff := start.AddDate(0, g, 0)
			used := int64(0)
			if g == grants-1 { // the newest grant is being used
				used = int64(h * 7 % 100000)
			}
			o.Grants = append(o.Grants, billing.Grant{
				ID: fmt.Sprintf("cg_%02d", g), Amount: usd(10000), Used: usd(used),
				EffectiveAt: eff, ExpiresAt: eff.AddDate(1, 0, 0), Kind: billing.GrantPurchased,
			})
		}
		o.Charges = []billing.Charge{{
			ID: "in_1", PaidAt: start.Add(10 * time.Minute), Amount: usd(10800), Tax: usd(800),
			Origin: billing.ChargeInvoice, Trigger: billing.TriggerAutoRecharge,
		}}
		day := at.Truncate(24 * time.Hour)
		o.Costs = []billing.CostBucket{{Start: day, End: day.Add(24 * time.Hour), Amount: usd(int64(h % 24 * 13)), Settled: false}}
		f.Observations = append(f.Observations, o)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkDecode(b *testing.B) {
	data := yearFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Observations) != 8760 {
			b.Fatalf("observations: got %d, want 8760", len(f.Observations))
		}
	}
}
