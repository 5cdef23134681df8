// Package receivertest is the contract every guardd receiver meets, as a
// test suite each receiver's tests run against a fake of its service: a
// success (with the ref of a new message when the receiver keeps refs), rate limits and server errors that are worth retrying (with the
// server's Retry-After exposed through alert.RetryAfter), answers that will
// keep failing and are not, a cancelled context, an unreachable server, and
// no secret in any error or log line whatever happens. It also holds
// representative findings of every rule for receivers' golden files.
package receivertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guardd/guardd/internal/alert"
)

// Mode is how the fake service answers.
type Mode string

const (
	// OK accepts every notification.
	OK Mode = "ok"
	// RateLimited answers as the service does when it throttles (HTTP 429
	// with Retry-After: 7, or SMTP 421/451).
	RateLimited Mode = "rate limited"
	// ServerError answers with a failure on the service's side (HTTP 5xx,
	// SMTP 4xx).
	ServerError Mode = "server error"
	// Rejected answers as the service does to a request that will keep
	// failing: a wrong token or key, an unknown channel, a refused
	// password.
	Rejected Mode = "rejected"
	// Hang accepts the connection but never answers.
	Hang Mode = "hang"
	// Down refuses connections.
	Down Mode = "down"
)

// Modes lists every mode, in the order the suite runs them.
var Modes = []Mode{OK, RateLimited, ServerError, Rejected, Hang, Down}

// RetryAfter is the Retry-After, in seconds, fakes send in RateLimited mode
// when their service has one.
const RetryAfter = 7 * time.Second

// Target is a receiver under test, pointed at a fake answering in one mode.
type Target struct {
	Notifier alert.Notifier
	// Secrets must never appear in an error or log line: tokens, keys,
	// passwords, secret URLs and their secret parts.
	Secrets []string
	// Delivered returns how many notifications the fake accepted.
	Delivered func() int
	// RetryAfter is true when the service sends a Retry-After in
	// RateLimited mode, which the error must then expose as RetryAfter.
	RetryAfter bool
	// RejectHint is a phrase the error of Rejected mode must contain: what
	// to fix.
	RejectHint string
	// Refs is true when the receiver returns the ref of the message a
	// first firing notification created (Slack's bot); otherwise every
	// ref must be zero.
	Refs bool
}

// Setup builds a receiver logging to log and a fake answering in mode.
type Setup func(t *testing.T, mode Mode, log *zap.Logger) Target

// Run runs the contract against the receiver setup builds: it sends a
// first firing notification and then a resolution, one Send each, as the
// dispatcher does, and stops at the first failure.
func Run(t *testing.T, setup Setup) {
	t.Helper()
	ns := []alert.Notification{ByRule("recharge-burst"), Resolved(ByRule("runway-low"))}
	for _, mode := range Modes {
		t.Run(string(mode), func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			tg := setup(t, mode, zap.New(core))
			ctx := t.Context()
			if mode == Hang {
				c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				ctx = c
			}
			refs, retry, err := SendAll(ctx, tg.Notifier, ns...)
			check(t, mode, tg, refs, retry, err)
			NoSecret(t, tg.Secrets, err, logs)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		tg := setup(t, OK, zap.New(core))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		refs, retry, err := SendAll(ctx, tg.Notifier, ns...)
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want one matching context.Canceled", err)
		}
		if !retry {
			t.Errorf("got retry false, want true (the notification was not sent; it may be later)")
		}
		if !refs[0].IsZero() {
			t.Errorf("got ref %+v with an error, want none", refs[0])
		}
		if got := tg.Delivered(); got != 0 {
			t.Errorf("got %d delivered with a cancelled context, want 0", got)
		}
		NoSecret(t, tg.Secrets, err, logs)
	})
}

// SendAll sends ns one by one, as the dispatcher does, and stops at the
// first failure. refs holds the ref each Send returned.
func SendAll(ctx context.Context, n alert.Notifier, ns ...alert.Notification) (refs []alert.Ref, retry bool, err error) {
	refs = make([]alert.Ref, len(ns))
	for i, x := range ns {
		if refs[i], retry, err = n.Send(ctx, x); err != nil {
			return refs, retry, err
		}
	}
	return refs, false, nil
}

func check(t *testing.T, mode Mode, tg Target, refs []alert.Ref, retry bool, err error) {
	t.Helper()
	if mode == OK {
		if err != nil || retry {
			t.Fatalf("got retry %t, error %v; want false, nil", retry, err)
		}
		if got, want := tg.Delivered(), 2; got != want {
			t.Errorf("got %d delivered, want %d", got, want)
		}
		if got := refs[0]; got.IsZero() == tg.Refs {
			t.Errorf("got ref %+v for a first firing notification; want a ref: %t (Target.Refs)", got, tg.Refs)
		}
		if got := refs[1]; !got.IsZero() {
			t.Errorf("got ref %+v for a resolution, want none (nothing threads under it)", got)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one")
	}
	if strings.TrimSpace(err.Error()) == "" {
		t.Errorf("got an empty error message")
	}
	if !refs[0].IsZero() {
		t.Errorf("got ref %+v with an error, want none", refs[0])
	}
	wantRetry := mode != Rejected
	if retry != wantRetry {
		t.Errorf("got retry %t, want %t (error: %v)", retry, wantRetry, err)
	}
	if got := tg.Delivered(); got != 0 {
		t.Errorf("got %d delivered, want 0 (stop at the first failure)", got)
	}
	switch mode {
	case RateLimited:
		var ra alert.RetryAfter
		if tg.RetryAfter {
			if !errors.As(err, &ra) {
				t.Errorf("got error %v without alert.RetryAfter, want the server's Retry-After", err)
			} else if got := ra.RetryAfter(); got != RetryAfter {
				t.Errorf("got RetryAfter %s, want %s", got, RetryAfter)
			}
		}
	case Rejected:
		if tg.RejectHint != "" && !strings.Contains(err.Error(), tg.RejectHint) {
			t.Errorf("got error %q, want it to say what to fix (%q)", err, tg.RejectHint)
		}
	case Hang:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got error %v, want one matching context.DeadlineExceeded", err)
		}
	}
}

// NoSecret fails the test if any run of MinRun characters of a secret
// (see Leak) appears in err (its message, %+v, %#v, and every error it
// wraps) or in any log line.
func NoSecret(t *testing.T, secrets []string, err error, logs *observer.ObservedLogs) {
	t.Helper()
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		var walk func(error)
		walk = func(e error) {
			for e != nil {
				texts = append(texts, e.Error())
				if m, ok := e.(interface{ Unwrap() []error }); ok {
					for _, c := range m.Unwrap() {
						walk(c)
					}
					return
				}
				e = errors.Unwrap(e)
			}
		}
		walk(err)
	}
	if logs != nil {
		for _, e := range logs.All() {
			texts = append(texts, fmt.Sprintf("%s %v", e.Message, e.ContextMap()))
		}
	}
	for _, text := range texts {
		if run, s := Leak(text, secrets); run != "" {
			t.Errorf("got %q, which holds %q of the secret %q, want no run of %d characters of a secret in errors or logs", text, run, s, MinRun)
		}
	}
}

// MinRun is the shortest run of a secret's characters that counts as a
// leak: a server quoting the end of a key ("…ef12345678") leaks it.
const MinRun = 8

// Leak returns the first run of MinRun characters of one of secrets that
// text holds, and that secret; "" when there is none. Secrets shorter than
// MinRun count whole. Of a secret URL, its scheme and host may show: the
// runs are taken from what follows the host.
func Leak(text string, secrets []string) (run, secret string) {
	for _, s := range secrets {
		part := s
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
			part = s[strings.Index(s, u.Host)+len(u.Host):]
		}
		if len(part) < MinRun {
			if part != "" && strings.Contains(text, part) {
				return part, s
			}
			continue
		}
		for i := 0; i+MinRun <= len(part); i++ {
			if r := part[i : i+MinRun]; strings.Contains(text, r) {
				return r, s
			}
		}
	}
	return "", ""
}
