package billing

import (
	"fmt"
	"time"
)

// Words renders d for people in its largest sensible unit: "12 days",
// "5 hours", "40 minutes". Rules and renderers share it so a runway reads the
// same in a recommendation and in a message.
func Words(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return Count(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return Count(int(d/time.Hour), "hour")
	case d >= 2*time.Minute:
		return Count(int(d/time.Minute), "minute")
	}
	return d.Round(time.Second).String()
}

// Count renders n of unit for people: "1 receiver", "3 receivers".
func Count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Day renders the UTC date of t, "2026-11-21".
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }
