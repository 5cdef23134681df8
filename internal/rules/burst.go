package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
)

// RechargeBurst fires when Count or more recharges happen inside Window: the
// hourly auto-recharge loop users reported. Purchases known or guessed to be
// manual do not count.
type RechargeBurst struct {
	// Count recharges or more inside Window fire the rule.
	Count  setting.Count    `yaml:"count" min:"2"`
	Window setting.Duration `yaml:"window"`
	burn
}

func defaultRechargeBurst() *RechargeBurst {
	return &RechargeBurst{Count: setting.CountOf(3), Window: setting.DurationOf(6 * time.Hour)}
}

// History implements Rule.
func (r RechargeBurst) History() time.Duration { return r.Window.Duration }

// Name implements Rule.
func (RechargeBurst) Name() string { return "recharge-burst" }

// Check implements Rule.
func (r RechargeBurst) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if h.CountRecharges(now.Add(-r.Window.Duration), now, countsAsAutoRecharge) < r.Count.N {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityCritical, Entity: "recharges"}}
}

// Explain implements Rule.
func (r RechargeBurst) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	from := now.Add(-r.Window.Duration)
	var rs []ledger.Recharge
	for _, x := range h.Recharges(from, now) {
		if countsAsAutoRecharge(&x) {
			rs = append(rs, x)
		}
	}
	cur := h.Account().Currency
	summary := fmt.Sprintf("%s in %s, %s charged in all: auto-recharge is firing over and over.",
		plural(len(rs), "recharge", "recharges"), billing.Words(r.Window.Duration), sumCharged(rs, cur).Display())
	if start, ok := h.Latest(rs[0].At.Add(-time.Nanosecond)); ok && start.EffectiveKnown {
		if end, ok := h.Latest(now); ok && end.EffectiveKnown && end.Effective.GreaterThan(start.Effective) {
			summary += fmt.Sprintf(" Meanwhile the effective balance climbed from %s to %s: credit is piling up, not running out.",
				billing.NewMoney(start.Effective, cur).Display(), billing.NewMoney(end.Effective, cur).Display())
		}
	}
	ev := make([]billing.Evidence, len(rs))
	for i, x := range rs {
		ev[i] = rechargeEvidence(x)
	}
	f.Summary, f.Evidence, f.Recommendation = summary, ev, disableAdvice(h, now, r.burnWindow)
	return f
}

// Sees implements Rule: recharges are visible.
func (RechargeBurst) Sees(s billing.Sight) bool { return s.Recharges }
