// Package examples builds the bundled history files under examples/ from the
// billing failures users reported. They are generated, not hand-edited:
// `go test ./internal/examples -update` rewrites them, and the test fails when
// a committed file differs from what this package builds.
package examples

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
	"github.com/shopspring/decimal"
)

// Example is one bundled history and what replaying it must find.
type Example struct {
	// File is the name under examples/.
	File string
	// Story says which field report the example reproduces.
	Story   string
	History *history.File
}

// All returns every bundled example.
func All() []Example {
	return []Example{HourlyRecharge(), ExpiredGrantsCounted(), GrantsUntouched(), Healthy(), HealthyBusy(), HealthyRestore()}
}

const (
	grantsSource  = "openai:/dashboard/billing/credit_grants"
	costsSource   = "openai:/v1/organization/costs"
	invoiceSource = "invoices:receipts.csv"
)

var (
	start = time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	// lastMonthEnd is where OpenAI back-dates purchased credit.
	lastMonthEnd = time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)
)

func usd(s string) billing.Money { return billing.NewMoney(decimal.RequireFromString(s), "USD") }

func cents(c int64) billing.Money { return billing.NewMoney(decimal.New(c, -2), "USD") }

func openai(name string, ar billing.AutoRecharge) billing.Account {
	return billing.Account{Name: name, Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst, AutoRecharge: ar}
}

// grantBook tracks grants as a provider would list them.
type grantBook struct {
	grants []billing.Grant
	n      int
}

func (b *grantBook) add(kind billing.GrantKind, amount billing.Money, effective, expires time.Time) string {
	b.n++
	id := fmt.Sprintf("cg_%02d", b.n)
	b.grants = append(b.grants, billing.Grant{ID: id, Kind: kind, Amount: amount, Used: billing.NewMoney(decimal.Zero, amount.Currency()),
		EffectiveAt: effective, ExpiresAt: expires})
	return id
}

// draw consumes c cents the way the provider reportedly does: from the
// oldest unexpired purchased grant with credit left, leaving promotional
// grants alone when skipPromo is set.
func (b *grantBook) draw(c int64, at time.Time, skipPromo bool) {
	left := decimal.New(c, -2)
	for i := range b.grants {
		g := &b.grants[i]
		if left.IsZero() {
			return
		}
		if g.ExpiredAt(at) || (skipPromo && g.Kind == billing.GrantPromotional) {
			continue
		}
		rem := g.Remaining().Amount()
		if !rem.IsPositive() {
			continue
		}
		take := decimal.Min(rem, left)
		g.Used = billing.NewMoney(g.Used.Amount().Add(take), g.Used.Currency())
		left = left.Sub(take)
	}
}

func (b *grantBook) remaining(at time.Time) decimal.Decimal {
	sum := decimal.Zero
	for _, g := range b.grants {
		if !g.ExpiredAt(at) {
			sum = sum.Add(g.Remaining().Amount())
		}
	}
	return sum
}

func (b *grantBook) shownTotal() decimal.Decimal {
	sum := decimal.Zero
	for _, g := range b.grants {
		sum = sum.Add(g.Remaining().Amount())
	}
	return sum
}

// observe lists the grants at t with the shown total, which (like the
// dashboard) still counts expired grants.
func (b *grantBook) observe(t time.Time) billing.Observation {
	gs := make([]billing.Grant, len(b.grants))
	copy(gs, b.grants)
	st := billing.PartStatus{Source: grantsSource, AsOf: t}
	return billing.Observation{
		At:      t,
		Parts:   map[billing.Part]billing.PartStatus{billing.PartGrants: st, billing.PartBalance: st},
		Grants:  gs,
		Balance: billing.Balance{Shown: billing.NewMoney(b.shownTotal(), "USD")},
	}
}

// HourlyRecharge reproduces "auto-recharge set to below $5 charged the card
// almost every hour while credits piled up", and "the usage page said $0.00
// used": polls every hour for 30 hours; the account spends about $0.25 an
// hour, yet a $10 grant lands nearly every hour from 01:00 to 08:00 until the
// user switches auto-recharge off, and the cost API reports $0.00 for the
// day, settled the next morning.
func HourlyRecharge() Example {
	a := openai("acme-openai", billing.AutoRecharge{Enabled: true, Threshold: usd("5.00"), Mode: billing.RechargeAdd, Amount: usd("10.00")})
	var b grantBook
	b.add(billing.GrantPurchased, usd("10.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
	b.grants[0].Used = usd("6.20")
	recharges := map[int]bool{1: true, 2: true, 3: true, 4: true, 6: true, 7: true, 8: true}
	day := start
	var obs []billing.Observation
	for hr := 0; hr <= 30; hr++ {
		t := start.Add(time.Duration(hr) * time.Hour)
		if hr > 0 {
			b.draw(25, t, false)
		}
		if recharges[hr] {
			b.add(billing.GrantPurchased, usd("10.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
		}
		o := b.observe(t)
		// The cost API reports today's bucket, unsettled, and from 02:00
		// the next day yesterday's as settled: both say $0.00.
		o.Parts[billing.PartCosts] = billing.PartStatus{Source: costsSource, AsOf: t}
		o.Costs = []billing.CostBucket{{Start: day, End: day.AddDate(0, 0, 1), Amount: usd("0.00"), Settled: hr >= 26}}
		if hr >= 24 {
			o.Costs = append(o.Costs, billing.CostBucket{Start: day.AddDate(0, 0, 1), End: day.AddDate(0, 0, 2), Amount: usd("0.00")})
		}
		obs = append(obs, o)
	}
	return Example{
		File:    "hourly-recharge.json",
		Story:   "auto-recharge below $5 charges the card almost every hour while credit piles up, and costs say $0.00",
		History: &history.File{Account: a, Observations: obs},
	}
}

// ExpiredGrantsCounted reproduces "the dashboard total still counts expired
// grants: $69 shown, $3.93 real".
func ExpiredGrantsCounted() Example {
	a := openai("acme-research", billing.AutoRecharge{Enabled: false})
	var b grantBook
	b.add(billing.GrantPromotional, usd("18.00"), start.AddDate(0, -4, 0), start.AddDate(0, -1, 0))
	b.add(billing.GrantPurchased, usd("50.00"), start.AddDate(-1, 0, -20), start.AddDate(0, 0, -20))
	b.grants[1].Used = usd("2.93")
	b.add(billing.GrantPurchased, usd("5.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
	b.grants[2].Used = usd("1.07")
	var obs []billing.Observation
	for i := 0; i <= 8; i++ {
		t := start.Add(time.Duration(i) * 6 * time.Hour)
		if i > 0 {
			b.draw(12, t, false)
		}
		obs = append(obs, b.observe(t))
	}
	return Example{
		File:    "expired-grants-counted.json",
		Story:   "the shown balance still counts expired grants: $69.00 shown, $3.93 real",
		History: &history.File{Account: a, Observations: obs},
	}
}

// GrantsUntouched reproduces "grants marked available and unexpired are not
// drawn down while paid credits are": a $100 promotional grant sits untouched
// while purchased credit is consumed and auto-recharged.
func GrantsUntouched() Example {
	a := openai("acme-labs", billing.AutoRecharge{Enabled: true, Threshold: usd("10.00"), Mode: billing.RechargeAdd, Amount: usd("20.00")})
	var b grantBook
	b.add(billing.GrantPromotional, usd("100.00"), start.AddDate(0, 0, -10), start.AddDate(0, 2, 0))
	b.add(billing.GrantPurchased, usd("20.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
	b.grants[1].Used = usd("6.00")
	var obs []billing.Observation
	for i := 0; i <= 16; i++ {
		t := start.Add(time.Duration(i) * 3 * time.Hour)
		if i > 0 {
			b.draw(250, t, true)
		}
		// The provider recharges when paid credit, not the balance, falls
		// below the threshold.
		paid := b.remaining(t).Sub(b.grants[0].Remaining().Amount())
		if paid.LessThan(decimal.NewFromInt(10)) {
			b.add(billing.GrantPurchased, usd("20.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
		}
		obs = append(obs, b.observe(t))
	}
	return Example{
		File:    "grants-untouched.json",
		Story:   "a $100 promotional grant is never drawn while paid credit is consumed and recharged",
		History: &history.File{Account: a, Observations: obs},
	}
}

// Healthy is an account whose auto-recharge works as configured: it spends
// about $1 an hour, recharges $20 when the balance drops under $5 (invoices
// with tax visible and matched to their grants), and once buys $50 by hand.
// Replaying it must find nothing.
func Healthy() Example {
	a := openai("acme-prod", billing.AutoRecharge{Enabled: true, Threshold: usd("5.00"), Mode: billing.RechargeAdd, Amount: usd("20.00")})
	var b grantBook
	b.add(billing.GrantPurchased, usd("20.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
	b.grants[0].Used = usd("8.00")
	var charges []billing.Charge
	var obs []billing.Observation
	inv := 0
	for hr := 0; hr <= 72; hr++ {
		t := start.Add(time.Duration(hr) * time.Hour)
		if hr > 0 {
			b.draw(100+int64(hr%3)*5, t, false)
		}
		buy := func(amount, tax billing.Money, trig billing.ChargeTrigger) {
			inv++
			paidAt := t.Add(-20 * time.Minute)
			charges = append(charges, billing.Charge{ID: fmt.Sprintf("in_%04d", inv), PaidAt: paidAt,
				Amount: billing.NewMoney(amount.Amount().Add(tax.Amount()), "USD"), Tax: tax,
				Origin: billing.ChargeReceipt, Trigger: trig})
			b.add(billing.GrantPurchased, amount, lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
		}
		if hr > 0 && b.remaining(t).LessThan(decimal.NewFromInt(5)) {
			buy(usd("20.00"), cents(160), billing.TriggerAutoRecharge)
		}
		if hr == 40 {
			buy(usd("50.00"), cents(400), billing.TriggerManual)
		}
		o := b.observe(t)
		st := billing.PartStatus{Source: invoiceSource, AsOf: t}
		o.Parts[billing.PartCharges] = st
		o.Charges = append([]billing.Charge{}, charges...)
		obs = append(obs, o)
	}
	return Example{
		File:    "healthy.json",
		Story:   "auto-recharge working as configured, with one manual purchase: no finding",
		History: &history.File{Account: a, Observations: obs},
	}
}

// HealthyBusy is a busy account that legitimately recharges about twice a
// day: it spends about $4 an hour and buys $50 when the balance drops under
// $10; the cost API agrees with the drawdown. Replaying it must find nothing.
func HealthyBusy() Example {
	a := openai("acme-busy", billing.AutoRecharge{Enabled: true, Threshold: usd("10.00"), Mode: billing.RechargeAdd, Amount: usd("50.00")})
	var b grantBook
	b.add(billing.GrantPurchased, usd("50.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
	b.grants[0].Used = usd("12.00")
	spentByDay := map[time.Time]decimal.Decimal{}
	var obs []billing.Observation
	for hr := 0; hr <= 96; hr++ {
		t := start.Add(time.Duration(hr) * time.Hour)
		if hr > 0 {
			c := int64(380 + (hr%5)*10)
			b.draw(c, t, false)
			d := t.Add(-time.Hour).Truncate(24 * time.Hour)
			spentByDay[d] = spentByDay[d].Add(decimal.New(c, -2))
		}
		if hr > 0 && b.remaining(t).LessThan(decimal.NewFromInt(10)) {
			b.add(billing.GrantPurchased, usd("50.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
		}
		o := b.observe(t)
		o.Parts[billing.PartCosts] = billing.PartStatus{Source: costsSource, AsOf: t}
		for d := start; d.Before(t); d = d.AddDate(0, 0, 1) {
			o.Costs = append(o.Costs, billing.CostBucket{Start: d, End: d.AddDate(0, 0, 1),
				Amount: billing.NewMoney(spentByDay[d], "USD"), Settled: t.Sub(d) >= 26*time.Hour})
		}
		obs = append(obs, o)
	}
	return Example{
		File:    "healthy-busy.json",
		Story:   "a busy account recharging $50 about twice a day as configured: no finding",
		History: &history.File{Account: a, Observations: obs},
	}
}

// HealthyRestore is an account on restore-to-target auto-recharge (OpenAI's
// and Anthropic's current mode): below $10 it buys whatever restores $50, so
// every purchase has a different amount. Replaying it must find nothing.
func HealthyRestore() Example {
	a := openai("acme-restore", billing.AutoRecharge{Enabled: true, Threshold: usd("10.00"), Mode: billing.RechargeRestore, Target: usd("50.00")})
	var b grantBook
	b.add(billing.GrantPurchased, usd("40.00"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
	b.grants[0].Used = usd("22.00")
	var obs []billing.Observation
	for hr := 0; hr <= 72; hr++ {
		t := start.Add(time.Duration(hr) * time.Hour)
		if hr > 0 {
			b.draw(140+int64(hr%7)*5, t, false)
		}
		if left := b.remaining(t); hr > 0 && left.LessThan(decimal.NewFromInt(10)) {
			b.add(billing.GrantPurchased, billing.NewMoney(decimal.NewFromInt(50).Sub(left), "USD"), lastMonthEnd, lastMonthEnd.AddDate(1, 0, 0))
		}
		obs = append(obs, b.observe(t))
	}
	return Example{
		File:    "healthy-restore.json",
		Story:   "restore-to-target auto-recharge topping up to $50 with varying amounts: no finding",
		History: &history.File{Account: a, Observations: obs},
	}
}
