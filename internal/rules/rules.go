// Package rules holds the rules engine and its rules. A rule is pure: it reads
// an account's ledger and the evaluation time and returns findings, with no
// I/O, no clock and no globals.
package rules

import (
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
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
}

// Params are the tunable parameters of the rules, with documented defaults
// (see DefaultParams and docs/rules.md). Amounts are in the account's currency.
type Params struct {
	// BurnWindow is the window over which burn rate and runway are measured.
	BurnWindow time.Duration

	RechargeBurst            RechargeBurstParams
	RechargeWhileGrantCredit RechargeWhileGrantCreditParams
	RechargeAboveThreshold   RechargeAboveThresholdParams
	PhantomBalance           PhantomBalanceParams
}

// RechargeBurstParams tune recharge-burst.
type RechargeBurstParams struct {
	// Count recharges or more inside Window fire the rule.
	Count  int
	Window time.Duration
}

// RechargeWhileGrantCreditParams tune recharge-while-grant-credit.
type RechargeWhileGrantCreditParams struct {
	// MinGrantCredit is the least unexpired grant credit that must have been
	// left at the recharge for it to count.
	MinGrantCredit decimal.Decimal
	// Lookback is how long an offending recharge keeps the finding active.
	Lookback time.Duration
}

// RechargeAboveThresholdParams tune recharge-above-threshold.
type RechargeAboveThresholdParams struct {
	// Tolerance: the balance before the recharge must exceed the threshold by
	// more than this.
	Tolerance decimal.Decimal
	// Lookback is how long an offending recharge keeps the finding active.
	Lookback time.Duration
}

// PhantomBalanceParams tune phantom-balance.
type PhantomBalanceParams struct {
	// MinDifference is the least gap between shown and effective balance
	// that fires the rule.
	MinDifference decimal.Decimal
}

// DefaultParams returns the documented defaults.
func DefaultParams() Params {
	return Params{
		BurnWindow:    7 * 24 * time.Hour,
		RechargeBurst: RechargeBurstParams{Count: 3, Window: 6 * time.Hour},
		RechargeWhileGrantCredit: RechargeWhileGrantCreditParams{
			MinGrantCredit: decimal.NewFromInt(1),
			Lookback:       24 * time.Hour,
		},
		RechargeAboveThreshold: RechargeAboveThresholdParams{
			Tolerance: decimal.New(50, -2),
			Lookback:  24 * time.Hour,
		},
		PhantomBalance: PhantomBalanceParams{MinDifference: decimal.NewFromInt(1)},
	}
}

// Engine evaluates a set of rules.
type Engine struct {
	rules      []Rule
	burnWindow time.Duration
}

// New returns an engine running every rule with params p.
func New(p Params) *Engine {
	return &Engine{
		burnWindow: p.BurnWindow,
		rules: []Rule{
			RechargeBurst{P: p.RechargeBurst, BurnWindow: p.BurnWindow},
			RechargeWhileGrantCredit{P: p.RechargeWhileGrantCredit, BurnWindow: p.BurnWindow},
			RechargeAboveThreshold{P: p.RechargeAboveThreshold, BurnWindow: p.BurnWindow},
			PhantomBalance{P: p.PhantomBalance, BurnWindow: p.BurnWindow},
		},
	}
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
func (e *Engine) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	var out []billing.Finding
	for _, r := range e.rules {
		for _, f := range r.Check(h, now) {
			f.Rule, f.Account, f.At = r.Name(), h.Account().Name, now
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Entity < out[j].Entity
	})
	return out
}

// Explain completes a finding from Check at the same now: the rule's
// summary, evidence and recommendation, and the account's state.
func (e *Engine) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	for _, r := range e.rules {
		if r.Name() == f.Rule {
			f = r.Explain(h, now, f)
			break
		}
	}
	f.State = h.State(now, e.burnWindow)
	return f
}

// Evaluate checks and explains every finding that holds at now.
func (e *Engine) Evaluate(h *ledger.Ledger, now time.Time) []billing.Finding {
	fs := e.Check(h, now)
	for i := range fs {
		fs[i] = e.Explain(h, now, fs[i])
	}
	return fs
}
