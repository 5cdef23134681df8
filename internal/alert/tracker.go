package alert

import (
	"sort"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// Tracker is the in-memory alert lifecycle of one process: a fingerprint is
// notified once when it starts firing and once when it stops. It does not
// survive a restart.
type Tracker struct {
	active map[string]billing.Finding // fingerprint → the finding as it fired
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{active: make(map[string]billing.Finding)} }

// Update takes every finding that holds for account at now, as the rules'
// Check returns them (identified, not yet explained), and returns the
// notifications due: firing for fingerprints not active before, resolved
// for the account's active fingerprints that no longer hold.
//
// explain completes a finding; it is called only for findings that start
// firing, so a condition that holds for days is not re-rendered on every
// poll. A finding inhibited by another (InhibitedBy set) is not notified
// while the inhibition lasts; it fires when the inhibition ends if it still
// holds. judged says which rules were evaluated (nil: all): after a failed
// poll only the source rule is, and the others' alerts must not resolve on
// data nobody could read. state is the account's current position, shown on
// resolved notifications.
func (t *Tracker) Update(account string, holding []billing.Finding, explain func(billing.Finding) billing.Finding,
	judged func(rule string) bool, state billing.AccountState, now time.Time) []Notification {
	var out []Notification
	held := make(map[string]bool, len(holding))
	for _, f := range holding {
		fp := f.Fingerprint()
		held[fp] = true
		if _, ok := t.active[fp]; ok || f.InhibitedBy != "" {
			continue
		}
		f = explain(f)
		t.active[fp] = f
		out = append(out, Notification{Status: StatusFiring, Finding: f, At: now})
	}
	var gone []string
	for fp, f := range t.active {
		if f.Account == account && !held[fp] && (judged == nil || judged(f.Rule)) {
			gone = append(gone, fp)
		}
	}
	sort.Slice(gone, func(i, j int) bool {
		a, b := t.active[gone[i]], t.active[gone[j]]
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Entity < b.Entity
	})
	for _, fp := range gone {
		f := t.active[fp]
		delete(t.active, fp)
		f.State = state
		out = append(out, Notification{Status: StatusResolved, Finding: f, At: now})
	}
	return out
}

// Active returns the number of firing fingerprints.
func (t *Tracker) Active() int { return len(t.active) }
