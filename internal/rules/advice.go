package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/shopspring/decimal"
)

// shortRunway is the runway below which switching auto-recharge off needs a
// plan for topping up by hand.
const shortRunway = 72 * time.Hour

// disableAdvice recommends disabling auto-recharge and says whether that is
// safe: how long the effective balance lasts at the burn over burnWindow,
// when the next grant expires, and, when it does not last, what to change
// instead.
func disableAdvice(h *ledger.Ledger, now time.Time, burnWindow time.Duration) string {
	if !h.Account().AutoRecharge.Enabled {
		// Only a recharge the provider itself called automatic gets here.
		return "guardd's settings say auto-recharge is off for this account, but the provider recharged it automatically: " +
			"auto-recharge is on at the provider. Check its billing page, then correct auto_recharge in guardd's config. " +
			disableAdviceOn(h, now, burnWindow)
	}
	return disableAdviceOn(h, now, burnWindow)
}

// disableAdviceOn is disableAdvice for an account whose auto-recharge is on.
func disableAdviceOn(h *ledger.Ledger, now time.Time, burnWindow time.Duration) string {
	s := h.State(now, burnWindow)
	rw := s.Runway
	switch {
	case !s.EffectiveKnown:
		return "Disable auto-recharge, then check the billing page: guardd could not read the effective balance, so it cannot say how long it lasts."
	case !s.Effective.IsPositive():
		return fmt.Sprintf("Do not simply disable auto-recharge: the effective balance is %s, so requests will fail. "+
			"Lower the recharge amount or set a monthly limit at the provider, and ask support about the repeated charges.",
			s.Effective.Display())
	case !rw.Known:
		return fmt.Sprintf("Disable auto-recharge. Your effective balance is %s; guardd has less than an hour of history, "+
			"so it cannot yet say how long that lasts: check usage before relying on it.", s.Effective.Display()) + nextExpiry(h, now)
	case rw.Endless:
		return fmt.Sprintf("Disable auto-recharge: your effective balance of %s is not running down (nothing consumed over the last %s).",
			s.Effective.Display(), billing.Words(rw.Window)) + nextExpiry(h, now)
	case rw.Lasts < shortRunway:
		perDay := rw.BurnPerDay.Amount()
		week := roundUp(perDay.Mul(decimal.NewFromInt(7)), 5)
		month := roundUp(perDay.Mul(decimal.NewFromInt(31)), 10)
		c := s.Effective.Currency()
		return fmt.Sprintf("Disabling auto-recharge is not safe on its own: your effective balance of %s lasts only about %s at %s/day (until %s). "+
			"Instead lower the recharge amount to about %s (a week of use) or set a monthly limit of about %s (a month), "+
			"or disable it and top up by hand before then.",
			s.Effective.Display(), billing.Words(rw.Lasts), rw.BurnPerDay.Display(), rw.Until.UTC().Format("2006-01-02 15:04 UTC"),
			billing.NewMoney(week, c).Display(), billing.NewMoney(month, c).Display()) + nextExpiry(h, now)
	}
	return fmt.Sprintf("Disable auto-recharge: your effective balance of %s covers about %s at the burn of the last %s, %s/day (until %s).",
		s.Effective.Display(), billing.Words(rw.Lasts), billing.Words(rw.Window), rw.BurnPerDay.Display(), billing.Day(rw.Until)) +
		nextExpiry(h, now)
}

// nextExpiry names the next grant with credit left to expire, as a sentence
// to append, or "" when none expires.
func nextExpiry(h *ledger.Ledger, now time.Time) string {
	obs, _ := h.Current()
	if obs == nil || !obs.Has(billing.PartGrants) {
		return ""
	}
	var next *billing.Grant
	for i, g := range obs.Grants {
		if g.ExpiresAt.IsZero() || g.ExpiredAt(now) || !g.Remaining().IsPositive() {
			continue
		}
		if next == nil || g.ExpiresAt.Before(next.ExpiresAt) {
			next = &obs.Grants[i]
		}
	}
	if next == nil {
		return ""
	}
	return fmt.Sprintf(" The next grant to expire is %s (%s left) on %s.", next.ID, next.Remaining().Display(), billing.Day(next.ExpiresAt))
}

// roundUp rounds d up to a multiple of step, and to at least step.
func roundUp(d decimal.Decimal, step int64) decimal.Decimal {
	s := decimal.NewFromInt(step)
	r := d.Div(s).Ceil().Mul(s)
	if r.LessThan(s) {
		return s
	}
	return r
}

// countsAsAutoRecharge reports whether a recharge may have been made by
// auto-recharge: everything but purchases known or guessed to be manual.
func countsAsAutoRecharge(r *ledger.Recharge) bool {
	return r.Trigger != billing.TriggerManual
}

// rechargeEvidence describes one recharge as evidence.
func rechargeEvidence(r ledger.Recharge) billing.Evidence {
	what, ref := "recharge", r.Charge.ID
	if r.Charge.Origin == billing.ChargeInferred && r.GrantID != "" {
		// Provider jargon, said in full: the id is the grant's.
		what, ref = "recharge landed as credit grant", r.GrantID
	}
	trigger := string(r.Trigger)
	switch {
	case r.TriggerGuessed:
		trigger += " (guessed: " + r.TriggerWhy + ")"
	case r.Trigger == billing.TriggerUnknown:
		trigger = "trigger unknown"
	}
	return billing.Evidence{
		What:   what,
		Ref:    ref,
		At:     r.At,
		Amount: r.Charge.Amount,
		Note:   r.Basis + "; " + trigger,
		Source: r.Source,
		AsOf:   r.SeenAt,
	}
}

// sumCharged adds up what the recharges charged (tax included).
func sumCharged(rs []ledger.Recharge, c billing.Currency) billing.Money {
	total := decimal.Zero
	for _, r := range rs {
		total = total.Add(r.Charge.Amount.Amount())
	}
	return billing.NewMoney(total, c)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
