package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
)

// PayloadVersion is the version of the stored format this guardd writes.
const PayloadVersion = 1

// payload is the stored format of a notification: an outbox item's Payload
// and an alert's Finding. It is the lifecycle's own and versioned on its
// own, apart from the public JSON form (alert.Payload: the webhook's body,
// the replay output), so that changing that never changes what is stored,
// nor what an older database means.
//
// Version 1 is what release 1 stored (the JSON of its replay record, without
// a version field), plus the version field: a payload without one is
// version 1. Amounts are exact decimal strings with a currency; times are
// UTC. A change of shape or meaning is a new version, and DecodePayload
// keeps reading every older one. A newer version than PayloadVersion is
// refused, never guessed at.
type payload struct {
	Version        int               `json:"version,omitempty"`
	Status         State             `json:"status"`
	Repeat         bool              `json:"repeat,omitempty"`
	Rule           string            `json:"rule"`
	Severity       billing.Severity  `json:"severity"`
	Account        string            `json:"account"`
	Entity         string            `json:"entity"`
	FiredAt        time.Time         `json:"fired_at"`
	ResolvedAt     *time.Time        `json:"resolved_at,omitempty"`
	Fingerprint    string            `json:"fingerprint"`
	Summary        string            `json:"summary"`
	Evidence       []payloadEvidence `json:"evidence"`
	Recommendation string            `json:"recommendation,omitempty"`
	Folded         []string          `json:"folded,omitempty"`
	Balance        payloadBalance    `json:"balance"`
	// FiringSince is when a repeated alert started firing. Added within
	// version 1, like balance.derived_from.
	FiringSince *time.Time `json:"firing_since,omitempty"`
}

// payloadEvidence is one piece of evidence in a payload.
type payloadEvidence struct {
	What     string     `json:"what"`
	Ref      string     `json:"ref,omitempty"`
	At       time.Time  `json:"at"`
	Amount   string     `json:"amount,omitempty"`
	Currency string     `json:"currency,omitempty"`
	Note     string     `json:"note,omitempty"`
	Source   string     `json:"source,omitempty"`
	AsOf     *time.Time `json:"as_of,omitempty"`
}

// payloadBalance is the account's position in a payload: its figures share
// Currency, and absent ones are omitted, never zero. The runway keeps whole
// hours.
type payloadBalance struct {
	ObservedAt    time.Time  `json:"observed_at"`
	Currency      string     `json:"currency,omitempty"`
	Effective     *string    `json:"effective,omitempty"`
	Shown         *string    `json:"shown,omitempty"`
	BurnPerDay    *string    `json:"burn_per_day,omitempty"`
	BurnWindow    string     `json:"burn_window,omitempty"`
	RunwayHours   *int64     `json:"runway_hours,omitempty"`
	RunwayEnds    *time.Time `json:"runway_ends,omitempty"`
	RunwayEndless bool       `json:"runway_endless,omitempty"`
	// BurnFromCosts says the burn was measured on the provider's cost
	// report. Added within version 1, like DerivedFrom.
	BurnFromCosts bool `json:"burn_from_costs,omitempty"`
	// DerivedFrom is the anchor a derived effective balance comes from.
	// It was added within version 1: a guardd that does not know it reads
	// the balance without the word "derived", and nothing else changes.
	DerivedFrom *payloadAnchor `json:"derived_from,omitempty"`
}

// payloadAnchor is a balance anchor: an exact amount, in the balance's
// currency, and when it was seen.
type payloadAnchor struct {
	Amount string    `json:"amount"`
	At     time.Time `json:"at"`
}

// EncodePayload returns n in the stored format, version PayloadVersion.
// Its Ref is not kept: the alert keeps each receiver's.
func EncodePayload(n alert.Notification) ([]byte, error) {
	f := n.Finding
	p := payload{
		Version: PayloadVersion, Status: State(n.Status), Repeat: n.Repeat,
		Rule: f.Rule, Severity: f.Severity, Account: f.Account, Entity: f.Entity, FiredAt: f.At.UTC(), Fingerprint: f.Fingerprint(),
		Summary: f.Summary, Evidence: make([]payloadEvidence, len(f.Evidence)), Recommendation: f.Recommendation, Folded: f.Folded,
		Balance: payloadBalance{ObservedAt: f.State.ObservedAt.UTC()},
	}
	if n.Status == alert.StatusResolved {
		p.ResolvedAt = utcPtr(n.At)
	}
	if !f.FiringSince.IsZero() {
		p.FiringSince = utcPtr(f.FiringSince)
	}
	for i, e := range f.Evidence {
		p.Evidence[i] = payloadEvidence{What: e.What, Ref: e.Ref, At: e.At.UTC(), Note: e.Note, Source: e.Source}
		if c := e.Amount.Currency(); c != "" {
			p.Evidence[i].Amount, p.Evidence[i].Currency = e.Amount.Exact(), string(c)
		}
		if !e.AsOf.IsZero() {
			p.Evidence[i].AsOf = utcPtr(e.AsOf)
		}
	}
	b, s := &p.Balance, f.State
	exact := func(m billing.Money) *string { v := m.Exact(); return &v }
	if s.EffectiveKnown {
		b.Currency, b.Effective = string(s.Effective.Currency()), exact(s.Effective)
	}
	if s.ShownKnown {
		b.Currency, b.Shown = string(s.Shown.Currency()), exact(s.Shown)
	}
	if d := s.DerivedFrom; d != nil {
		b.DerivedFrom = &payloadAnchor{Amount: d.Amount.Exact(), At: d.At.UTC()}
	}
	if rw := s.Runway; rw.Known {
		b.BurnPerDay, b.BurnWindow, b.RunwayEndless = exact(rw.BurnPerDay.Round(2)), rw.Window.String(), rw.Endless
		b.BurnFromCosts = rw.FromCosts
		if !rw.Endless {
			hours := int64(rw.Lasts / time.Hour)
			b.RunwayHours, b.RunwayEnds = &hours, utcPtr(rw.Until)
		}
	}
	return json.Marshal(p)
}

func utcPtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

// DecodePayload reads a notification in the stored format, of any version
// up to PayloadVersion. Amounts come back exact; the runway to the hour.
func DecodePayload(data []byte) (alert.Notification, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return alert.Notification{}, fmt.Errorf("stored notification: %w", err)
	}
	n, err := p.notification()
	if err != nil {
		return alert.Notification{}, fmt.Errorf("stored notification (version %d): %w", max(p.Version, 1), err)
	}
	return n, nil
}

func (p payload) notification() (alert.Notification, error) {
	switch {
	case p.Version > PayloadVersion:
		return alert.Notification{}, fmt.Errorf("newer than this guardd understands (%d)", PayloadVersion)
	case p.Version < 0:
		return alert.Notification{}, errors.New("negative version")
	case p.Status != Firing && p.Status != Resolved:
		return alert.Notification{}, fmt.Errorf("unknown status %q", p.Status)
	}
	if _, err := billing.ParseSeverity(string(p.Severity)); err != nil {
		return alert.Notification{}, err
	}
	f := billing.Finding{Rule: p.Rule, Severity: p.Severity, Account: p.Account, Entity: p.Entity, At: p.FiredAt,
		Summary: p.Summary, Recommendation: p.Recommendation, Folded: p.Folded}
	if p.FiringSince != nil {
		f.FiringSince = *p.FiringSince
	}
	if fp := f.Fingerprint(); p.Fingerprint != "" && p.Fingerprint != fp {
		return alert.Notification{}, fmt.Errorf("fingerprint %s does not match %s/%s/%s", p.Fingerprint, p.Rule, p.Account, p.Entity)
	}
	for i, e := range p.Evidence {
		ev := billing.Evidence{What: e.What, Ref: e.Ref, At: e.At, Note: e.Note, Source: e.Source}
		if e.AsOf != nil {
			ev.AsOf = *e.AsOf
		}
		if e.Amount != "" {
			m, err := money(fmt.Sprintf("evidence[%d].amount", i), e.Amount, e.Currency)
			if err != nil {
				return alert.Notification{}, err
			}
			ev.Amount = m
		}
		f.Evidence = append(f.Evidence, ev)
	}
	b, s := p.Balance, &f.State
	s.ObservedAt = b.ObservedAt
	for _, m := range []struct {
		what   string
		amount *string
		into   *billing.Money
		known  *bool
	}{
		{"balance.effective", b.Effective, &s.Effective, &s.EffectiveKnown},
		{"balance.shown", b.Shown, &s.Shown, &s.ShownKnown},
		{"balance.burn_per_day", b.BurnPerDay, &s.Runway.BurnPerDay, &s.Runway.Known},
	} {
		if m.amount == nil {
			continue
		}
		v, err := money(m.what, *m.amount, b.Currency)
		if err != nil {
			return alert.Notification{}, err
		}
		*m.into, *m.known = v, true
	}
	if d := b.DerivedFrom; d != nil {
		a, err := money("balance.derived_from.amount", d.Amount, b.Currency)
		if err != nil {
			return alert.Notification{}, err
		}
		s.DerivedFrom = &billing.BalanceAnchor{Amount: a, At: d.At}
	}
	if s.Runway.Known {
		s.Runway.Window, _ = time.ParseDuration(b.BurnWindow)
		s.Runway.Endless, s.Runway.FromCosts = b.RunwayEndless, b.BurnFromCosts
		if b.RunwayHours != nil && b.RunwayEnds != nil {
			s.Runway.Lasts, s.Runway.Until = time.Duration(*b.RunwayHours)*time.Hour, *b.RunwayEnds
		}
	}
	n := alert.Notification{Status: alert.Status(p.Status), Finding: f, At: p.FiredAt, Repeat: p.Repeat}
	if p.ResolvedAt != nil {
		n.At = *p.ResolvedAt
	}
	return n, nil
}

// money parses an exact amount of the stored format.
func money(what, amount, currency string) (billing.Money, error) {
	c, err := billing.ParseCurrency(currency)
	if err != nil {
		return billing.Money{}, fmt.Errorf("%s: %w", what, err)
	}
	m, err := billing.ParseMoney(amount, c)
	if err != nil {
		return billing.Money{}, fmt.Errorf("%s: %w", what, err)
	}
	return m, nil
}
