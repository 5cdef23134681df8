// Package file is a source that serves a history file as if it were the
// provider: each poll returns the file's next observation. Looping, it
// starts again after the last one, later in time, so that a demo account
// never runs dry.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/poller"
)

// Source serves a history file's observations, one per Fetch.
type Source struct {
	mu   sync.Mutex
	name string
	obs  []billing.Observation
	// next counts the observations served, over every lap.
	next int
	// period is how much later each lap is than the one before; zero when
	// the source does not loop.
	period time.Duration
	// first holds the IDs of the grants and charges of the first
	// observation, which keep their IDs in every lap.
	first map[string]bool
}

var (
	_ poller.Source  = (*Source)(nil)
	_ poller.Instant = (*Source)(nil)
)

// Open reads the history file at path.
func Open(path string) (*Source, *history.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	h, err := history.Decode(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read history %s: %w", path, err)
	}
	return New(path, h.Observations), h, nil
}

// New serves obs; name identifies the file in errors.
func New(name string, obs []billing.Observation) *Source {
	return &Source{name: name, obs: obs}
}

// Loop makes the source start again after the last observation, for ever.
// Each lap is the history moved later by its period: the time from its
// first observation to its last, plus the interval before the last one,
// rounded up to whole days (cost buckets stay days, times of day stay as
// recorded); every time in an observation moves, so time only goes
// forward. What the history adds after its first observation (a new
// grant, a new charge) is new again in each lap: its ID gets the lap's
// suffix ("cg_04-lap2"); the grants and charges of the first observation
// keep theirs. It needs two observations or more.
func (s *Source) Loop() error {
	if len(s.obs) < 2 {
		return errors.New("a looping history needs two observations or more")
	}
	first, last := s.obs[0].At, s.obs[len(s.obs)-1].At
	span := last.Sub(first) + last.Sub(s.obs[len(s.obs)-2].At)
	const day = 24 * time.Hour
	s.period = (span + day - 1) / day * day
	s.first = make(map[string]bool)
	for _, g := range s.obs[0].Grants {
		s.first["g:"+g.ID] = true
	}
	for _, c := range s.obs[0].Charges {
		s.first["c:"+c.ID] = true
	}
	return nil
}

// Fetch returns the next observation. Once all are served, a source that
// does not loop reports itself unavailable: a history that has run out is a
// blind guard, not an empty account.
func (s *Source) Fetch(ctx context.Context, _ time.Time) (billing.Observation, error) {
	if err := ctx.Err(); err != nil {
		return billing.Observation{}, fmt.Errorf("%w: %w", poller.ErrUnavailable, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.period == 0 && s.next >= len(s.obs) {
		return billing.Observation{}, fmt.Errorf("%w: history %s has no observation left (served %d)",
			poller.ErrUnavailable, s.name, len(s.obs))
	}
	lap, i := s.next/len(s.obs), s.next%len(s.obs)
	s.next++
	return s.at(lap, i), nil
}

// Instant implements poller.Instant: a history is read from memory.
func (s *Source) Instant() {}

// Left says how many observations are left before the history ends, or,
// looping, before it starts again.
func (s *Source) Left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.period == 0 {
		return max(len(s.obs)-s.next, 0)
	}
	return len(s.obs) - s.next%len(s.obs)
}

// Resume skips the observations at or before after, so a guard that keeps
// state continues a history across processes (guardd check as a CronJob).
func (s *Source) Resume(after time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.period == 0 {
		for s.next < len(s.obs) && !s.obs[s.next].At.After(after) {
			s.next++
		}
		return
	}
	lap := 0
	if d := after.Sub(s.obs[0].At); d > 0 {
		lap = int(d / s.period)
	}
	s.next = lap * len(s.obs)
	for !s.at(lap, s.next%len(s.obs)).At.After(after) {
		s.next++
		lap = s.next / len(s.obs)
	}
}

// at returns observation i of lap lap (from 0): moved lap periods later,
// with the lap's IDs.
func (s *Source) at(lap, i int) billing.Observation {
	o := s.obs[i]
	if lap == 0 {
		return o
	}
	d := time.Duration(lap) * s.period
	id := func(kind, id string) string {
		if s.first[kind+id] {
			return id
		}
		return fmt.Sprintf("%s-lap%d", id, lap+1)
	}
	o.At = o.At.Add(d)
	parts := make(map[billing.Part]billing.PartStatus, len(o.Parts))
	for p, st := range o.Parts {
		st.AsOf = later(st.AsOf, d)
		parts[p] = st
	}
	o.Parts = parts
	o.Grants = append([]billing.Grant(nil), o.Grants...)
	for j := range o.Grants {
		g := &o.Grants[j]
		g.ID = id("g:", g.ID)
		g.EffectiveAt, g.ExpiresAt, g.FirstSeen = later(g.EffectiveAt, d), later(g.ExpiresAt, d), later(g.FirstSeen, d)
	}
	o.Charges = append([]billing.Charge(nil), o.Charges...)
	for j := range o.Charges {
		c := &o.Charges[j]
		c.ID, c.PaidAt = id("c:", c.ID), later(c.PaidAt, d)
	}
	o.Costs = append([]billing.CostBucket(nil), o.Costs...)
	for j := range o.Costs {
		o.Costs[j].Start, o.Costs[j].End = o.Costs[j].Start.Add(d), o.Costs[j].End.Add(d)
	}
	return o
}

// later moves t by d; a zero time (none) stays zero.
func later(t time.Time, d time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(d)
}
