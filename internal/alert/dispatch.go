package alert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"go.uber.org/zap"
)

// Receiver is a named notifier and the notifications routed to it: those of
// at least MinSeverity and, when Accounts is not empty, of those accounts.
type Receiver struct {
	Name        string
	MinSeverity billing.Severity
	Accounts    []string
	Notifier    Notifier
	// Pace limits the new messages it gets one by one (the outbox applies
	// it; see Pacing).
	Pace Pacing
}

// Wants reports whether n is routed to the receiver.
func (r Receiver) Wants(n Notification) bool {
	if n.Finding.Severity.Rank() < r.MinSeverity.Rank() {
		return false
	}
	if len(r.Accounts) == 0 {
		return true
	}
	for _, a := range r.Accounts {
		if a == n.Finding.Account {
			return true
		}
	}
	return false
}

// RetryAfter is implemented by errors that carry a server's Retry-After.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// Dispatcher hands notifications to receivers and owns retries: a failure the
// notifier marks retryable is retried with exponential back-off (honouring a
// Retry-After), up to Attempts tries.
type Dispatcher struct {
	Receivers []Receiver
	// Attempts per notification and receiver; 0 means 3.
	Attempts int
	// Backoff is the first wait between attempts, doubled each time; 0
	// means one second.
	Backoff time.Duration
	// MaxWait caps a single wait (including Retry-After); 0 means one minute.
	MaxWait time.Duration
	// Sleep waits for d or until ctx is done; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *zap.Logger
}

// Dispatch sends ns to every receiver whose minimum severity they meet. It
// returns one error per receiver that could not be served, joined; a failure
// at one receiver never stops the others.
func (d *Dispatcher) Dispatch(ctx context.Context, ns []Notification) error {
	var errs []error
	for _, r := range d.Receivers {
		var mine []Notification
		for _, n := range ns {
			if r.Wants(n) {
				mine = append(mine, n)
			}
		}
		// One notification at a time, so a retry never repeats a message
		// the receiver already accepted.
		failed := 0
		var first error
		for _, n := range mine {
			if _, err := d.Deliver(ctx, r, n); err != nil {
				if failed == 0 {
					first = err
				}
				failed++
			}
		}
		if failed > 0 {
			errs = append(errs, fmt.Errorf("receiver %s: %d of %d notifications not delivered: %w", r.Name, failed, len(mine), first))
		}
	}
	return errors.Join(errs...)
}

// Deliver sends one notification to one receiver, retrying what the
// receiver marks retryable. It returns the ref of the message the receiver
// created, if any (see Notifier).
func (d *Dispatcher) Deliver(ctx context.Context, r Receiver, n Notification) (Ref, error) {
	attempts, wait, maxWait := d.Attempts, d.Backoff, d.MaxWait
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = time.Second
	}
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	sleep := d.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	log := d.Log
	if log == nil {
		log = zap.NewNop()
	}
	for i := 1; ; i++ {
		ref, retry, err := r.Notifier.Send(ctx, n)
		if err == nil {
			return ref, nil
		}
		what := fmt.Sprintf("%s %s", n.Finding.Rule, n.Status)
		if !retry {
			return Ref{}, fmt.Errorf("send %s: %w", what, err)
		}
		if i >= attempts {
			return Ref{}, &GaveUpError{Attempts: i, Err: fmt.Errorf("send %s: %w", what, err)}
		}
		w := wait
		var ra RetryAfter
		if errors.As(err, &ra) && ra.RetryAfter() > w {
			w = ra.RetryAfter()
		}
		w = min(w, maxWait)
		log.Warn("notification failed, will retry", zap.String("receiver", r.Name), zap.String("rule", n.Finding.Rule), zap.Int("attempt", i),
			zap.Duration("wait", w), zap.Error(err))
		if err := sleep(ctx, w); err != nil {
			return Ref{}, fmt.Errorf("send %s: %w", what, err)
		}
		wait *= 2
	}
}

// GaveUpError is a retryable failure that persisted through every attempt:
// a later try may still succeed.
type GaveUpError struct {
	Attempts int
	Err      error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.Attempts, e.Err)
}
func (e *GaveUpError) Unwrap() error { return e.Err }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
