// Package sourcetest is the contract every poller.Source must keep, as a
// test suite. Run it against each source with a factory that builds the
// source in front of a healthy fake (package pollertest):
//
//   - a healthy poll reads the parts the source promises, each with its
//     endpoint (never a key) and time;
//   - a cancelled or expiring context is honoured and reported as
//     poller.ErrUnavailable;
//   - each fault maps to ErrUnavailable (401, 403, 429, 500, slow) or
//     ErrInvalid (HTML, garbage, truncated JSON, an endless body), and a
//     failed poll returns no observation, so never a zero balance;
//   - a 401 or 403 names the key refused, its config field and the fix;
//   - a 429 is retried after the Retry-After the fake asked for, and a
//     transient 500 is retried, within the same poll;
//   - no credential appears in any error or observation.
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/pollertest"
)

// Subject is a source under test and the controls of the fake behind it.
type Subject struct {
	Source poller.Source
	// Now is the time to poll at.
	Now time.Time
	// Reads lists the parts a healthy poll reads.
	Reads []billing.Part
	// Fault makes the fake's next n answers on every endpoint misbehave
	// with f (n 0: until changed). Nil for a source with no fake (the file
	// source): the fault cases are skipped.
	Fault func(f pollertest.Fault, n int)
	// Secrets are the credentials the source holds.
	Secrets []string
	// Waits returns the back-off waits the source asked for so far (see
	// HTTP); nil if not tracked.
	Waits func() []time.Duration
}

// Factory builds a fresh subject for each case.
type Factory func(t *testing.T) Subject

// HTTP returns client options for sources under test: short timeouts, and a
// Wait that records each back-off instead of sleeping, with the function
// that returns the waits recorded.
func HTTP() (httpx.Options, func() []time.Duration) {
	var mu sync.Mutex
	var waits []time.Duration
	o := httpx.Options{
		Timeout: 5 * time.Second,
		Wait: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return ctx.Err()
		},
	}
	return o, func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), waits...)
	}
}

// Run runs the contract suite.
func Run(t *testing.T, newSubject Factory) {
	t.Run("healthy poll reads every promised part", func(t *testing.T) {
		s := newSubject(t)
		o, err := s.Source.Fetch(context.Background(), s.Now)
		if err != nil {
			t.Fatalf("Fetch: got error %v, want none", err)
		}
		checkRead(t, s, o)
		noSecret(t, s, "observation", fmt.Sprintf("%+v", o))
	})

	t.Run("consecutive polls both read", func(t *testing.T) {
		s := newSubject(t)
		for i := range 2 {
			o, err := s.Source.Fetch(context.Background(), s.Now.Add(time.Duration(i)*time.Hour))
			if err != nil {
				t.Fatalf("Fetch %d: got error %v, want none", i+1, err)
			}
			checkRead(t, s, o)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		s := newSubject(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		o, err := s.Source.Fetch(ctx, s.Now)
		checkFailed(t, s, o, err, poller.ErrUnavailable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch error %q: want it to wrap context.Canceled", err)
		}
	})

	t.Run("context ends during a slow answer", func(t *testing.T) {
		s := newSubject(t)
		if s.Fault == nil {
			t.Skip("no fake to slow down")
		}
		s.Fault(pollertest.Slow, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		o, err := s.Source.Fetch(ctx, s.Now)
		checkFailed(t, s, o, err, poller.ErrUnavailable)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Fetch error %q: want it to wrap context.DeadlineExceeded", err)
		}
	})

	faults := []struct {
		fault pollertest.Fault
		want  error
	}{
		{pollertest.Unauthorized, poller.ErrUnavailable},
		{pollertest.Forbidden, poller.ErrUnavailable},
		{pollertest.RateLimited, poller.ErrUnavailable},
		{pollertest.ServerError, poller.ErrUnavailable},
		{pollertest.HTML, poller.ErrInvalid},
		{pollertest.Garbage, poller.ErrInvalid},
		{pollertest.Truncated, poller.ErrInvalid},
		{pollertest.Endless, poller.ErrInvalid},
	}
	for _, tc := range faults {
		t.Run("fault "+string(tc.fault), func(t *testing.T) {
			s := newSubject(t)
			if s.Fault == nil {
				t.Skip("no fake to break")
			}
			s.Fault(tc.fault, 0)
			o, err := s.Source.Fetch(context.Background(), s.Now)
			checkFailed(t, s, o, err, tc.want)
			if refused := tc.fault == pollertest.Unauthorized || tc.fault == pollertest.Forbidden; refused &&
				(!strings.Contains(err.Error(), "was refused. Fix: give ") || !strings.Contains(err.Error(), "_key)")) {
				t.Errorf("Fetch error %q: want it to name the refused key, its config field and the fix", err)
			}
			if tc.fault == pollertest.RateLimited && s.Waits != nil {
				waits := s.Waits()
				if len(waits) == 0 {
					t.Fatalf("waits: got none, want a retry after each 429's Retry-After")
				}
				for _, w := range waits {
					if w != time.Second {
						t.Errorf("wait: got %v, want the 1s Retry-After", w)
					}
				}
			}
		})
	}

	for _, f := range []pollertest.Fault{pollertest.RateLimited, pollertest.ServerError} {
		t.Run("transient "+string(f)+" is retried", func(t *testing.T) {
			s := newSubject(t)
			if s.Fault == nil {
				t.Skip("no fake to break")
			}
			s.Fault(f, 1)
			o, err := s.Source.Fetch(context.Background(), s.Now)
			if err != nil {
				t.Fatalf("Fetch: got error %v, want a retry to succeed", err)
			}
			checkRead(t, s, o)
			if s.Waits != nil {
				if waits := s.Waits(); len(waits) != 1 {
					t.Errorf("waits: got %v, want exactly one", waits)
				} else if f == pollertest.RateLimited && waits[0] != time.Second {
					t.Errorf("wait: got %v, want the 1s Retry-After", waits[0])
				}
			}
		})
	}
}

// checkRead checks a successful poll: each promised part read, with a source
// and a time, and nothing unavailable.
func checkRead(t *testing.T, s Subject, o billing.Observation) {
	t.Helper()
	if o.At.IsZero() {
		t.Errorf("observation At is zero")
	}
	for _, p := range s.Reads {
		st, ok := o.Status(p)
		switch {
		case !ok:
			t.Errorf("part %s: not read, want read", p)
		case st.Unavailable != "":
			t.Errorf("part %s: unavailable (%s), want read", p, st.Unavailable)
		case st.Source == "":
			t.Errorf("part %s: no source, want the endpoint it came from", p)
		case st.AsOf.IsZero():
			t.Errorf("part %s: no AsOf time", p)
		}
	}
	for p, st := range o.Parts {
		if st.Unavailable != "" {
			t.Errorf("part %s: unavailable (%s) in a healthy poll", p, st.Unavailable)
		}
	}
	noSecret(t, s, "observation", fmt.Sprintf("%+v", o))
}

// checkFailed checks a failed poll: an error wrapping want, no observation
// (so no balance, zero or otherwise), and no secret in the error.
func checkFailed(t *testing.T, s Subject, o billing.Observation, err error, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Fetch: got no error and %+v, want an error wrapping %v", o, want)
	}
	if !errors.Is(err, want) {
		t.Errorf("Fetch error %q: want it to wrap %v", err, want)
	}
	if len(o.Parts) != 0 || !o.Balance.Shown.IsZero() || o.Grants != nil || o.Costs != nil || o.Charges != nil {
		t.Errorf("Fetch returned an observation with its error: %+v; want none", o)
	}
	noSecret(t, s, "error", err.Error())
}

func noSecret(t *testing.T, s Subject, what, text string) {
	t.Helper()
	for _, k := range s.Secrets {
		if k != "" && strings.Contains(text, k) {
			t.Errorf("%s contains a credential: %s", what, text)
		}
	}
}
