// Package file is a source that serves a history file as if it were the
// provider: each poll returns the file's next observation.
package file

import (
	"context"
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
	next int
}

var _ poller.Source = (*Source)(nil)

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

// Fetch returns the next observation. Once all are served it reports the
// source as unavailable: a history that has run out is a blind guard, not an
// empty account.
func (s *Source) Fetch(ctx context.Context, _ time.Time) (billing.Observation, error) {
	if err := ctx.Err(); err != nil {
		return billing.Observation{}, fmt.Errorf("%w: %w", poller.ErrUnavailable, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= len(s.obs) {
		return billing.Observation{}, fmt.Errorf("%w: history %s has no observation left (served %d)",
			poller.ErrUnavailable, s.name, len(s.obs))
	}
	o := s.obs[s.next]
	s.next++
	return o, nil
}

// Resume skips the observations at or before after, so a guard that keeps
// state continues a history across processes (guardd check as a CronJob).
func (s *Source) Resume(after time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.next < len(s.obs) && !s.obs[s.next].At.After(after) {
		s.next++
	}
}
