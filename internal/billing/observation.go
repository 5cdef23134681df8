package billing

import (
	"fmt"
	"time"
)

// GrantKind says where a credit grant came from.
type GrantKind string

const (
	GrantPromotional GrantKind = "promotional"
	GrantPurchased   GrantKind = "purchased"
	// GrantUnknown: the provider does not say (OpenAI labels neither).
	GrantUnknown GrantKind = "unknown"
)

// ParseGrantKind accepts promotional, purchased or unknown.
func ParseGrantKind(s string) (GrantKind, error) {
	switch k := GrantKind(s); k {
	case GrantPromotional, GrantPurchased, GrantUnknown:
		return k, nil
	}
	return "", fmt.Errorf("unknown grant kind %s: want promotional, purchased or unknown", Quote(s))
}

// Grant is a credit grant: an amount of credit, part of it used, valid from
// EffectiveAt until ExpiresAt. Providers back-date EffectiveAt (OpenAI dates a
// purchase at the end of the previous month), so FirstSeen, when guardd first
// saw the grant, is what dates a purchase.
type Grant struct {
	ID          string
	Amount      Money
	Used        Money
	EffectiveAt time.Time
	// ExpiresAt is zero for a grant that never expires.
	ExpiresAt time.Time
	Kind      GrantKind
	// KindGuess, when not empty, says Kind was guessed by guardd (OpenAI
	// labels no grant) and why, e.g. "expires one year after a month-end
	// effective_at, like purchases".
	KindGuess string
	// FirstSeen is filled in by the ledger (or the state store); sources
	// leave it zero.
	FirstSeen time.Time
}

// Remaining is Amount-Used; it can be negative when a provider over-draws.
func (g Grant) Remaining() Money {
	a, u := g.Amount.Amount(), g.Used.Amount()
	// Most grants are untouched: their amount is what Sub would make of
	// it, exponent included, without the arithmetic (rules ask after
	// every poll).
	if u.IsZero() && u.Exponent() >= a.Exponent() {
		return g.Amount
	}
	return NewMoney(a.Sub(u), g.Amount.Currency())
}

// ExpiredAt reports whether the grant has expired at t (expiry is exclusive:
// a grant expiring at t is expired at t).
func (g Grant) ExpiredAt(t time.Time) bool {
	return !g.ExpiresAt.IsZero() && !t.Before(g.ExpiresAt)
}

// ChargeOrigin says how guardd knows about a charge.
type ChargeOrigin string

const (
	ChargeInvoice ChargeOrigin = "invoice"
	ChargeReceipt ChargeOrigin = "receipt"
	// ChargeInferred: no invoice was visible; guardd deduced the charge from a
	// new purchased grant or an unexplained rise in paid balance.
	ChargeInferred ChargeOrigin = "inferred"
)

// ParseChargeOrigin accepts invoice, receipt or inferred.
func ParseChargeOrigin(s string) (ChargeOrigin, error) {
	switch o := ChargeOrigin(s); o {
	case ChargeInvoice, ChargeReceipt, ChargeInferred:
		return o, nil
	}
	return "", fmt.Errorf("unknown charge origin %s: want invoice, receipt or inferred", Quote(s))
}

// ChargeTrigger says what caused a charge.
type ChargeTrigger string

const (
	TriggerAutoRecharge ChargeTrigger = "auto-recharge"
	TriggerManual       ChargeTrigger = "manual"
	TriggerUnknown      ChargeTrigger = "unknown"
)

// ParseChargeTrigger accepts auto-recharge, manual or unknown.
func ParseChargeTrigger(s string) (ChargeTrigger, error) {
	switch t := ChargeTrigger(s); t {
	case TriggerAutoRecharge, TriggerManual, TriggerUnknown:
		return t, nil
	}
	return "", fmt.Errorf("unknown charge trigger %s: want auto-recharge, manual or unknown", Quote(s))
}

// Charge is money taken from the card. Amount is what was paid, tax
// included; Tax is the part of it that never becomes credit.
type Charge struct {
	ID      string
	PaidAt  time.Time
	Amount  Money
	Tax     Money
	Origin  ChargeOrigin
	Trigger ChargeTrigger
}

// Credit is the part of the charge that should land as credit: Amount-Tax.
func (c Charge) Credit() Money {
	return NewMoney(c.Amount.Amount().Sub(c.Tax.Amount()), c.Amount.Currency())
}

// CostBucket is spend reported by a provider's cost API for [Start, End).
// Cost APIs lag by minutes to a day; an unsettled bucket may still grow.
type CostBucket struct {
	Start, End time.Time
	Amount     Money
	Settled    bool
}

// Balance is the balance as the provider shows it. Shown is the headline
// total, which may still count expired grants. Where the provider splits it
// (DeepSeek: granted vs topped-up), HasSplit is true and Granted+Paid are set.
type Balance struct {
	Shown    Money
	HasSplit bool
	Granted  Money
	Paid     Money
}

// Part is one kind of data an observation may hold.
type Part string

const (
	PartBalance Part = "balance"
	PartGrants  Part = "grants"
	PartCharges Part = "charges"
	PartCosts   Part = "costs"
)

// Parts lists every part in a fixed order.
var Parts = []Part{PartBalance, PartGrants, PartCharges, PartCosts}

// ParsePart accepts balance, grants, charges or costs.
func ParsePart(s string) (Part, error) {
	for _, p := range Parts {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown part %s: want balance, grants, charges or costs", Quote(s))
}

// PartStatus says where one part of an observation came from, how fresh it
// is, and whether it could be read.
type PartStatus struct {
	// Source names the endpoint or file the part was read from.
	Source string
	// AsOf is the time the data describes (for a live poll, the poll time).
	AsOf time.Time
	// Unavailable, when not empty, says why the part could not be read. An
	// unavailable part is never zero: its fields must be ignored.
	Unavailable string
	// Cause sorts an unavailable part's reason into one of a few kinds (a
	// metric label); empty when the source did not say.
	Cause Cause
}

// Cause is the kind of reason a part could not be read.
type Cause string

// The causes.
const (
	CauseKeyRefused    Cause = "key_refused"      // 401 or 403: the key is wrong, expired or of the wrong kind
	CauseRateLimited   Cause = "rate_limited"     // 429
	CauseProviderError Cause = "provider_error"   // another answer than 2xx: 5xx, 404, a redirect
	CauseUnreachable   Cause = "unreachable"      // no answer: network, timeout, cancelled
	CauseInvalid       Cause = "invalid_response" // an answer guardd cannot trust
	CauseMailbox       Cause = "mailbox"          // the receipts' mailbox could not be read
)

// Observation is one poll of one account: what was read, from where, when,
// and which parts were unavailable. A part absent from Parts was not read at
// all (the provider does not offer it).
type Observation struct {
	Account string
	At      time.Time
	Parts   map[Part]PartStatus

	Balance Balance
	// Grants is every grant the provider listed, expired ones included.
	Grants []Grant
	// Charges are the charges visible at this poll; the same charge may be
	// listed by many polls and is identified by ID.
	Charges []Charge
	Costs   []CostBucket
	// Derived, when set, is the balance guardd derived for an account whose
	// provider shows none: it is guardd's own figure, not a part read.
	Derived *DerivedBalance
}

// DerivedBalance is a balance guardd worked out from the account's anchor:
// the anchor, plus the credit of the recharges since, minus the costs
// reported since. It is kept with the observation, so that a history
// rebuilt from storage continues it.
type DerivedBalance struct {
	Effective Money
	Anchor    BalanceAnchor
}

// Has reports whether part p was read successfully.
func (o *Observation) Has(p Part) bool {
	s, ok := o.Parts[p]
	return ok && s.Unavailable == ""
}

// Status returns the status of part p and whether it was attempted at all.
func (o *Observation) Status(p Part) (PartStatus, bool) {
	s, ok := o.Parts[p]
	return s, ok
}
