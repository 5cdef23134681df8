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
	DrawdownOrder            DrawdownOrderParams
	ChargeWithoutCredit      ChargeWithoutCreditParams
	CreditsAccumulating      CreditsAccumulatingParams
	SpendWithoutUsage        SpendWithoutUsageParams
	GrantExpiringUnused      GrantExpiringUnusedParams
	RunwayLow                RunwayLowParams
	SourceBlind              SourceBlindParams
}

// DrawdownOrderParams tune drawdown-order.
type DrawdownOrderParams struct {
	// MinIdleCredit is the least credit the idle grant must hold.
	MinIdleCredit decimal.Decimal
	// MinDrawn is the least credit drawn from elsewhere meanwhile.
	MinDrawn decimal.Decimal
	// MinPolls is how many polls must show others drawn instead: one poll
	// can catch a provider updating grants at different moments.
	MinPolls int
}

// ChargeWithoutCreditParams tune charge-without-credit and its reverse,
// credit-without-charge.
type ChargeWithoutCreditParams struct {
	// Window is how long credit may take to appear after a charge (and a
	// charge after credit) before the rule fires.
	Window time.Duration
	// Lookback: charges older than this are not examined.
	Lookback time.Duration
}

// CreditsAccumulatingParams tune credits-accumulating.
type CreditsAccumulatingParams struct {
	Window       time.Duration
	MinRecharges int
	// MinExcess is the least credit added beyond what was spent, and
	// MinRatio the least ratio of added to spent; both must hold.
	MinExcess decimal.Decimal
	MinRatio  decimal.Decimal
}

// SpendWithoutUsageParams tune spend-without-usage.
type SpendWithoutUsageParams struct {
	// Floor is the least drawdown or charge in a window that counts.
	Floor decimal.Decimal
	// ZeroBelow: reported cost at or below this is "about zero".
	ZeroBelow decimal.Decimal
	// Lookback: settled windows starting earlier are not examined.
	Lookback time.Duration
}

// GrantExpiringUnusedParams tune grant-expiring-unused.
type GrantExpiringUnusedParams struct {
	// Horizon: grants expiring within it are examined (14 days).
	Horizon time.Duration
	// MinLoss is the least credit projected to expire unused.
	MinLoss decimal.Decimal
}

// RunwayLowParams tune runway-low.
type RunwayLowParams struct {
	// Horizon: the rule fires when the effective balance runs out sooner.
	Horizon time.Duration
}

// SourceBlindParams tune source-blind.
type SourceBlindParams struct {
	// Polls is how many polls in a row must fail (or miss a part).
	Polls int
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
		DrawdownOrder: DrawdownOrderParams{
			MinIdleCredit: decimal.NewFromInt(1), MinDrawn: decimal.NewFromInt(1), MinPolls: 2,
		},
		ChargeWithoutCredit: ChargeWithoutCreditParams{Window: 2 * time.Hour, Lookback: 30 * 24 * time.Hour},
		CreditsAccumulating: CreditsAccumulatingParams{
			Window: 24 * time.Hour, MinRecharges: 2, MinExcess: decimal.NewFromInt(10), MinRatio: decimal.NewFromInt(2),
		},
		SpendWithoutUsage: SpendWithoutUsageParams{
			Floor: decimal.NewFromInt(1), ZeroBelow: decimal.New(1, -2), Lookback: 7 * 24 * time.Hour,
		},
		GrantExpiringUnused: GrantExpiringUnusedParams{Horizon: 14 * 24 * time.Hour, MinLoss: decimal.NewFromInt(1)},
		RunwayLow:           RunwayLowParams{Horizon: 48 * time.Hour},
		SourceBlind:         SourceBlindParams{Polls: 3},
	}
}

// Engine evaluates a set of rules.
type Engine struct {
	rules      []Rule
	burnWindow time.Duration
}

// inhibits lists, per rule, the rules whose findings on the same account are
// its symptoms: while it fires they are folded into it, not sent beside it.
var inhibits = map[string][]string{
	"recharge-burst": {"recharge-above-threshold", "recharge-while-grant-credit", "credits-accumulating"},
}

// InhibitorsOf returns the rules whose firing alerts on the same account
// fold rule's findings into them.
func InhibitorsOf(rule string) []string {
	var out []string
	for inhibitor, symptoms := range inhibits {
		for _, s := range symptoms {
			if s == rule {
				out = append(out, inhibitor)
			}
		}
	}
	return out
}

// SourceRule is the rule that watches the source itself; it is the only one
// evaluated after a failed poll.
const SourceRule = "source-blind"

// New returns an engine running every rule with params p.
func New(p Params) *Engine {
	return &Engine{
		burnWindow: p.BurnWindow,
		rules: []Rule{
			RechargeBurst{P: p.RechargeBurst, BurnWindow: p.BurnWindow},
			RechargeWhileGrantCredit{P: p.RechargeWhileGrantCredit, BurnWindow: p.BurnWindow},
			RechargeAboveThreshold{P: p.RechargeAboveThreshold, BurnWindow: p.BurnWindow},
			PhantomBalance{P: p.PhantomBalance, BurnWindow: p.BurnWindow},
			DrawdownOrder{P: p.DrawdownOrder, BurnWindow: p.BurnWindow},
			ChargeWithoutCredit{P: p.ChargeWithoutCredit},
			CreditWithoutCharge{P: p.ChargeWithoutCredit},
			CreditsAccumulating{P: p.CreditsAccumulating, BurnWindow: p.BurnWindow},
			SpendWithoutUsage{P: p.SpendWithoutUsage},
			GrantExpiringUnused{P: p.GrantExpiringUnused, BurnWindow: p.BurnWindow},
			MonthlyRechargeCap{BurnWindow: p.BurnWindow},
			RunwayLow{P: p.RunwayLow, BurnWindow: p.BurnWindow},
			SourceBlind{P: p.SourceBlind},
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
// Symptoms of a finding that inhibits them are marked InhibitedBy.
func (e *Engine) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	return e.check(h, now, func(string) bool { return true })
}

// CheckSource runs only the rule that watches the source (after a failed
// poll, the other rules would judge stale data).
func (e *Engine) CheckSource(h *ledger.Ledger, now time.Time) []billing.Finding {
	return e.check(h, now, func(name string) bool { return name == SourceRule })
}

func (e *Engine) check(h *ledger.Ledger, now time.Time, run func(string) bool) []billing.Finding {
	var out []billing.Finding
	for _, r := range e.rules {
		if !run(r.Name()) {
			continue
		}
		for _, f := range r.Check(h, now) {
			f.Rule, f.Account, f.At = r.Name(), h.Account().Name, now
			out = append(out, f)
		}
	}
	for _, f := range out {
		for _, symptom := range inhibits[f.Rule] {
			for i := range out {
				if out[i].Rule == symptom {
					out[i].InhibitedBy = f.Rule
				}
			}
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
	return f
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
