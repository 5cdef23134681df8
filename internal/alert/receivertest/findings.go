package receivertest

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
)

// At is when the representative findings were evaluated.
var At = time.Date(2026, 10, 14, 3, 0, 0, 0, time.UTC)

func money(s string, c billing.Currency) billing.Money {
	return billing.NewMoney(decimal.RequireFromString(s), c)
}

func usd(s string) billing.Money { return money(s, "USD") }

func state(effective, shown string, c billing.Currency, burn string, window, lasts time.Duration) billing.AccountState {
	s := billing.AccountState{Effective: money(effective, c), EffectiveKnown: true, ObservedAt: At}
	if shown != "" {
		s.Shown, s.ShownKnown = money(shown, c), true
	}
	if burn != "" {
		s.Runway = billing.Runway{Known: true, BurnPerDay: money(burn, c), Window: window, Lasts: lasts, Until: At.Add(lasts)}
	}
	return s
}

func recharge(ref string, at time.Time, amount, note string) billing.Evidence {
	return billing.Evidence{What: "recharge", Ref: ref, At: at, Amount: usd(amount), Note: note,
		Source: "openai:/dashboard/billing/credit_grants", AsOf: at}
}

const autoNote = "new purchased grant, no invoice seen; auto-recharge (guessed: the amount matches the configured $10.00)"

// Findings returns one representative firing notification per rule guardd
// has, built by hand from what the rules say on the bundled examples, in
// rule-name order. Receivers' golden tests render them all.
func Findings() []alert.Notification {
	h := func(d time.Duration) time.Time { return At.Add(d) }
	fs := []billing.Finding{
		{
			Rule: "charge-without-credit", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "charges",
			Summary: "Charge in_9 of $21.60 ($1.60 of it tax, which never becomes credit) paid 2026-10-14 00:30 UTC became no credit: " +
				"no grant of $20.00 appeared within 2 hours.",
			Evidence: []billing.Evidence{{What: "recharge", Ref: "in_9", At: h(-150 * time.Minute), Amount: usd("21.60"),
				Note: "invoice in_9; manual", Source: "openai:/v1/organization/invoices", AsOf: h(-2 * time.Hour)}},
			Recommendation: "Ask the provider's support for the $20.00 of credit charge in_9 paid for, with this evidence.",
			State:          state("42.80", "", "USD", "9.60", 3*time.Hour, 107*time.Hour),
		},
		{
			Rule: "credit-without-charge", Severity: billing.SeverityInfo, Account: "acme-openai", Entity: "grants",
			Summary: "Purchased credit appeared with no charge for it within 2 hours: g1 of $25.00 at 2026-10-14 01:00 UTC.",
			Evidence: []billing.Evidence{recharge("g1", h(-2*time.Hour), "25.00",
				"new purchased grant, no invoice seen; manual (guessed: auto-recharge adds $20.00, this added $25.00)")},
			State: state("67.80", "", "USD", "9.60", 3*time.Hour, 169*time.Hour),
		},
		{
			Rule: "credits-accumulating", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "credits",
			Summary: "In the last 24 hours, 7 recharges added $70.00 of credit but the account used only $3.00: " +
				"the balance climbs while the card is billed.",
			Evidence: []billing.Evidence{
				recharge("cg_02", h(-2*time.Hour), "10.00", autoNote),
				recharge("cg_03", h(-time.Hour), "10.00", autoNote),
				recharge("cg_04", At, "10.00", autoNote),
			},
			Recommendation: "Disable auto-recharge: your effective balance of $70.80 covers about 11 days at the burn of the last 12 hours, " +
				"$6.00/day (until 2026-10-26). The next grant to expire is cg_01 ($0.80 left) on 2027-09-30.",
			State: state("70.80", "70.80", "USD", "6.00", 12*time.Hour, 283*time.Hour),
		},
		{
			Rule: "drawdown-order", Severity: billing.SeverityWarning, Account: "acme-deepseek", Entity: "granted",
			Summary: "The granted balance of ¥10.00 has not moved since 2026-10-14 00:00 UTC while ¥1.70 of paid balance was drawn instead; " +
				"the account's grants-first policy (DeepSeek: granted credit is used before paid credit) says granted credit goes first.",
			Evidence: []billing.Evidence{
				{What: "granted balance", At: h(-3 * time.Hour), Amount: money("10.00", "CNY"), Note: "unchanged over 2 polls",
					Source: "deepseek:/user/balance", AsOf: At},
				{What: "drawn instead", Ref: "paid balance", At: At, Amount: money("1.70", "CNY"),
					Note: "consumed while the idle credit should have been", Source: "deepseek:/user/balance", AsOf: At},
			},
			Recommendation: "Ask the provider's support why the grant is not being drawn before it expires; send them this evidence.",
			State:          state("108.30", "108.30", "CNY", "20.40", 2*time.Hour, 127*time.Hour),
		},
		{
			Rule: "grant-expiring-unused", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "grant:promo",
			Summary: "Grant promo expires on 2026-10-24 with $17.98 left; at the recent burn of $0.48/day about $13.20 of it will expire unused.",
			Evidence: []billing.Evidence{{What: "grant", Ref: "promo", At: time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), Amount: usd("17.98"),
				Note:   "promotional grant of $18.00, $17.98 left, expires 2026-10-24, projected loss $13.20",
				Source: "openai:/dashboard/billing/credit_grants", AsOf: At}},
			Recommendation: "Use the grant before 2026-10-24 (move usage onto this account), or ask the provider whether it can be extended; " +
				"providers rarely extend grants.",
			State: state("67.98", "67.98", "USD", "0.48", time.Hour, 3399*time.Hour),
		},
		{
			Rule: "monthly-recharge-cap", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "month:2026-10",
			Summary: "Recharges in October 2026 total $120.00 (3 charges), above the $100.00 monthly cap set in guardd.",
			Evidence: []billing.Evidence{
				recharge("g1", h(-16*time.Hour), "40.00", autoNote),
				recharge("g3", h(-8*time.Hour), "40.00", autoNote),
				recharge("g5", At, "40.00", autoNote),
			},
			Recommendation: "Disabling auto-recharge is not safe on its own: your effective balance of $40.00 lasts only about 8 hours at $110.40/day. " +
				"Instead lower the recharge amount to about $775.00 (a week of use) or set a monthly limit at the provider.",
			State: state("40.00", "", "USD", "110.40", 20*time.Hour, 8*time.Hour),
		},
		{
			Rule: "phantom-balance", Severity: billing.SeverityWarning, Account: "acme-deepseek", Entity: "grant-2026-01",
			Summary: "the provider shows ¥69.00 but only ¥3.93 can be spent: ¥65.07 is a grant that expired on 2026-10-01",
			Evidence: []billing.Evidence{
				{What: "balance", At: At, Amount: money("69.00", "CNY"), Note: "shown balance", Source: "deepseek:/user/balance", AsOf: At},
				{What: "grant", Ref: "grant-2026-01", At: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Amount: money("65.07", "CNY"),
					Note: "expired 2026-10-01, still counted in the shown balance", Source: "deepseek:/user/balance", AsOf: At},
			},
			State: state("3.93", "69.00", "CNY", "1.20", 7*24*time.Hour, 78*time.Hour),
		},
		{
			Rule: "recharge-above-threshold", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "recharges",
			Summary: "1 auto-recharge in the last 24 hours although the balance was above the $5.00 threshold (by at least $8.30, tolerance $0.50).",
			Evidence: []billing.Evidence{recharge("cg_03", h(-time.Hour), "10.00",
				"balance before it at least $13.30; "+autoNote)},
			Recommendation: "Disable auto-recharge: your effective balance of $23.30 covers about 3 days at the burn of the last 2 hours, $6.00/day (until 2026-10-17).",
			State:          state("23.30", "23.30", "USD", "6.00", 2*time.Hour, 93*time.Hour),
		},
		{
			Rule: "recharge-burst", Severity: billing.SeverityCritical, Account: "acme-openai", Entity: "recharges",
			Summary: "3 recharges in 6 hours, $30.00 charged in all: auto-recharge is firing over and over. " +
				"Meanwhile the effective balance climbed from $3.80 to $33.05: credit is piling up, not running out.",
			Evidence: []billing.Evidence{
				recharge("cg_02", h(-2*time.Hour), "10.00", autoNote),
				recharge("cg_03", h(-time.Hour), "10.00", autoNote),
				recharge("cg_04", At, "10.00", autoNote),
			},
			Folded: []string{"recharge-above-threshold: 2 auto-recharges in the last 24 hours although the balance was above the $5.00 threshold " +
				"(by at least $8.30, tolerance $0.50)."},
			Recommendation: "Disable auto-recharge: your effective balance of $33.05 covers about 5 days at the burn of the last 3 hours, $6.00/day " +
				"(until 2026-10-19). The next grant to expire is cg_01 ($3.05 left) on 2027-09-30.",
			State: state("33.05", "33.05", "USD", "6.00", 3*time.Hour, 132*time.Hour),
		},
		{
			Rule: "recharge-while-grant-credit", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "recharges",
			Summary: "1 recharge in the last 24 hours while unexpired grant credit sat unused ($100.00 at the latest one, at least $1.00).",
			Evidence: []billing.Evidence{
				recharge("cg_03", At, "20.00", "$100.00 of grant credit unused at the time; "+autoNote),
				{What: "grant", Ref: "cg_01", At: h(-3 * time.Hour), Amount: usd("100.00"),
					Note: "promotional grant, $100.00 of $100.00 left, untouched, expires 2026-12-14", Source: "openai:/dashboard/billing/credit_grants", AsOf: At},
			},
			Recommendation: "Disable auto-recharge: your effective balance of $129.00 covers about 6 days at the burn of the last 6 hours, $20.00/day (until 2026-10-20).",
			State:          state("129.00", "129.00", "USD", "20.00", 6*time.Hour, 154*time.Hour),
		},
		{
			Rule: "runway-low", Severity: billing.SeverityCritical, Account: "acme-anthropic", Entity: "runway",
			Summary:        "The effective balance of $4.80 runs out in about 24 hours (2026-10-15 03:00 UTC) at $4.80/day, and auto-recharge is off.",
			Evidence:       []billing.Evidence{{What: "effective balance", At: At, Amount: usd("4.80"), Note: "unexpired credit only"}},
			Recommendation: "Top up now or turn auto-recharge on before the balance runs out.",
			State:          state("4.80", "", "USD", "4.80", time.Hour, 24*time.Hour),
		},
		{
			Rule: "source-blind", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "part:grants",
			Summary: "guardd could not read the grants of account acme-openai in the last 3 polls (since 2026-10-14 01:00 UTC); rules that need them cannot see.",
			Evidence: []billing.Evidence{
				{What: "poll", At: h(-2 * time.Hour), Note: "grants unavailable: HTTP 403: must be made with a session key"},
				{What: "poll", At: h(-time.Hour), Note: "grants unavailable: HTTP 403: must be made with a session key"},
				{What: "poll", At: At, Note: "grants unavailable: HTTP 403: must be made with a session key"},
			},
			Recommendation: "See the reason in the evidence; a session key that expired or an endpoint that changed are the usual causes.",
			State: billing.AccountState{Effective: usd("12.00"), EffectiveKnown: true, Shown: usd("12.00"), ShownKnown: true,
				Runway: billing.Runway{Known: true, Endless: true, BurnPerDay: usd("0"), Window: 2 * time.Hour}, ObservedAt: At},
		},
		{
			Rule: "spend-without-usage", Severity: billing.SeverityWarning, Account: "acme-openai", Entity: "day:2026-10-13",
			Summary: "The provider's settled cost report says about $0.00 for 2026-10-13 (UTC), yet $6.00 of credit was drawn and $70.00 charged in the same time.",
			Evidence: []billing.Evidence{
				{What: "reported cost", At: h(-27 * time.Hour), Amount: usd("0.00"), Note: "settled cost for 2026-10-13 (UTC)",
					Source: "openai:/v1/organization/costs", AsOf: At},
				{What: "credit drawn", At: h(-27 * time.Hour), Amount: usd("6.00"), Note: "grant and balance drawdown over the same window"},
				{What: "charged", At: h(-27 * time.Hour), Amount: usd("70.00"), Note: "recharges in the same window (invoices, receipts and inferred purchases)"},
			},
			Recommendation: "Ask the provider where the spend went: the usage or cost page should show it. " +
				"Check for usage on keys or projects the cost report does not cover.",
			State: state("67.30", "67.30", "USD", "6.00", 26*time.Hour, 269*time.Hour),
		},
	}
	out := make([]alert.Notification, len(fs))
	for i, f := range fs {
		f.At = At
		out[i] = alert.Notification{Status: alert.StatusFiring, Finding: f, At: At}
	}
	return out
}

// ByRule returns the representative finding of rule; it panics for a rule
// Findings does not have.
func ByRule(rule string) alert.Notification {
	for _, n := range Findings() {
		if n.Finding.Rule == rule {
			return n
		}
	}
	panic("receivertest: no finding of rule " + rule)
}

// Providers maps the accounts of Findings to their providers.
var Providers = map[string]string{
	"acme-openai":    "openai",
	"acme-anthropic": "anthropic",
	"acme-deepseek":  "deepseek",
}

// Links maps the accounts of Findings to their providers' billing pages.
var Links = map[string]string{
	"acme-openai":    "https://platform.openai.com/settings/organization/billing/overview",
	"acme-anthropic": "https://console.anthropic.com/settings/billing",
	"acme-deepseek":  "https://platform.deepseek.com/top_up",
}

// Resolved returns n resolved six hours later.
func Resolved(n alert.Notification) alert.Notification {
	n.Status = alert.StatusResolved
	n.At = n.At.Add(6 * time.Hour)
	n.Finding.State.ObservedAt = n.At
	return n
}

// Repeat returns n notified again four hours later, as a repeat.
func Repeat(n alert.Notification) alert.Notification {
	n.Repeat = true
	n.At = n.At.Add(4 * time.Hour)
	return n
}
