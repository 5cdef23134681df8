package web

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/status"
	"github.com/guardd/guardd/internal/store"
)

// Pages read everything from the state database, as guardd status does:
// the daemon serves them from its own state, guardd report from the file.

// Overview is the page of every account and every receiver.
type Overview struct {
	At     time.Time
	Status status.Report
}

// LoadOverview reads the overview.
func LoadOverview(ctx context.Context, cfg *config.Config, st *store.Store, now time.Time) (Overview, error) {
	rep, err := status.Gather(ctx, cfg, st, now, "")
	if err != nil {
		return Overview{}, err
	}
	return Overview{At: now, Status: rep}, nil
}

// Period is the span an account page shows: [From, To].
type Period struct {
	From, To time.Time
	// Chosen is true when the reader chose it; otherwise it is the last
	// DefaultSpan of history, ending at the newest observation.
	Chosen bool
}

// DefaultSpan is the history an account page shows unless told otherwise.
const DefaultSpan = 30 * 24 * time.Hour

// MaxSpan bounds a chosen period: the default retention of the state.
const MaxSpan = 400 * 24 * time.Hour

// ParsePeriod reads a period from two days, YYYY-MM-DD in UTC, the second
// included; both empty means the default period.
func ParsePeriod(from, to string) (Period, error) {
	if from == "" && to == "" {
		return Period{}, nil
	}
	var p Period
	var err error
	if p.From, err = time.Parse(time.DateOnly, from); err != nil {
		return Period{}, fmt.Errorf("from %q: want a day such as 2026-10-14", from)
	}
	if p.To, err = time.Parse(time.DateOnly, to); err != nil {
		return Period{}, fmt.Errorf("to %q: want a day such as 2026-10-15", to)
	}
	p.To = p.To.Add(24 * time.Hour)
	switch {
	case !p.To.After(p.From):
		return Period{}, fmt.Errorf("to %s is before from %s", to, from)
	case p.To.Sub(p.From) > MaxSpan:
		return Period{}, fmt.Errorf("the period from %s to %s is longer than %d days", from, to, int(MaxSpan/(24*time.Hour)))
	}
	p.Chosen = true
	return p, nil
}

// Account is one account's page.
type Account struct {
	At       time.Time
	Status   status.Account
	Currency billing.Currency
	Period   Period
	// Newest is the newest observation stored; zero when there is none.
	Newest   time.Time
	Timeline Timeline
	Flow     Flow
	// Findings are the findings that held in the period, one per stretch
	// of evaluations in a row; FindingRows list them, or sum them by rule
	// when there are more than maxFindingRows (FindingsSummed).
	Findings       []Mark
	FindingRows    []FindingRow
	FindingsSummed bool
	// Alerts are the account's alerts, firing and resolved, newest first,
	// with where their notifications stand.
	Alerts   []AlertRow
	Silences []lifecycle.Silence
	// Report is set for guardd report's file: no links to other pages.
	Report bool
}

// AlertRow is one alert and its delivery.
type AlertRow struct {
	lifecycle.Alert
	Undelivered []status.Undelivered
	// DeliveredTo names the receivers that said where they put its
	// message.
	DeliveredTo []string
}

// ErrNoAccount is wrapped by the error for an account the config does not
// have.
var ErrNoAccount = errors.New("no such account")

// warmUp is the history read before a period, so that the ledger knows
// the grants and balance at its start.
const warmUp = 24 * time.Hour

// LoadAccount reads one account's page for period p (the default period
// when p.From is zero).
func LoadAccount(ctx context.Context, cfg *config.Config, st *store.Store, name string, p Period, now time.Time) (Account, error) {
	var ac *config.Account
	for i := range cfg.Accounts {
		if cfg.Accounts[i].Name == name {
			ac = &cfg.Accounts[i]
		}
	}
	if ac == nil {
		return Account{}, fmt.Errorf("%w %q", ErrNoAccount, name)
	}
	rep, err := status.Gather(ctx, cfg, st, now, name)
	if err != nil {
		return Account{}, err
	}
	page := Account{At: now, Status: rep.Accounts[0], Currency: ac.Currency, Period: p}
	var obs []billing.Observation
	var records []lifecycle.FindingRecord
	var pending, dead []lifecycle.OutboxItem
	err = st.View(ctx, func(tx *store.Tx) error {
		newest, ok, err := tx.LastObservationAt(name)
		if err != nil {
			return err
		}
		if ok {
			page.Newest = newest
		}
		if !page.Period.Chosen {
			page.Period = defaultPeriod(newest, ok, now)
		}
		if obs, err = tx.Observations(ac.Account, page.Period.From.Add(-warmUp)); err != nil {
			return err
		}
		if !page.Period.Chosen && len(obs) > 0 && obs[0].At.After(page.Period.From) {
			// A history shorter than the default span: it starts at the
			// first observation.
			page.Period.From = obs[0].At
		}
		if records, err = tx.Findings(name, page.Period.From); err != nil {
			return err
		}
		if page.Alerts, err = alertRows(tx, name); err != nil {
			return err
		}
		if pending, err = lifecycle.Owed(tx); err != nil {
			return err
		}
		if dead, err = tx.Dead(); err != nil {
			return err
		}
		ss, err := tx.Silences(time.Time{})
		for _, s := range ss {
			if s.Account == "" || s.Account == name {
				page.Silences = append(page.Silences, s)
			}
		}
		return err
	})
	if err != nil {
		return Account{}, err
	}
	owed := status.Owed(pending, dead)
	for i := range page.Alerts {
		page.Alerts[i].Undelivered = owed[page.Alerts[i].Fingerprint]
	}
	l := ledger.New(ac.Account, cfg.Ledger)
	for i, o := range obs {
		if o.At.After(page.Period.To) {
			break
		}
		if err := l.Append(o); err != nil {
			return Account{}, fmt.Errorf("history of %s: stored observation %d: %w", name, i, err)
		}
	}
	page.fill(l, records)
	return page, nil
}

// fill draws the page's period from the account's ledger and findings log.
func (p *Account) fill(l *ledger.Ledger, records []lifecycle.FindingRecord) {
	from, to := p.Period.From, p.Period.To
	p.Timeline = NewTimeline("timeline", l, from, to, nil)
	p.Findings = episodes(records, p.Timeline.Points, to)
	p.Timeline.Findings = p.Findings
	p.FindingRows, p.FindingsSummed = findingRows(p.Findings)
	p.Flow = newFlow(l, p.Timeline.Recharges, from, to)
	p.Timeline.Link = p.Flow.linker()
}

// defaultPeriod is the last DefaultSpan before the newest observation (or
// before now when there is none).
func defaultPeriod(newest time.Time, ok bool, now time.Time) Period {
	end := now
	if ok {
		end = newest
	}
	return Period{From: end.Add(-DefaultSpan), To: end}
}

func alertRows(tx *store.Tx, account string) ([]AlertRow, error) {
	as, err := tx.Alerts(account, "")
	if err != nil {
		return nil, err
	}
	rows := make([]AlertRow, len(as))
	for i, a := range as {
		rows[len(as)-1-i] = AlertRow{Alert: a, DeliveredTo: receiversOf(a)}
	}
	return rows, nil
}

func receiversOf(a lifecycle.Alert) []string {
	var out []string
	for name := range a.Receivers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// episodes turns the findings log into stretches: a finding holds from the
// first evaluation that found it until the first evaluation, a poll or
// another finding's, that did not. records come oldest first, as the log
// keeps them.
func episodes(records []lifecycle.FindingRecord, pts []ledger.Point, end time.Time) []Mark {
	// The evaluations: every poll and every time a finding was logged.
	evals := make([]time.Time, 0, len(pts)+len(records))
	for _, p := range pts {
		evals = append(evals, p.At)
	}
	// Each finding's records, by index: a year of them is thousands.
	byFP := make(map[string][]int32)
	var order []string
	for i, r := range records {
		if r.At.After(end) {
			continue
		}
		if _, ok := byFP[r.Fingerprint]; !ok {
			order = append(order, r.Fingerprint)
		}
		byFP[r.Fingerprint] = append(byFP[r.Fingerprint], int32(i))
		evals = append(evals, r.At)
	}
	slices.SortFunc(evals, func(a, b time.Time) int { return a.Compare(b) })
	evals = slices.CompactFunc(evals, func(a, b time.Time) bool { return a.Equal(b) })
	var out []Mark
	for _, fp := range order {
		idx := byFP[fp]
		rec := func(i int) *lifecycle.FindingRecord { return &records[idx[i]] }
		// Walk the evaluations and this finding's records together: a
		// stretch ends at the first evaluation without a record.
		e := 0
		for i := 0; i < len(idx); {
			m := Mark{At: rec(i).At, Rule: rec(i).Rule, Severity: rec(i).Severity, Summary: rec(i).Summary}
			for e < len(evals) && evals[e].Before(rec(i).At) {
				e++
			}
			for i < len(idx) && e < len(evals) && evals[e].Equal(rec(i).At) {
				m.Summary = rec(i).Summary
				i, e = i+1, e+1
				for i < len(idx) && rec(i).At.Equal(rec(i-1).At) {
					i++ // logged twice at one evaluation
				}
			}
			if e < len(evals) {
				m.Until = evals[e]
			}
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b Mark) int { return a.At.Compare(b.At) })
	return out
}

// linker gives the timeline's markers their links: recharge i links to
// the row of the money flow that holds it.
func (f Flow) linker() func(int) string {
	var anchors []string
	for _, r := range f.Charges {
		for range r.Count {
			anchors = append(anchors, "#"+r.Anchor)
		}
	}
	return func(i int) string {
		if i < len(anchors) {
			return anchors[i]
		}
		return ""
	}
}

// Alerts is the page of every account's alerts, the silences and the
// delivery state of each receiver.
type Alerts struct {
	At        time.Time
	Alerts    []AlertRow
	Silences  []lifecycle.Silence
	Receivers []status.Receiver
	// Owed lists each notification not delivered yet or given up on.
	Owed []lifecycle.OutboxItem
}

// LoadAlerts reads the alerts page.
func LoadAlerts(ctx context.Context, cfg *config.Config, st *store.Store, now time.Time) (Alerts, error) {
	page := Alerts{At: now}
	var pending, dead []lifecycle.OutboxItem
	err := st.View(ctx, func(tx *store.Tx) error {
		var err error
		if page.Alerts, err = alertRows(tx, ""); err != nil {
			return err
		}
		if page.Silences, err = tx.Silences(time.Time{}); err != nil {
			return err
		}
		if pending, err = lifecycle.Owed(tx); err != nil {
			return err
		}
		dead, err = tx.Dead()
		return err
	})
	if err != nil {
		return Alerts{}, err
	}
	owed := status.Owed(pending, dead)
	for i := range page.Alerts {
		page.Alerts[i].Undelivered = owed[page.Alerts[i].Fingerprint]
	}
	page.Receivers = status.Receivers(cfg, pending, dead)
	page.Owed = append(pending, dead...)
	return page, nil
}

// FindingRow is a stretch a finding held, or Times stretches of one rule.
type FindingRow struct {
	Mark
	Times int
}

const maxFindingRows = 60

// findingRows lists the stretches, or sums them by rule when there are
// too many to list.
func findingRows(ms []Mark) ([]FindingRow, bool) {
	if len(ms) <= maxFindingRows {
		rows := make([]FindingRow, len(ms))
		for i, m := range ms {
			rows[i] = FindingRow{Mark: m, Times: 1}
		}
		return rows, false
	}
	var rows []FindingRow
	at := make(map[string]int)
	for _, m := range ms {
		i, ok := at[m.Rule]
		if !ok {
			at[m.Rule] = len(rows)
			rows = append(rows, FindingRow{Mark: m, Times: 1})
			continue
		}
		r := &rows[i]
		r.Times++
		r.Until, r.Summary = m.Until, m.Summary
		if m.Severity.Rank() > r.Severity.Rank() {
			r.Severity = m.Severity
		}
	}
	return rows, true
}
