// Package poller reads accounts from their sources. A Source fetches one
// observation of one account; the Poller polls many accounts at once, bounded
// and with a timeout each, so one slow provider never holds up the others.
package poller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"go.uber.org/zap"
)

// Errors a Source wraps so callers can tell blindness from bad data.
var (
	// ErrUnavailable: the data could not be reached (network, auth, outage,
	// nothing left to read). The guard is blind, not the balance zero.
	ErrUnavailable = errors.New("data unavailable")
	// ErrInvalid: the provider answered with something guardd cannot trust
	// (an HTML page, truncated JSON, a negative or NaN amount).
	ErrInvalid = errors.New("invalid response")
	// ErrKeyRefused: the provider refused the key (wrong, expired or of the
	// wrong kind). It comes with ErrUnavailable (see KeyRefused).
	ErrKeyRefused = errors.New("key refused")
)

// KeyRefused is an error that reads "data unavailable: " and msg, and is
// both ErrUnavailable and ErrKeyRefused.
func KeyRefused(msg string) error { return &keyRefused{msg: msg} }

type keyRefused struct{ msg string }

func (e *keyRefused) Error() string   { return ErrUnavailable.Error() + ": " + e.msg }
func (e *keyRefused) Unwrap() []error { return []error{ErrUnavailable, ErrKeyRefused} }

// Source reads one account.
type Source interface {
	// Fetch reads the account once, at now. When only some parts could be
	// read it returns the observation with the other parts marked
	// Unavailable and a nil error. An error means nothing usable was read;
	// it wraps ErrUnavailable or ErrInvalid. A failed read is never turned
	// into a zero balance.
	Fetch(ctx context.Context, now time.Time) (billing.Observation, error)
}

// LogSetter is implemented by sources that log what a poll passes over
// without failing a part (an OpenAI cost result without an amount). The
// guard gives each its logger, naming the account, before the first poll.
type LogSetter interface {
	SetLogger(*zap.Logger)
}

// Target is one account to poll.
type Target struct {
	Account string
	Source  Source
}

// Result is the outcome of polling one target.
type Result struct {
	Account     string
	Observation billing.Observation
	Err         error
	Took        time.Duration
}

// Poller polls targets concurrently.
type Poller struct {
	// Timeout bounds one Fetch; 0 means one minute.
	Timeout time.Duration
	// Concurrency bounds the fetches in flight; 0 means 4.
	Concurrency int
}

// Poll fetches every target at now and returns the results in target order.
// It returns when every fetch has finished or timed out.
func (p Poller) Poll(ctx context.Context, targets []Target, now time.Time) []Result {
	timeout, conc := p.Timeout, p.Concurrency
	if timeout <= 0 {
		timeout = time.Minute
	}
	if conc <= 0 {
		conc = 4
	}
	results := make([]Result, len(targets))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result{Account: t.Account, Err: fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())}
				return
			}
			defer func() { <-sem }()
			fctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			o, err := t.Source.Fetch(fctx, now)
			results[i] = Result{Account: t.Account, Observation: o, Err: err, Took: time.Since(start)}
			if err == nil {
				results[i].Observation.Account = t.Account
			}
		}()
	}
	wg.Wait()
	return results
}
