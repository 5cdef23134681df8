package alert

import (
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// Record is the JSON form of a notification that guardd replay --output
// json prints, one per line. Amounts are exact decimal strings with a
// currency. It is an output only: what guardd stores is the lifecycle's own
// format (lifecycle.EncodePayload), so this one may change without touching
// any database.
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
	// DerivedFrom is set when effective is derived from a balance anchor.
	DerivedFrom *AnchorRecord `json:"derived_from,omitempty"`
}

// AnchorRecord is a balance anchor in a Record.
type AnchorRecord struct {
	Amount string    `json:"amount"`
	At     time.Time `json:"at"`
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
	if d := s.DerivedFrom; d != nil {
		b.DerivedFrom = &AnchorRecord{Amount: d.Amount.Exact(), At: d.At.UTC()}
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
