package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// TimeLayout is how times appear in messages.
const TimeLayout = "2006-01-02 15:04 UTC"

// FormatTime renders t in UTC for people.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Title is the one-line headline of a notification: its Label and, for a
// repeat, since when it fires: "[CRITICAL] recharge-burst on acme-openai
// (still firing since 2026-10-14 03:00 UTC)".
func Title(n Notification) string {
	if since := n.Finding.FiringSince; n.Status == StatusFiring && !since.IsZero() {
		return Label(n) + " (still firing since " + FormatTime(since) + ")"
	}
	return Label(n)
}

// FiredAt is when f's alert started firing: when it was found, or, for a
// repeat, FiringSince.
func FiredAt(f billing.Finding) time.Time {
	if !f.FiringSince.IsZero() {
		return f.FiringSince
	}
	return f.At
}

// Label names a notification: "[CRITICAL] recharge-burst on acme-openai"
// or "[RESOLVED] ...".
func Label(n Notification) string {
	tag := strings.ToUpper(string(n.Finding.Severity))
	if n.Status == StatusResolved {
		tag = "RESOLVED"
	}
	return fmt.Sprintf("[%s] %s on %s", tag, n.Finding.Rule, n.Finding.Account)
}

// BalanceLine describes the account's real position: effective vs shown
// balance and the runway, with where and when the figures were observed.
func BalanceLine(s billing.AccountState) string {
	if !s.EffectiveKnown {
		return "Balance: unknown (no balance or grant data could be read)"
	}
	var b strings.Builder
	b.WriteString("Balance: effective ")
	b.WriteString(s.Effective.Display())
	if d := s.DerivedFrom; d != nil {
		fmt.Fprintf(&b, " (derived: the %s you read off the console at %s, plus receipts since, minus costs since; the provider shows none)",
			d.Amount.Display(), FormatTime(d.At))
	}
	if s.ShownKnown {
		if s.Shown.Amount().Equal(s.Effective.Amount()) {
			b.WriteString(" (the provider shows the same)")
		} else {
			fmt.Fprintf(&b, " (the provider shows %s)", s.Shown.Display())
		}
	}
	b.WriteString("; ")
	b.WriteString(RunwayText(s.Runway, s.Effective))
	fmt.Fprintf(&b, "; observed %s", FormatTime(s.ObservedAt))
	return b.String()
}

// RunwayText says how long a balance lasts, in words.
func RunwayText(r billing.Runway, effective billing.Money) string {
	switch {
	case !r.Known:
		return "runway unknown (less than an hour of consumption history)"
	case r.Endless:
		return fmt.Sprintf("runway open-ended (nothing consumed over the last %s)", billing.Words(r.Window))
	case !effective.IsPositive():
		return "runway none: the effective balance is used up"
	}
	burn := "burn over the last " + billing.Words(r.Window)
	if r.FromCosts {
		burn = "burn from the provider's cost report over " + billing.Words(r.Window)
	}
	return fmt.Sprintf("runway %s at %s/day (%s), until %s",
		billing.Words(r.Lasts), r.BurnPerDay.Display(), burn, billing.Day(r.Until))
}

// EvidenceLine renders one piece of evidence on one line.
func EvidenceLine(e billing.Evidence) string {
	var b strings.Builder
	b.WriteString(FormatTime(e.At))
	b.WriteString("  ")
	b.WriteString(e.What)
	if e.Ref != "" {
		b.WriteString(" ")
		b.WriteString(e.Ref)
	}
	if e.Amount.Currency() != "" || !e.Amount.IsZero() {
		b.WriteString("  ")
		b.WriteString(e.Amount.Display())
	}
	if e.Note != "" {
		b.WriteString("  ")
		b.WriteString(e.Note)
	}
	if e.Source != "" {
		b.WriteString("  [source: ")
		b.WriteString(e.Source)
		if !e.AsOf.IsZero() && !e.AsOf.Equal(e.At) {
			b.WriteString(", as of ")
			b.WriteString(FormatTime(e.AsOf))
		}
		b.WriteString("]")
	}
	return b.String()
}

// Text renders a notification as the plain text guardd prints and uses as
// the fallback text of chat messages.
func Text(n Notification) string {
	f := n.Finding
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n", Title(n), FormatTime(n.At))
	if n.Status == StatusResolved {
		fmt.Fprintf(&b, "Resolved: %s no longer holds (it fired at %s: %s)\n", f.Rule, FormatTime(FiredAt(f)), f.Summary)
		b.WriteString(BalanceLine(f.State))
		fmt.Fprintf(&b, "\nFingerprint: %s\n", f.Fingerprint())
		return b.String()
	}
	b.WriteString(f.Summary)
	b.WriteString("\n")
	// A digest across accounts has no one balance to show.
	if !f.State.ObservedAt.IsZero() || f.State.EffectiveKnown {
		b.WriteString(BalanceLine(f.State))
		b.WriteString("\n")
	}
	if len(f.Evidence) > 0 {
		b.WriteString("Evidence:\n")
		for _, e := range f.Evidence {
			b.WriteString("  - ")
			b.WriteString(EvidenceLine(e))
			b.WriteString("\n")
		}
	}
	if len(f.Folded) > 0 {
		b.WriteString("Folded into this alert:\n")
		for _, s := range f.Folded {
			b.WriteString("  - ")
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	if f.Recommendation != "" {
		b.WriteString("Recommendation: ")
		b.WriteString(f.Recommendation)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Fingerprint: %s\n", f.Fingerprint())
	return b.String()
}
