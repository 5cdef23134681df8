// Package rules holds the rules engine and its rules. A rule is pure: it reads
// an account's ledger and the evaluation time and returns findings, with no
// I/O, no clock and no globals.
package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// Rule finds one kind of anomaly. Finding it and explaining it are separate
// steps: Check runs after every poll and must be cheap; Explain renders the
// summary, evidence and recommendation, and runs only when someone will read
// them (a finding that starts firing, a repeat, a test).
type Rule interface {
	// Name is the rule's stable id, such as "recharge-burst".
	Name() string
	// Check returns the findings that hold at now, with only Severity and
	// Entity set. It must not change h.
	Check(h *ledger.Ledger, now time.Time) []billing.Finding
	// Explain completes a finding Check returned for the same h and now:
	// Summary, Evidence and, for money-losing findings, Recommendation.
	Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding
	// History is how far back from now Check and Explain read, beyond the
	// burn window every rule may use. A rule that reads the balance
	// points and cost windows (Latest, Consumption, Covers, Points,
	// Costs, Runway over its own window) less far back than that says how
	// far with a method PointHistory() time.Duration; without one,
	// History is taken.
	History() time.Duration
	// Sees reports whether the data the rule needs is visible with sight s:
	// a rule that cannot see is off for the account, and said to be.
	Sees(s billing.Sight) bool
}

// Params is the rules section of the configuration: the window burn and
// runway are measured over, and every rule with its own parameters.
type Params struct {
	// BurnWindow is the window over which burn rate and runway are measured.
	BurnWindow setting.Duration
	// Rules holds every rule, in evaluation order.
	Rules []Rule
}

// DefaultParams returns every rule with its documented defaults (see
// docs/rules.md). This is the one list of guardd's rules: a new rule is a
// file of its own and a line here.
func DefaultParams() Params {
	cwc := defaultChargeWithoutCredit()
	p := Params{
		BurnWindow: setting.DurationOf(7 * 24 * time.Hour),
		Rules: []Rule{
			defaultRechargeBurst(),
			defaultRechargeWhileGrantCredit(),
			defaultRechargeAboveThreshold(),
			defaultPhantomBalance(),
			defaultDrawdownOrder(),
			cwc,
			&CreditWithoutCharge{cwc},
			defaultCreditsAccumulating(),
			defaultSpendWithoutUsage(),
			defaultGrantExpiringUnused(),
			&MonthlyRechargeCap{},
			defaultRunwayLow(),
			defaultSourceBlind(),
		},
	}
	p.shareBurnWindow()
	return p
}

// shareBurnWindow gives p's rules that use it p's burn window. It writes
// only where a rule's differs: engines made from the same Params share its
// rules, and each New would otherwise write the same value while another
// engine's rules read it (a data race, found by go test -race; the
// daemon's engine and the web pages' share the running config's Params).
// DefaultParams gives the window at once, so that only a Params whose
// window was changed after it is written to, by its first New.
func (p Params) shareBurnWindow() {
	for _, r := range p.Rules {
		if b, ok := r.(interface{ setBurnWindow(time.Duration) }); ok {
			b.setBurnWindow(p.BurnWindow.Duration)
		}
	}
}

// Key is the rule's section in the config's rules: its name with
// underscores ("recharge_burst").
func Key(r Rule) string { return strings.ReplaceAll(r.Name(), "-", "_") }

// burn gives a rule the burn window its advice and runway use; the engine
// sets it.
type burn struct{ burnWindow time.Duration }

// setBurnWindow writes d only when it differs (see shareBurnWindow).
func (b *burn) setBurnWindow(d time.Duration) {
	if b.burnWindow != d {
		b.burnWindow = d
	}
}

// Engine evaluates a set of rules.
type Engine struct {
	rules      []Rule
	burnWindow time.Duration
	// byName is the rules' indexes in name order (the order of Check's
	// findings), evaluation order among equal names.
	byName []int
}

// inhibits lists, per rule, the rules whose findings on the same account are
// its symptoms: while it fires they are folded into it, not sent beside it.
var inhibits = map[string][]string{
	"recharge-burst": {"recharge-above-threshold", "recharge-while-grant-credit", "credits-accumulating"},
}

// inhibitors is inhibits turned around: per symptom, the rules that
// inhibit it, in name order.
var inhibitors = func() map[string][]string {
	out := make(map[string][]string)
	for inhibitor, symptoms := range inhibits {
		for _, s := range symptoms {
			out[s] = append(out[s], inhibitor)
		}
	}
	for _, rs := range out {
		slices.Sort(rs)
	}
	return out
}()

// InhibitorsOf returns the rules whose firing alerts on the same account
// fold rule's findings into them, in name order. The lifecycle asks for
// every finding at every poll: the slice is shared, and callers must not
// change it.
func InhibitorsOf(rule string) []string { return inhibitors[rule] }

// SourceRule is the rule that watches the source itself; it is the only one
// evaluated after a failed poll.
const SourceRule = "source-blind"

// New returns an engine running p's rules.
func New(p Params) *Engine {
	p.shareBurnWindow()
	byName := make([]int, len(p.Rules))
	for i := range byName {
		byName[i] = i
	}
	slices.SortStableFunc(byName, func(i, j int) int { return strings.Compare(p.Rules[i].Name(), p.Rules[j].Name()) })
	return &Engine{burnWindow: p.BurnWindow.Duration, rules: p.Rules, byName: byName}
}

// History is how much history the engine's rules read: the longest of
// their windows and the burn window, and a day of margin.
func (e *Engine) History() time.Duration {
	w := e.burnWindow
	for _, r := range e.rules {
		w = max(w, r.History())
	}
	return w + 24*time.Hour
}

// PointHistory is how far back the engine's rules read the balance
// points and cost windows (ledger.Options.KeepPoints): the longest of the burn window
// (runway and the finding's state) and each rule's PointHistory, or its
// History when it does not say, and a day of margin. It is shorter than
// History when the longest windows only count recharges.
func (e *Engine) PointHistory() time.Duration {
	w := e.burnWindow
	for _, r := range e.rules {
		if p, ok := r.(interface{ PointHistory() time.Duration }); ok {
			w = max(w, p.PointHistory())
			continue
		}
		w = max(w, r.History())
	}
	return w + 24*time.Hour
}

// Live splits the engine's rules into those that can judge an account
// with sight s and those that are off for it.
func (e *Engine) Live(s billing.Sight) (live, off []string) {
	for _, r := range e.rules {
		if r.Sees(s) {
			live = append(live, r.Name())
		} else {
			off = append(off, r.Name())
		}
	}
	return live, off
}

// Rule returns the engine's rule called name.
func (e *Engine) Rule(name string) (Rule, bool) {
	for _, r := range e.rules {
		if r.Name() == name {
			return r, true
		}
	}
	return nil, false
}

// Names lists the engine's rules.
func (e *Engine) Names() []string {
	out := make([]string, len(e.rules))
	for i, r := range e.rules {
		out[i] = r.Name()
	}
	return out
}

// Check runs every rule at now and returns what holds, identified (rule,
// account, entity, severity, time) but not explained, in a stable order.
// Symptoms of a finding that inhibits them are marked InhibitedBy.
func (e *Engine) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	return e.check(h, now, "")
}

// CheckSource runs only the rule that watches the source (after a failed
// poll, the other rules would judge stale data).
func (e *Engine) CheckSource(h *ledger.Ledger, now time.Time) []billing.Finding {
	return e.check(h, now, SourceRule)
}

func (e *Engine) check(h *ledger.Ledger, now time.Time, only string) []billing.Finding {
	// Each rule's findings, then one slice of them all: the holding
	// findings are kept with the cycle's report.
	var found [16][]billing.Finding
	each := found[:0]
	n := 0
	for _, r := range e.rules {
		fs := []billing.Finding(nil)
		if only == "" || r.Name() == only {
			fs = r.Check(h, now)
		}
		each = append(each, fs)
		n += len(fs)
	}
	if n == 0 {
		return nil
	}
	// Gathered in name order, the findings need no moving by the sort
	// below unless a rule finds several or two rules share a name.
	out := make([]billing.Finding, 0, n)
	account := h.Account().Name
	for _, i := range e.byName {
		name := e.rules[i].Name()
		for _, f := range each[i] {
			f.Rule, f.Account, f.At = name, account, now
			out = append(out, f)
		}
	}
	// Each inhibitor's findings mark its symptoms', inhibitors taken in
	// evaluation order.
	for i, fs := range each {
		name := e.rules[i].Name()
		if len(fs) == 0 {
			continue
		}
		for _, symptom := range inhibits[name] {
			for j := range out {
				if out[j].Rule == symptom {
					out[j].InhibitedBy = name
				}
			}
		}
	}
	slices.SortStableFunc(out, func(x, y billing.Finding) int {
		return cmp.Or(strings.Compare(x.Rule, y.Rule), strings.Compare(x.Entity, y.Entity))
	})
	return out
}

// Explain completes a finding from Check at the same now: the rule's
// summary, evidence and recommendation, the account's state, and the
// summaries of the symptoms in holding that it inhibits.
func (e *Engine) Explain(h *ledger.Ledger, now time.Time, f billing.Finding, holding []billing.Finding) billing.Finding {
	f = e.explain(h, now, f)
	for _, s := range holding {
		if s.InhibitedBy == f.Rule {
			f.Folded = append(f.Folded, s.Rule+": "+e.explain(h, now, s).Summary)
		}
	}
	f.State = h.State(now, e.burnWindow)
	if since := f.FiringSince; !since.IsZero() {
		f.Summary += runningTotals(h, since, now, e.History())
	}
	return f
}

// runningTotals says what auto-recharge charged while an alert kept
// firing: " Since it started firing at 03:00 UTC: 7 recharges, $70.00
// charged." Empty when nothing was. The ledger answers for the engine's
// history only (it keeps no more), so an alert firing for longer counts
// the recharges of that history and says so.
func runningTotals(h *ledger.Ledger, since, now time.Time, history time.Duration) string {
	from := since
	if horizon := now.Add(-history); since.Before(horizon) {
		from = horizon
	}
	atLeast := false
	charged, n := h.SumRecharges(from, now, func(r *ledger.Recharge) (decimal.Decimal, bool) {
		atLeast = atLeast || r.AtLeast
		return r.Charge.Amount.Amount(), true
	})
	if n == 0 {
		return ""
	}
	amount := billing.NewMoney(charged, h.Account().Currency).Display()
	if atLeast {
		amount = "at least " + amount
	}
	started := since.UTC().Format("2006-01-02 15:04 UTC")
	if from.After(since) {
		return fmt.Sprintf(" It started firing at %s; in the last %s: %s, %s charged.",
			started, billing.Words(history), billing.Count(n, "recharge"), amount)
	}
	return fmt.Sprintf(" Since it started firing at %s: %s, %s charged.", started, billing.Count(n, "recharge"), amount)
}

func (e *Engine) explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	for _, r := range e.rules {
		if r.Name() == f.Rule {
			return r.Explain(h, now, f)
		}
	}
	return f
}

// Evaluate checks and explains every finding that holds at now.
func (e *Engine) Evaluate(h *ledger.Ledger, now time.Time) []billing.Finding {
	fs := e.Check(h, now)
	out := make([]billing.Finding, len(fs))
	for i := range fs {
		out[i] = e.Explain(h, now, fs[i], fs)
	}
	return out
}
