package alert

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/guardd/guardd/internal/billing"
)

// DigestRule is the rule name of a digest notification: a synthetic finding
// that stands for several notifications sent as one message.
const DigestRule = "digest"

// Pacing limits the messages a receiver gets one by one: at most Max new
// messages per Per; the rest of a burst goes out folded into one digest.
// Threaded repeats and resolutions do not count. Max 0 turns it off.
type Pacing struct {
	Max int
	Per time.Duration
}

// On reports whether pacing applies.
func (p Pacing) On() bool { return p.Max > 0 && p.Per > 0 }

// maxFoldedLine bounds one line of a digest's Folded list, in characters.
const maxFoldedLine = 300

// Digest folds ns into one firing notification at now: rule DigestRule, the
// highest severity among them, their account when they share one (with the
// latest account state among them) and otherwise "several accounts", one
// Folded line per notification ("[CRITICAL] recharge-burst on acme:
// summary"), and summary as its summary. The outbox sends it for a burst
// beyond a receiver's pacing and for the daily digest of info findings.
func Digest(ns []Notification, summary string, now time.Time) Notification {
	f := billing.Finding{Rule: DigestRule, Severity: billing.SeverityInfo, At: now}
	var fps []string
	accounts := map[string]bool{}
	var latest billing.AccountState
	for _, n := range ns {
		if n.Finding.Severity.Rank() > f.Severity.Rank() {
			f.Severity = n.Finding.Severity
		}
		accounts[n.Finding.Account] = true
		if s := n.Finding.State; !s.ObservedAt.Before(latest.ObservedAt) {
			latest = s
		}
		fps = append(fps, string(n.Status)+":"+n.Finding.Fingerprint())
		line := Title(n)
		if n.Finding.Summary != "" {
			line += ": " + n.Finding.Summary
		}
		if n.Status == StatusResolved {
			line = Title(n) + ": no longer holds"
		}
		f.Folded = append(f.Folded, cut(line, maxFoldedLine))
	}
	if len(accounts) == 1 {
		f.Account = ns[0].Finding.Account
		f.State = latest
	} else {
		f.Account = "several accounts"
	}
	slices.Sort(fps)
	f.Entity = fmt.Sprint(fps)
	f.Summary = summary
	return Notification{Status: StatusFiring, Finding: f, At: now}
}

func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}
