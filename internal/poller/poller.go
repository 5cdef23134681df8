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

// Instant is implemented by sources that answer from memory and never
// wait (the file source): their Fetch gets no timeout of its own, which
// would cost a timer per poll of a replay.
type Instant interface {
	Source
	Instant()
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
	// Group names the targets polled under one cap (Poller.PerGroup): the
	// accounts of one provider. "" is a group of its own.
	Group string
}

// Result is the outcome of polling one target.
type Result struct {
	Account     string
	Observation billing.Observation
	Err         error
	Took        time.Duration
}

// DefaultConcurrency is the number of fetches in flight when
// Poller.Concurrency is 0.
const DefaultConcurrency = 4

// Poller polls targets concurrently.
type Poller struct {
	// Timeout bounds one Fetch; 0 means one minute.
	Timeout time.Duration
	// Concurrency bounds the fetches in flight; 0 means DefaultConcurrency.
	Concurrency int
	// PerGroup bounds the fetches in flight of each group named
	// (Target.Group), so that a provider's rate limit is respected while
	// the targets of other groups proceed. A group not named, or bounded
	// by 0, is bounded by Concurrency alone.
	PerGroup map[string]int
}

// Poll fetches every target at now and returns the results in target order.
// It returns when every fetch has finished or timed out.
func (p Poller) Poll(ctx context.Context, targets []Target, now time.Time) []Result {
	results := make([]Result, len(targets))
	p.Each(ctx, targets, now, func(i int, r Result) { results[i] = r })
	return results
}

// Each fetches every target at now, as Poll does, and calls done with each
// target's index and result as soon as its fetch ends: one call at a time,
// on the caller's goroutine, in the order the fetches end, while the others
// are still in flight. Fetches start in target order, each as soon as
// Concurrency and its group's bound allow. Once ctx ends, the targets not
// yet fetched are not: their result is ErrUnavailable with ctx's error. It
// returns when done has returned for every target.
func (p Poller) Each(ctx context.Context, targets []Target, now time.Time, done func(i int, r Result)) {
	timeout, conc := p.Timeout, p.Concurrency
	if timeout <= 0 {
		timeout = time.Minute
	}
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	if len(targets) == 1 {
		// Nothing to overlap: fetch on the caller's goroutine (a replay
		// polls its one account once per observation).
		done(0, fetch(ctx, targets[0], now, timeout))
		return
	}
	q := newQueue(ctx, targets, p.PerGroup)
	defer q.stop()
	type ended struct {
		i int
		r Result
	}
	// Room for every result: a fetch never waits for done.
	out := make(chan ended, len(targets))
	var wg sync.WaitGroup
	for range min(conc, len(targets)) {
		wg.Go(func() {
			for {
				i, ok := q.next()
				if !ok {
					return
				}
				r := fetch(ctx, targets[i], now, timeout)
				q.release(i)
				out <- ended{i, r}
			}
		})
	}
	go func() { wg.Wait(); close(out) }()
	for e := range out {
		done(e.i, e.r)
	}
}

// fetch reads one target, unless ctx has ended.
func fetch(ctx context.Context, t Target, now time.Time, timeout time.Duration) Result {
	if err := ctx.Err(); err != nil {
		return Result{Account: t.Account, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	fctx := ctx
	if _, instant := t.Source.(Instant); !instant {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	o, err := t.Source.Fetch(fctx, now)
	r := Result{Account: t.Account, Observation: o, Err: err, Took: time.Since(start)}
	if err == nil {
		r.Observation.Account = t.Account
	}
	return r
}

// queue hands out the targets to fetch, in target order but for those whose
// group is at its bound.
type queue struct {
	ctx    context.Context
	mu     sync.Mutex
	cond   *sync.Cond
	groups []*group // in the order of their first target
	of     []*group // by target index
	left   int
	stop   func() bool
}

// group is the targets of one group not yet handed out, first first, and
// how many of its fetches are in flight.
type group struct {
	pending  []int
	inFlight int
	bound    int // 0: none
}

func newQueue(ctx context.Context, targets []Target, bounds map[string]int) *queue {
	q := &queue{ctx: ctx, of: make([]*group, len(targets)), left: len(targets)}
	q.cond = sync.NewCond(&q.mu)
	byName := make(map[string]*group)
	for i, t := range targets {
		g := byName[t.Group]
		if g == nil {
			g = &group{bound: bounds[t.Group]}
			byName[t.Group] = g
			q.groups = append(q.groups, g)
		}
		g.pending = append(g.pending, i)
		q.of[i] = g
	}
	// An ended ctx lifts the bounds: nothing more is fetched.
	q.stop = context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	return q
}

// next returns the index of the next target to fetch, waiting while every
// group with targets left is at its bound; ok is false when none is left.
func (q *queue) next() (i int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.left > 0 {
		var pick *group
		for _, g := range q.groups {
			room := g.bound <= 0 || g.inFlight < g.bound || q.ctx.Err() != nil
			if len(g.pending) > 0 && room && (pick == nil || g.pending[0] < pick.pending[0]) {
				pick = g
			}
		}
		if pick == nil {
			q.cond.Wait()
			continue
		}
		i, pick.pending = pick.pending[0], pick.pending[1:]
		pick.inFlight++
		q.left--
		return i, true
	}
	return 0, false
}

// release says that target i's fetch has ended.
func (q *queue) release(i int) {
	q.mu.Lock()
	q.of[i].inFlight--
	q.mu.Unlock()
	q.cond.Broadcast()
}
