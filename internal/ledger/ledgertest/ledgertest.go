// Package ledgertest builds accounts and observations for tests and
// benchmarks in a few readable lines.
package ledgertest

import (
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Source is the source name observations built here carry.
const Source = "test:/dashboard/billing/credit_grants"

// T0 is a fixed start time for histories.
var T0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// USD parses an exact USD amount; it panics on a malformed literal, which
// is a bug in the test itself.
func USD(s string) billing.Money { return Money(s, "USD") }

// Money parses an exact amount in currency c.
func Money(s string, c billing.Currency) billing.Money {
	return billing.NewMoney(decimal.RequireFromString(s), c)
}

// Account returns a USD account with auto-recharge adding amount below
// threshold (add mode) and expiring-first drawdown.
func Account(threshold, amount string) billing.Account {
	return billing.Account{
		Name: "acme", Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst,
		AutoRecharge: billing.AutoRecharge{Enabled: true, Threshold: USD(threshold), Mode: billing.RechargeAdd, Amount: USD(amount)},
	}
}

// RestoreAccount returns a USD account restoring to target below threshold.
func RestoreAccount(threshold, target string) billing.Account {
	a := Account(threshold, "0")
	a.AutoRecharge.Mode, a.AutoRecharge.Amount, a.AutoRecharge.Target = billing.RechargeRestore, billing.Money{}, USD(target)
	return a
}

// Grant builds a grant in currency c.
func Grant(id string, kind billing.GrantKind, amount, used string, effective, expires time.Time) billing.Grant {
	return billing.Grant{ID: id, Kind: kind, Amount: USD(amount), Used: USD(used), EffectiveAt: effective, ExpiresAt: expires}
}

// Obs is an observation under construction.
type Obs struct{ o billing.Observation }

// At starts an observation of account "acme" at t.
func At(t time.Time) *Obs {
	return &Obs{o: billing.Observation{Account: "acme", At: t, Parts: map[billing.Part]billing.PartStatus{}}}
}

func (b *Obs) read(p billing.Part) {
	b.o.Parts[p] = billing.PartStatus{Source: Source, AsOf: b.o.At}
}

// Shown sets the provider's shown balance.
func (b *Obs) Shown(amount string) *Obs {
	b.read(billing.PartBalance)
	b.o.Balance.Shown = USD(amount)
	return b
}

// Split sets a granted/paid balance (DeepSeek style) in currency c; the
// shown balance is their sum.
func (b *Obs) Split(granted, paid string, c billing.Currency) *Obs {
	b.read(billing.PartBalance)
	g, p := Money(granted, c), Money(paid, c)
	b.o.Balance = billing.Balance{Shown: billing.NewMoney(g.Amount().Add(p.Amount()), c), HasSplit: true, Granted: g, Paid: p}
	return b
}

// Grants sets the grant list (an empty call means "read, none").
func (b *Obs) Grants(gs ...billing.Grant) *Obs {
	b.read(billing.PartGrants)
	b.o.Grants = append([]billing.Grant{}, gs...)
	return b
}

// Costs sets the cost windows read at this poll.
func (b *Obs) Costs(cs ...billing.CostBucket) *Obs {
	b.read(billing.PartCosts)
	b.o.Costs = append([]billing.CostBucket{}, cs...)
	return b
}

// Charges sets the charges visible at this poll.
func (b *Obs) Charges(cs ...billing.Charge) *Obs {
	b.read(billing.PartCharges)
	b.o.Charges = append([]billing.Charge{}, cs...)
	return b
}

// Unavailable marks part p as attempted and failed.
func (b *Obs) Unavailable(p billing.Part, why string) *Obs {
	b.o.Parts[p] = billing.PartStatus{Source: Source, AsOf: b.o.At, Unavailable: why}
	return b
}

// Build returns the observation.
func (b *Obs) Build() billing.Observation { return b.o }

// Invoice builds an invoice charge paying amount (tax included).
func Invoice(id string, paidAt time.Time, amount, tax string, trigger billing.ChargeTrigger) billing.Charge {
	return billing.Charge{ID: id, PaidAt: paidAt, Amount: USD(amount), Tax: USD(tax), Origin: billing.ChargeInvoice, Trigger: trigger}
}

// Fill appends obs to l (a ledger.Ledger), failing the test at the first
// observation the ledger refuses. (This package does not import the
// ledger, so that the ledger's own tests can use it.)
func Fill(t testing.TB, l Ledger, obs ...billing.Observation) {
	t.Helper()
	for i, o := range obs {
		if err := l.Append(o); err != nil {
			t.Fatalf("append observation %d: %v", i, err)
		}
	}
}
