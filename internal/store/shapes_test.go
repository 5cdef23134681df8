package store

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/anthropic"
	"github.com/guardd/guardd/internal/poller/deepseek"
	"github.com/guardd/guardd/internal/poller/openai"
	"github.com/guardd/guardd/internal/poller/openrouter"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/secret"
	"github.com/shopspring/decimal"
)

// pollEvery is how often guardd polls an account in the shapes below.
const pollEvery = 15 * time.Minute

// shapeStart is when the shapes' first poll happens.
var shapeStart = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// A shape is one kind of account as its real client reads it from the fake
// provider: what guardd stores at every poll.
type shape struct {
	name    string
	account billing.Account
	// polls returns n polls, 15 minutes apart from shapeStart.
	polls func(tb testing.TB, n int) []billing.Observation
}

// shapes are the provider shapes the state must stay small for.
var shapes = []shape{
	{"openai", billing.Account{Name: "acme-openai", Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}, openAIPolls},
	{"anthropic", billing.Account{Name: "acme-anthropic", Provider: "anthropic", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}, anthropicPolls},
	{"deepseek", billing.Account{Name: "acme-deepseek", Provider: "deepseek", Currency: "CNY", Drawdown: billing.DrawdownGrantsFirst}, deepSeekPolls},
	{"openrouter", billing.Account{Name: "acme-openrouter", Provider: "openrouter", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}, openRouterPolls},
	{"receipts", billing.Account{Name: "acme-receipts", Provider: "deepseek", Currency: "CNY", Drawdown: billing.DrawdownGrantsFirst}, receiptPolls},
}

// clock is a fake provider's clock, moved by the polling loop.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// fetchAll polls src n times, 15 minutes apart, calling before(i, at)
// ahead of each poll to move the fake provider on.
func fetchAll(tb testing.TB, src poller.Source, c *clock, n int, before func(i int, at time.Time)) []billing.Observation {
	tb.Helper()
	obs := make([]billing.Observation, 0, n)
	for i := range n {
		c.now = shapeStart.Add(time.Duration(i) * pollEvery)
		before(i, c.now)
		o, err := src.Fetch(tb.Context(), c.now)
		if err != nil {
			tb.Fatalf("poll %d: %v", i, err)
		}
		obs = append(obs, o)
	}
	return obs
}

func cents(n int64) string { return decimal.New(n, -2).StringFixed(2) }

func dayOf(t time.Time) time.Time { return t.Truncate(24 * time.Hour) }

// openAIPolls: an OpenAI account with both keys: about 20 credit grants
// (one bought every month for 20 months, the oldest expired, a new one
// bought every third day), drawn down at every poll, and daily cost buckets
// re-read until they settle.
func openAIPolls(tb testing.TB, n int) []billing.Observation {
	f := pollertest.NewOpenAI(tb)
	c := &clock{}
	f.SetClock(c.Now)
	c2, err := openai.New(openai.Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), SessionKey: secret.New(f.SessionKey)})
	if err != nil {
		tb.Fatal(err)
	}
	type grant struct {
		pollertest.OpenAIGrant
		used int64 // cents
	}
	var grants []grant
	buy := func(i int, at time.Time) {
		id := fmt.Sprintf("%08x-d87d-4ab6-8a6b-%012x", 0x7855bd6+i, 0x1c1b5b5b5b5b+i)
		grants = append(grants, grant{OpenAIGrant: pollertest.PurchaseGrant(id, "50.00", at)})
	}
	for m := 20; m > 0; m-- {
		buy(-m, shapeStart.AddDate(0, -m, 3))
	}
	today := map[time.Time]int64{}
	return fetchAll(tb, c2, c, n, func(i int, at time.Time) {
		if i > 0 && i%(3*96) == 0 {
			buy(i, at)
		}
		spend := int64(20 + (i*37)%50) // 0.20 to 0.69 dollars a poll
		for k := range grants {
			g := &grants[k]
			if !at.Before(g.ExpiresAt) || g.used >= 5000 {
				continue
			}
			take := min(spend, 5000-g.used)
			g.used += take
			if spend -= take; spend == 0 {
				break
			}
		}
		gs := make([]pollertest.OpenAIGrant, len(grants))
		for k, g := range grants {
			g.Used = cents(g.used)
			gs[k] = g.OpenAIGrant
		}
		f.SetGrants(gs...)
		d := dayOf(at)
		today[d] += int64(20 + (i*37)%50)
		f.SetCost(d, cents(today[d]))
	})
}

// anthropicPolls: an Anthropic account read through its cost report only
// (three workspaces), with a balance guardd derives from an anchor.
func anthropicPolls(tb testing.TB, n int) []billing.Observation {
	f := pollertest.NewAnthropic(tb)
	c := &clock{}
	f.SetClock(c.Now)
	src, err := anthropic.New(anthropic.Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey)})
	if err != nil {
		tb.Fatal(err)
	}
	for d := 1; d <= 7; d++ {
		f.SetCost(shapeStart.AddDate(0, 0, -d), "1234.5", "87.25", "3.5")
	}
	var spent [3]int64
	anchor := billing.BalanceAnchor{Amount: billing.NewMoney(decimal.New(500, 0), "USD"), At: shapeStart.Add(-time.Hour)}
	obs := fetchAll(tb, src, c, n, func(i int, at time.Time) {
		if at.Equal(dayOf(at)) {
			spent = [3]int64{}
		}
		for w := range spent {
			spent[w] += int64(100*(w+1) + i%7)
		}
		var cs []string
		for _, v := range spent {
			cs = append(cs, strconv.FormatInt(v, 10)+".5")
		}
		f.SetCost(at, cs...)
	})
	for i := range obs {
		eff := decimal.New(50000-int64(i)*7, -2)
		obs[i].Derived = &billing.DerivedBalance{Effective: billing.NewMoney(eff, "USD"), Anchor: anchor}
	}
	return obs
}

// deepSeekPolls: a DeepSeek account's split balance (granted and topped
// up), spent at every poll and topped up once a day.
func deepSeekPolls(tb testing.TB, n int) []billing.Observation {
	f := pollertest.NewDeepSeek(tb)
	c := &clock{}
	f.SetClock(c.Now)
	src, err := deepseek.New(deepseek.Options{BaseURL: f.URL(), APIKey: secret.New(f.APIKey), Currency: "CNY"})
	if err != nil {
		tb.Fatal(err)
	}
	granted, paid := int64(1000), int64(10000)
	return fetchAll(tb, src, c, n, func(i int, at time.Time) {
		spend := int64(30 + (i*13)%40)
		if take := min(spend, granted); take > 0 {
			granted -= take
			spend -= take
		}
		paid -= spend
		if i > 0 && i%96 == 0 {
			paid += 20000
		}
		f.SetBalances(pollertest.DeepSeekBalance{Currency: "CNY", Granted: cents(granted), ToppedUp: cents(paid)})
	})
}

// openRouterPolls: an OpenRouter account's credits, used at every poll and
// bought once a day, each purchase listed as an inferred charge for a week.
func openRouterPolls(tb testing.TB, n int) []billing.Observation {
	f := pollertest.NewOpenRouter(tb)
	c := &clock{}
	f.SetClock(c.Now)
	src, err := openrouter.New(openrouter.Options{BaseURL: f.URL(), ManagementKey: secret.New(f.Key)})
	if err != nil {
		tb.Fatal(err)
	}
	return fetchAll(tb, src, c, n, func(i int, at time.Time) {
		f.Use(cents(int64(20 + (i*37)%50)))
		if i > 0 && i%96 == 0 {
			f.Buy("25")
		}
	})
}

// receiptPolls: a DeepSeek account whose charges come from the card
// receipts in a mailbox: the charges part is the receipts not carried yet,
// most often none, a recharge's receipt once a day.
func receiptPolls(tb testing.TB, n int) []billing.Observation {
	obs := deepSeekPolls(tb, n)
	for i := range obs {
		o := &obs[i]
		o.Parts[billing.PartCharges] = billing.PartStatus{Source: "receipts:billing-inbox", AsOf: o.At}
		if i > 0 && i%96 == 1 {
			o.Charges = []billing.Charge{{
				ID: "pi_3Q" + strconv.Itoa(100000+i), PaidAt: o.At.Add(-10 * time.Minute),
				Amount: billing.NewMoney(decimal.New(200, 0), "CNY"), Tax: billing.NewMoney(decimal.Zero, "CNY"),
				Origin: billing.ChargeReceipt, Trigger: billing.TriggerAutoRecharge,
			}}
		}
	}
	return obs
}
