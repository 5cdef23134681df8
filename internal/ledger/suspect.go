package ledger

import (
	"fmt"

	"github.com/guardd/guardd/internal/billing"
)

// suspicion is why an observation departs implausibly from the last one
// taken, and which parts did.
type suspicion struct {
	why   string
	parts []billing.Part
}

// heldObs is a suspect observation waiting for the next poll.
type heldObs struct {
	o billing.Observation
	suspicion
}

// strip returns the held observation without the parts that departed,
// marked unavailable: the next poll did not confirm them.
func (h *heldObs) strip() billing.Observation {
	o := h.o
	o.Parts = make(map[billing.Part]billing.PartStatus, len(h.o.Parts))
	for p, st := range h.o.Parts {
		o.Parts[p] = st
	}
	for _, p := range h.parts {
		st := o.Parts[p]
		st.Unavailable = "suspect reading, not confirmed by the next poll: " + h.why
		o.Parts[p] = st
		switch p {
		case billing.PartBalance:
			o.Balance = billing.Balance{}
		case billing.PartGrants:
			o.Grants = nil
		}
	}
	return o
}

// Held reports whether the last observation appended is held as suspect,
// and why: no rule should judge the account on it until the next
// observation confirms it or shows it was a glitch.
func (l *Ledger) Held() (why string, held bool) {
	if l.held == nil {
		return "", false
	}
	return l.held.why, true
}

// suspect says whether o departs implausibly from the last observation
// taken: a balance, or its granted or paid part, that falls to exactly
// zero from above it, or a grant list that comes back empty where there
// were grants. Providers answer that way for a poll during maintenance or
// after a cache miss; a real drop stays at the next poll.
func (l *Ledger) suspect(o *billing.Observation) suspicion {
	cur := l.cur
	if cur == nil {
		return suspicion{}
	}
	var s suspicion
	add := func(p billing.Part, format string, args ...any) {
		if s.why != "" {
			s.why += "; "
		}
		s.why += fmt.Sprintf(format, args...)
		s.parts = append(s.parts, p)
	}
	if cur.Has(billing.PartBalance) && o.Has(billing.PartBalance) {
		was, is := cur.Balance, o.Balance
		switch {
		case was.Shown.IsPositive() && is.Shown.IsZero():
			add(billing.PartBalance, "the balance read %s after %s", is.Shown.Display(), was.Shown.Display())
		case was.HasSplit && is.HasSplit && was.Paid.IsPositive() && is.Paid.IsZero():
			add(billing.PartBalance, "the paid balance read %s after %s", is.Paid.Display(), was.Paid.Display())
		case was.HasSplit && is.HasSplit && was.Granted.IsPositive() && is.Granted.IsZero():
			add(billing.PartBalance, "the granted balance read %s after %s", is.Granted.Display(), was.Granted.Display())
		}
	}
	if cur.Has(billing.PartGrants) && o.Has(billing.PartGrants) && len(cur.Grants) > 0 && len(o.Grants) == 0 {
		add(billing.PartGrants, "the grant list came back empty after %d grants", len(cur.Grants))
	}
	return s
}
