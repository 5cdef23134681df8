package delta

import "bytes"

// Form is how an observation is stored.
type Form int

const (
	// Whole: the full text, on no base.
	Whole Form = iota
	// OnCurrent: a delta against the account's current base (the base of
	// its newest stored observation).
	OnCurrent
	// OnNew: the full text becomes a new base of the account, stored as a
	// base, and the observation a delta against it.
	OnNew
)

func (f Form) String() string {
	switch f {
	case Whole:
		return "whole"
	case OnCurrent:
		return "on the current base"
	case OnNew:
		return "on a new base"
	}
	return "unknown form"
}

// Drift is how much longer than the delta against the previous
// observation the delta against the current base may grow, as a fraction
// of the full text (1/Drift), before a new base is started: a new base
// costs one full text, a drifted one costs the difference at every poll.
const Drift = 32

// Choose returns how to store an observation whose full text is full, and
// what to store: the full text (Whole), or the delta against the current
// base (OnCurrent) or against full itself as a new base (OnNew).
//
// prev is the account's newest stored observation as stored (nil when it
// has none); cur is the base it is a delta against, nil when it is stored
// whole. A backend that cannot use the newest observation's base (missing,
// of another account, damaged) stores the observation whole without
// asking: reading the rows that refer to that base reports it.
//
// The policy: an observation is stored on the current base while that
// delta is shorter than the full text and has not drifted from the delta
// against the previous observation by more than a Drift-th of the full
// text (a grant bought since the base, a new day's cost bucket).
// Otherwise, when the observation is close to the previous one (its delta
// against it is at most half the full text), it becomes a new base; when
// it is not, it is stored whole. So an account whose observations change
// all over (a DeepSeek balance) keeps whole texts, a poll that could not
// read a part keeps the base, and a base costs one full text every few
// days at most. A delta is returned only when it rebuilds full byte for
// byte; any text Diff cannot read is stored whole.
func Choose(full, prev []byte, cur *Base) (Form, []byte) {
	if prev == nil {
		return Whole, full
	}
	var onBase []byte // the delta against the current base
	if cur != nil {
		var err error
		if onBase, err = Diff(full, cur); err != nil {
			return Whole, full
		}
		if len(onBase) <= len(full)/Drift {
			// Short enough whatever the delta against the previous one.
			return onCurrent(onBase, full, cur)
		}
		if prev, err = Patch(nil, prev, cur); err != nil {
			return Whole, full
		}
	}
	var onPrev []byte // the delta against the previous observation
	if p, err := NewBase(prev); err == nil {
		onPrev, _ = Diff(full, p)
	}
	switch {
	case onBase != nil && len(onBase) < len(full) &&
		(onPrev == nil || len(onBase)-len(onPrev) <= len(full)/Drift):
		return onCurrent(onBase, full, cur)
	case onPrev == nil || len(onPrev)*2 > len(full):
		return Whole, full
	}
	// The observation is close to the previous one, and the base (if any)
	// has drifted away from both: start a new base.
	nb, err := NewBase(full)
	if err != nil {
		return Whole, full
	}
	d, err := Diff(full, nb)
	if err != nil || !Rebuilds(d, full, nb) {
		return Whole, full
	}
	return OnNew, d
}

// onCurrent returns delta d against the current base cur, or full whole
// when d does not rebuild it.
func onCurrent(d, full []byte, cur *Base) (Form, []byte) {
	if !Rebuilds(d, full, cur) {
		return Whole, full
	}
	return OnCurrent, d
}

// Rebuilds reports whether delta d against b rebuilds full byte for byte.
func Rebuilds(d, full []byte, b *Base) bool {
	back, err := Patch(make([]byte, 0, len(full)), d, b)
	return err == nil && bytes.Equal(back, full)
}
