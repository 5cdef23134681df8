package alert

import (
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// PayloadVersion is the payload's schema version. The payload is the
// public JSON form of a notification (docs/receivers.md): the webhook's
// body, each line of replay --output json and of a JSON stdout notifier,
// PagerDuty's custom details, and the balance in status --output json. It
// is its own type, apart from the stored format (the lifecycle's), so that
// neither can change the other. A change to it is a new version.
const PayloadVersion = 1

// Payload is a notification in its public JSON form, schema version 1. Amounts are exact
// decimal strings with their currency; a figure guardd does not know is
// left out, never zero.
type Payload struct {
	Version        int               `json:"version"`
	Status         string            `json:"status"`
	Repeat         bool              `json:"repeat,omitempty"`
	Rule           string            `json:"rule"`
	Severity       string            `json:"severity"`
	Account        string            `json:"account"`
	Entity         string            `json:"entity"`
	FiredAt        time.Time         `json:"fired_at"`
	ResolvedAt     *time.Time        `json:"resolved_at,omitempty"`
	Fingerprint    string            `json:"fingerprint"`
	Summary        string            `json:"summary"`
	Evidence       []PayloadEvidence `json:"evidence"`
	Recommendation string            `json:"recommendation,omitempty"`
	Folded         []string          `json:"folded,omitempty"`
	// FiringSince, on a repeat, is when the alert started firing. Optional,
	// so a version 1 reader may ignore it.
	FiringSince *time.Time     `json:"firing_since,omitempty"`
	Balance     PayloadBalance `json:"balance"`
}

// PayloadEvidence is one piece of evidence, with where it came from.
type PayloadEvidence struct {
	What     string     `json:"what"`
	Ref      string     `json:"ref,omitempty"`
	At       time.Time  `json:"at"`
	Amount   string     `json:"amount,omitempty"`
	Currency string     `json:"currency,omitempty"`
	Note     string     `json:"note,omitempty"`
	Source   string     `json:"source,omitempty"`
	AsOf     *time.Time `json:"as_of,omitempty"`
}

// PayloadBalance is the account's position when the notification was
// decided.
type PayloadBalance struct {
	ObservedAt    time.Time  `json:"observed_at"`
	Currency      string     `json:"currency,omitempty"`
	Effective     *string    `json:"effective,omitempty"`
	Shown         *string    `json:"shown,omitempty"`
	BurnPerDay    *string    `json:"burn_per_day,omitempty"`
	BurnWindow    string     `json:"burn_window,omitempty"`
	RunwayHours   *int64     `json:"runway_hours,omitempty"`
	RunwayEnds    *time.Time `json:"runway_ends,omitempty"`
	RunwayEndless bool       `json:"runway_endless,omitempty"`
	// BurnFromCosts, when true, says the burn was measured on the
	// provider's cost report (guardd's own history being too short).
	BurnFromCosts bool `json:"burn_from_costs,omitempty"`
	// DerivedFrom, when present, says effective is guardd's own figure:
	// this anchor, plus receipts since, minus costs since (the provider
	// shows no balance). Optional, so a version 1 reader may ignore it.
	DerivedFrom *PayloadAnchor `json:"derived_from,omitempty"`
}

// PayloadAnchor is the balance a person read off the provider's console,
// in the balance's currency, and when.
type PayloadAnchor struct {
	Amount string    `json:"amount"`
	At     time.Time `json:"at"`
}

// NewPayload returns the payload of n.
func NewPayload(n Notification) Payload {
	f := n.Finding
	p := Payload{
		Version: PayloadVersion, Status: string(n.Status), Repeat: n.Repeat, Rule: f.Rule, Severity: string(f.Severity),
		Account: f.Account, Entity: f.Entity, FiredAt: f.At.UTC(), Fingerprint: f.Fingerprint(), Summary: f.Summary,
		Evidence: make([]PayloadEvidence, 0, len(f.Evidence)), Recommendation: f.Recommendation, Folded: f.Folded,
		Balance: NewPayloadBalance(f.State),
	}
	if n.Status == StatusResolved {
		p.ResolvedAt = utc(n.At)
	}
	if !f.FiringSince.IsZero() {
		p.FiringSince = utc(f.FiringSince)
	}
	for _, e := range f.Evidence {
		pe := PayloadEvidence{What: e.What, Ref: e.Ref, At: e.At.UTC(), Note: e.Note, Source: e.Source}
		if e.Amount.Currency() != "" {
			pe.Amount, pe.Currency = e.Amount.Exact(), string(e.Amount.Currency())
		}
		if !e.AsOf.IsZero() {
			pe.AsOf = utc(e.AsOf)
		}
		p.Evidence = append(p.Evidence, pe)
	}
	return p
}

// NewPayloadBalance returns the payload's form of an account's position.
func NewPayloadBalance(s billing.AccountState) PayloadBalance {
	b := PayloadBalance{ObservedAt: s.ObservedAt.UTC()}
	exact := func(m billing.Money) *string { v := m.Exact(); return &v }
	if s.EffectiveKnown {
		b.Currency, b.Effective = string(s.Effective.Currency()), exact(s.Effective)
	}
	if s.ShownKnown {
		b.Currency, b.Shown = string(s.Shown.Currency()), exact(s.Shown)
	}
	if d := s.DerivedFrom; d != nil {
		b.DerivedFrom = &PayloadAnchor{Amount: d.Amount.Exact(), At: d.At.UTC()}
	}
	if rw := s.Runway; rw.Known {
		b.BurnPerDay, b.BurnWindow, b.BurnFromCosts = exact(rw.BurnPerDay.Round(2)), rw.Window.String(), rw.FromCosts
		if rw.Endless {
			b.RunwayEndless = true
		} else {
			h := int64(rw.Lasts / time.Hour)
			b.RunwayHours, b.RunwayEnds = &h, utc(rw.Until)
		}
	}
	return b
}

func utc(t time.Time) *time.Time { t = t.UTC(); return &t }
