// Package status is what guardd knows of each account now, read from the
// state database: the real balance next to the one the provider shows, the
// runway, the last poll, the alerts firing and where their notifications
// stand, the silences, and each receiver's deliveries owed. guardd status
// prints it and the web pages (internal/web) show it, from one model.
package status

import (
	"context"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
)

// Report is what status shows, in the form guardd status --output json
// prints.
type Report struct {
	At        time.Time  `json:"at"`
	Accounts  []Account  `json:"accounts"`
	Receivers []Receiver `json:"receivers,omitempty"`
}

// Account is one account's position, polls and alerts. Balance is in the
// form of the webhook payload's (docs/receivers.md); it is absent until a
// poll read one.
type Account struct {
	Name     string                `json:"name"`
	Provider string                `json:"provider"`
	Currency string                `json:"currency"`
	Sees     string                `json:"sees"`
	Balance  *alert.PayloadBalance `json:"balance,omitempty"`
	// LastPoll is absent until the first poll.
	LastPoll *Poll `json:"last_poll,omitempty"`
	// FailedPolls counts the failed polls in a row up to the last one.
	FailedPolls int       `json:"failed_polls"`
	Alerts      []Alert   `json:"alerts"`
	Silences    []Silence `json:"silences,omitempty"`
	// State is the position the ledger gives, for text and pages; Basis
	// says how its effective balance was worked out, Source where it was
	// read and AsOf how fresh it is.
	State  billing.AccountState `json:"-"`
	Basis  string               `json:"-"`
	Source string               `json:"-"`
	AsOf   time.Time            `json:"-"`
}

// Poll is the outcome of one poll.
type Poll struct {
	At time.Time `json:"at"`
	OK bool      `json:"ok"`
	// Error says why a failed poll read nothing.
	Error string `json:"error,omitempty"`
	// Unavailable says why each part a poll could not read was not read.
	Unavailable map[billing.Part]string `json:"unavailable,omitempty"`
}

// Alert is a firing alert and where its notifications stand.
type Alert struct {
	Rule        string           `json:"rule"`
	Entity      string           `json:"entity"`
	Severity    billing.Severity `json:"severity"`
	Fingerprint string           `json:"-"`
	FiredAt     time.Time        `json:"fired_at"`
	// NotifiedAt is when its latest notification was decided; whether it
	// was delivered is in Undelivered.
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	AckedBy    string     `json:"acked_by,omitempty"`
	// Undelivered lists the receivers that still owe its notifications.
	Undelivered []Undelivered `json:"undelivered,omitempty"`
}

// Undelivered is a notification a receiver still owes.
type Undelivered struct {
	Receiver string `json:"receiver"`
	// GivenUp is true when guardd stopped retrying.
	GivenUp   bool   `json:"given_up"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
}

// Silence is a silence active now.
type Silence struct {
	ID      int64     `json:"id"`
	Rule    string    `json:"rule,omitempty"`
	End     time.Time `json:"end"`
	By      string    `json:"by"`
	Comment string    `json:"comment"`
}

// Receiver is the delivery state of one receiver: the notifications
// waiting for a retry and those given up on.
type Receiver struct {
	Name    string `json:"name"`
	Pending int    `json:"pending"`
	GivenUp int    `json:"given_up"`
	// Oldest is when the oldest undelivered notification was queued;
	// NextAttempt when the next retry is due.
	Oldest      *time.Time `json:"oldest,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// Gather reads the state database: every account's ledger, alerts and
// silences (only the named one when account is set), and the outbox.
func Gather(ctx context.Context, cfg *config.Config, st *store.Store, now time.Time, account string) (Report, error) {
	accounts := make([]guard.Account, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		accounts[i] = guard.Account{Account: a.Account}
	}
	g := guard.New(accounts, guard.Options{Params: cfg.Params, Ledger: cfg.Ledger, History: st,
		Policy: lifecycle.Policy{Repeat: cfg.Alerting.Repeat(), ResolveAfter: cfg.Alerting.ResolveAfter.N}})
	if err := g.Load(ctx, now); err != nil {
		return Report{}, err
	}
	rep := Report{At: now}
	var pending, dead []lifecycle.OutboxItem
	var silences []lifecycle.Silence
	firing := make(map[string][]lifecycle.Alert)
	err := st.Lifecycle().View(ctx, func(tx lifecycle.Tx) error {
		var err error
		if pending, err = lifecycle.Owed(tx); err != nil {
			return err
		}
		if dead, err = tx.Dead(); err != nil {
			return err
		}
		if silences, err = tx.Silences(now); err != nil {
			return err
		}
		for _, a := range cfg.Accounts {
			if firing[a.Name], err = tx.Alerts(a.Name, lifecycle.Firing); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	owed := Owed(pending, dead)
	statuses, err := g.Status(now)
	if err != nil {
		return Report{}, err
	}
	for i, as := range statuses {
		a := cfg.Accounts[i]
		if account != "" && a.Name != account {
			continue
		}
		ar := View(cfg, a, as)
		for _, al := range firing[a.Name] {
			r := Alert{Rule: al.Rule, Entity: al.Entity, Severity: al.Severity, Fingerprint: al.Fingerprint, FiredAt: al.FiredAt,
				AckedBy: al.AckedBy, Undelivered: owed[al.Fingerprint]}
			if !al.LastSentAt.IsZero() {
				r.NotifiedAt = &al.LastSentAt
			}
			ar.Alerts = append(ar.Alerts, r)
		}
		for _, sl := range silences {
			if sl.Account == "" || sl.Account == a.Name {
				ar.Silences = append(ar.Silences, Silence{ID: sl.ID, Rule: sl.Rule, End: sl.End, By: sl.CreatedBy, Comment: sl.Comment})
			}
		}
		rep.Accounts = append(rep.Accounts, ar)
	}
	if account == "" {
		rep.Receivers = Receivers(cfg, pending, dead)
	}
	return rep, nil
}

// Owed groups the undelivered outbox items, pending and given up on, by
// the fingerprint of their alert.
func Owed(pending, dead []lifecycle.OutboxItem) map[string][]Undelivered {
	owed := make(map[string][]Undelivered)
	for _, it := range pending {
		owed[it.Fingerprint] = append(owed[it.Fingerprint], Undelivered{Receiver: it.Receiver, Attempts: it.Attempts, LastError: it.LastError})
	}
	for _, it := range dead {
		owed[it.Fingerprint] = append(owed[it.Fingerprint], Undelivered{Receiver: it.Receiver, GivenUp: true, Attempts: it.Attempts, LastError: it.LastError})
	}
	return owed
}

// View is an account's position and last poll, as guardd knows it.
func View(cfg *config.Config, a config.Account, as guard.AccountStatus) Account {
	ar := Account{Name: a.Name, Provider: a.Provider, Currency: string(a.Currency), Sees: SightLine(cfg, a),
		FailedPolls: as.FailedPolls, Alerts: []Alert{}, State: as.State}
	if as.HasLatest {
		ar.Basis, ar.Source, ar.AsOf = as.Latest.EffectiveBasis, as.Latest.Source, as.Latest.AsOf
	}
	if s := as.State; s.EffectiveKnown || s.ShownKnown {
		b := alert.NewPayloadBalance(s)
		ar.Balance = &b
	}
	if as.HasPoll {
		p := as.LastPoll
		ar.LastPoll = &Poll{At: p.At, OK: p.Err == "", Error: p.Err, Unavailable: p.Unavailable}
	}
	return ar
}

// SightLine says what guardd can see of account a and which rules that
// makes live: "costs ✓ charges ✗ (…) balance derived grants ✗ (no session
// key) → live: recharge-burst, …; off: phantom-balance, …".
func SightLine(cfg *config.Config, a config.Account) string {
	live, off := rules.New(cfg.Params).Live(a.Sight())
	line := a.Sight().String() + " → live: " + strings.Join(live, ", ")
	if len(off) > 0 {
		line += "; off: " + strings.Join(off, ", ")
	}
	return line
}

// Receivers sums the undelivered notifications by receiver, in the
// config's order.
func Receivers(cfg *config.Config, pending, dead []lifecycle.OutboxItem) []Receiver {
	out := make([]Receiver, len(cfg.Notifiers))
	for i, n := range cfg.Notifiers {
		r := Receiver{Name: n.Name}
		var lastAttempt time.Time
		for _, it := range pending {
			if it.Receiver != n.Name {
				continue
			}
			r.Pending++
			if r.Oldest == nil || it.CreatedAt.Before(*r.Oldest) {
				r.Oldest = &it.CreatedAt
			}
			if r.NextAttempt == nil || it.NextAttemptAt.Before(*r.NextAttempt) {
				r.NextAttempt = &it.NextAttemptAt
			}
			if it.LastError != "" && !it.LastAttemptAt.Before(lastAttempt) {
				r.LastError, lastAttempt = it.LastError, it.LastAttemptAt
			}
		}
		for _, it := range dead {
			if it.Receiver != n.Name {
				continue
			}
			r.GivenUp++
			if r.Oldest == nil || it.CreatedAt.Before(*r.Oldest) {
				r.Oldest = &it.CreatedAt
			}
			if it.LastError != "" && !it.LastAttemptAt.Before(lastAttempt) {
				r.LastError, lastAttempt = it.LastError, it.LastAttemptAt
			}
		}
		out[i] = r
	}
	return out
}

// Runway gives the runway and burn as words: "7 days", "$6.00/day".
func Runway(s billing.AccountState) (runway, burn string) {
	rw := s.Runway
	switch {
	case !s.EffectiveKnown || !rw.Known:
		return "unknown", "-"
	case rw.FromCosts:
		burn = rw.BurnPerDay.Display() + "/day (costs)"
	default:
		burn = rw.BurnPerDay.Display() + "/day"
	}
	switch {
	case rw.Endless:
		return "open-ended", burn
	case !s.Effective.IsPositive():
		return "none", burn
	}
	return billing.Words(rw.Lasts), burn
}

// PartList names the parts in m, in billing.Parts order: "grants, costs".
func PartList(m map[billing.Part]string) string {
	var parts []string
	for _, p := range billing.Parts {
		if _, ok := m[p]; ok {
			parts = append(parts, string(p))
		}
	}
	return strings.Join(parts, ", ")
}
