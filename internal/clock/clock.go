// Package clock lets loops take time from an injectable source. The zero
// value of Clock is the real clock, so production code needs no setup.
package clock

import "time"

// Clock tells the time.
type Clock struct {
	// NowFunc returns the current time; nil means time.Now.
	NowFunc func() time.Time
}

// Now returns the current time in UTC.
func (c Clock) Now() time.Time {
	if c.NowFunc != nil {
		return c.NowFunc().UTC()
	}
	return time.Now().UTC()
}

// Fixed returns a clock stopped at t.
func Fixed(t time.Time) Clock { return Clock{NowFunc: func() time.Time { return t }} }
