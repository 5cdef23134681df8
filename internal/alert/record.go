package alert

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// Record is the JSON form of a notification (guardd replay --output json
// prints one per line). Amounts are exact decimal strings with a currency.
type Record struct {
	Status         Status           `json:"status"`
	Repeat         bool             `json:"repeat,omitempty"`
	Rule           string           `json:"rule"`
	Severity       billing.Severity `json:"severity"`
	Account        string           `json:"account"`
	Entity         string           `json:"entity"`
	FiredAt        time.Time        `json:"fired_at"`
	ResolvedAt     *time.Time       `json:"resolved_at,omitempty"`
	Fingerprint    string           `json:"fingerprint"`
	Summary        string           `json:"summary"`
	Evidence       []EvidenceRecord `json:"evidence"`
	Recommendation string           `json:"recommendation,omitempty"`
	Folded         []string         `json:"folded,omitempty"`
	Balance        BalanceRecord    `json:"balance"`
}

// EvidenceRecord is one piece of evidence in a Record.
type EvidenceRecord struct {
	What     string     `json:"what"`
	Ref      string     `json:"ref,omitempty"`
	At       time.Time  `json:"at"`
	Amount   string     `json:"amount,omitempty"`
	Currency string     `json:"currency,omitempty"`
	Note     string     `json:"note,omitempty"`
	Source   string     `json:"source,omitempty"`
	AsOf     *time.Time `json:"as_of,omitempty"`
}

// BalanceRecord is the account's position in a Record; absent figures are
// omitted, never zero.
type BalanceRecord struct {
	ObservedAt    time.Time  `json:"observed_at"`
	Currency      string     `json:"currency,omitempty"`
	Effective     *string    `json:"effective,omitempty"`
	Shown         *string    `json:"shown,omitempty"`
	BurnPerDay    *string    `json:"burn_per_day,omitempty"`
	BurnWindow    string     `json:"burn_window,omitempty"`
	RunwayHours   *int64     `json:"runway_hours,omitempty"`
	RunwayEnds    *time.Time `json:"runway_ends,omitempty"`
	RunwayEndless bool       `json:"runway_endless,omitempty"`
}

// NewRecord converts a notification to its JSON form.
func NewRecord(n Notification) Record {
	f := n.Finding
	r := Record{
		Status:         n.Status,
		Repeat:         n.Repeat,
		Rule:           f.Rule,
		Severity:       f.Severity,
		Account:        f.Account,
		Entity:         f.Entity,
		FiredAt:        f.At.UTC(),
		Fingerprint:    f.Fingerprint(),
		Summary:        f.Summary,
		Evidence:       make([]EvidenceRecord, 0, len(f.Evidence)),
		Recommendation: f.Recommendation,
		Folded:         f.Folded,
		Balance:        balanceRecord(f.State),
	}
	if n.Status == StatusResolved {
		at := n.At.UTC()
		r.ResolvedAt = &at
	}
	for _, e := range f.Evidence {
		er := EvidenceRecord{What: e.What, Ref: e.Ref, At: e.At.UTC(), Note: e.Note, Source: e.Source}
		if e.Amount.Currency() != "" {
			er.Amount, er.Currency = e.Amount.Exact(), string(e.Amount.Currency())
		}
		if !e.AsOf.IsZero() {
			t := e.AsOf.UTC()
			er.AsOf = &t
		}
		r.Evidence = append(r.Evidence, er)
	}
	return r
}

func balanceRecord(s billing.AccountState) BalanceRecord {
	b := BalanceRecord{ObservedAt: s.ObservedAt.UTC()}
	str := func(m billing.Money) *string { v := m.Exact(); return &v }
	if s.EffectiveKnown {
		b.Currency = string(s.Effective.Currency())
		b.Effective = str(s.Effective)
	}
	if s.ShownKnown {
		b.Currency = string(s.Shown.Currency())
		b.Shown = str(s.Shown)
	}
	if rw := s.Runway; rw.Known {
		b.BurnPerDay = str(rw.BurnPerDay.Round(2))
		b.BurnWindow = rw.Window.String()
		switch {
		case rw.Endless:
			b.RunwayEndless = true
		default:
			h := int64(rw.Lasts / time.Hour)
			until := rw.Until.UTC()
			b.RunwayHours, b.RunwayEnds = &h, &until
		}
	}
	return b
}

// Notification rebuilds the notification a record was made from, as the
// outbox and the alert store keep them. Amounts come back exact; runway
// durations to the hour.
func (r Record) Notification() (Notification, error) {
	if _, err := billing.ParseSeverity(string(r.Severity)); err != nil {
		return Notification{}, fmt.Errorf("record: %w", err)
	}
	if r.Status != StatusFiring && r.Status != StatusResolved {
		return Notification{}, fmt.Errorf("record: unknown status %q", r.Status)
	}
	f := billing.Finding{
		Rule: r.Rule, Severity: r.Severity, Account: r.Account, Entity: r.Entity, At: r.FiredAt,
		Summary: r.Summary, Recommendation: r.Recommendation, Folded: r.Folded,
	}
	if fp := f.Fingerprint(); r.Fingerprint != "" && r.Fingerprint != fp {
		return Notification{}, fmt.Errorf("record: fingerprint %s does not match %s/%s/%s", r.Fingerprint, r.Rule, r.Account, r.Entity)
	}
	money := func(what, amount, cur string) (billing.Money, error) {
		c, err := billing.ParseCurrency(cur)
		if err != nil {
			return billing.Money{}, fmt.Errorf("record: %s: %w", what, err)
		}
		m, err := billing.ParseMoney(amount, c)
		if err != nil {
			return billing.Money{}, fmt.Errorf("record: %s: %w", what, err)
		}
		return m, nil
	}
	for i, e := range r.Evidence {
		ev := billing.Evidence{What: e.What, Ref: e.Ref, At: e.At, Note: e.Note, Source: e.Source}
		if e.AsOf != nil {
			ev.AsOf = *e.AsOf
		}
		if e.Amount != "" {
			m, err := money(fmt.Sprintf("evidence[%d].amount", i), e.Amount, e.Currency)
			if err != nil {
				return Notification{}, err
			}
			ev.Amount = m
		}
		f.Evidence = append(f.Evidence, ev)
	}
	b := r.Balance
	s := &f.State
	s.ObservedAt = b.ObservedAt
	var err error
	if b.Effective != nil {
		if s.Effective, err = money("balance.effective", *b.Effective, b.Currency); err != nil {
			return Notification{}, err
		}
		s.EffectiveKnown = true
	}
	if b.Shown != nil {
		if s.Shown, err = money("balance.shown", *b.Shown, b.Currency); err != nil {
			return Notification{}, err
		}
		s.ShownKnown = true
	}
	if b.BurnPerDay != nil {
		if s.Runway.BurnPerDay, err = money("balance.burn_per_day", *b.BurnPerDay, b.Currency); err != nil {
			return Notification{}, err
		}
		s.Runway.Known = true
		s.Runway.Window, _ = time.ParseDuration(b.BurnWindow)
		s.Runway.Endless = b.RunwayEndless
		if b.RunwayHours != nil && b.RunwayEnds != nil {
			s.Runway.Lasts, s.Runway.Until = time.Duration(*b.RunwayHours)*time.Hour, *b.RunwayEnds
		}
	}
	n := Notification{Status: r.Status, Finding: f, At: r.FiredAt, Repeat: r.Repeat}
	if r.ResolvedAt != nil {
		n.At = *r.ResolvedAt
	}
	return n, nil
}
