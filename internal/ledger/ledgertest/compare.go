package ledgertest

import (
	"fmt"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// The text forms below show every field exactly (amounts unrounded, times
// to the nanosecond, in UTC), so that two ledgers' answers are compared as
// text and a difference reads as one.

// StateText renders an account state exactly.
func StateText(s billing.AccountState) string {
	derived := "none"
	if a := s.DerivedFrom; a != nil {
		derived = a.Amount.Exact() + "@" + timeText(a.At)
	}
	return fmt.Sprintf("effective=%s/%v derived=%s shown=%s/%v runway=%s observed=%s", money(s.Effective), s.EffectiveKnown,
		derived, money(s.Shown), s.ShownKnown, RunwayText(s.Runway), timeText(s.ObservedAt))
}

// RunwayText renders a runway exactly.
func RunwayText(r billing.Runway) string {
	return fmt.Sprintf("{known=%v burn=%s window=%s costs=%v endless=%v lasts=%s until=%s}", r.Known, money(r.BurnPerDay),
		r.Window, r.FromCosts, r.Endless, r.Lasts, timeText(r.Until))
}

// FindingText renders a finding exactly, its evidence and state included.
func FindingText(f billing.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s at %s: %q\n  recommendation %q\n  inhibited by %q folded %q since %s\n  state %s\n",
		f.Rule, f.Account, f.Entity, f.Severity, timeText(f.At), f.Summary, f.Recommendation, f.InhibitedBy, f.Folded,
		timeText(f.FiringSince), StateText(f.State))
	for _, e := range f.Evidence {
		fmt.Fprintf(&b, "  evidence %s %s %s %s %q %s %s\n", e.What, e.Ref, timeText(e.At), money(e.Amount), e.Note, e.Source, timeText(e.AsOf))
	}
	return b.String()
}

func money(m billing.Money) string { return m.Exact() + string(m.Currency()) }

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Diff shows the lines of got and want that differ, up to a few thousand
// characters.
func Diff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)) && b.Len() < 4000; i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d\n  got:  %s\n  want: %s\n", i+1, gl, wl)
		}
	}
	return b.String()
}
