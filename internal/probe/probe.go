// Package probe is what `guardd validate --online` found when it tried one
// credential once against the service it is for: the source's provider or
// the receiver's chat or paging service. A source's or receiver's
// configuration makes its own probes (poller.Prober, alert.Prober) with its
// own request code; this package holds the result they share, how it reads,
// and the mapping of the HTTP kit's errors to an outcome.
package probe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/guardd/guardd/internal/httpx"
)

// Outcome is how one try went.
type Outcome int

// The outcomes of a try.
const (
	// OK: the service accepted the credential and answered as expected.
	OK Outcome = iota
	// Rejected: the service answered and refused the credential (or the
	// request made with it); trying again will not help.
	Rejected
	// Unreachable: no answer came, or the service failed (5xx, a rate
	// limit): nothing was learnt about the credential.
	Unreachable
	// Unexpected: something answered, but not as the API does (an HTML
	// page, a redirect, a body that does not decode): is base_url right?
	Unexpected
	// Skipped: the service has no call that is harmless to make, so none
	// was made.
	Skipped
)

var outcomeWords = [...]string{OK: "ok", Rejected: "rejected", Unreachable: "unreachable", Unexpected: "answered unexpectedly", Skipped: "not tried"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeWords) {
		return fmt.Sprintf("outcome(%d)", int(o))
	}
	return outcomeWords[o]
}

// Result is one credential tried once. No field ever holds a secret.
type Result struct {
	// Credential names what was tried, as the configuration calls it:
	// "admin key", "session key", "bot token", "incoming webhook".
	Credential string
	Outcome    Outcome
	// Reads says, when OK, what the credential gives access to ("the
	// costs", "workspace Acme as @guardd").
	Reads string
	// Detail says, otherwise, what the service said ("HTTP 403 'must be
	// made with a session key …'") or why no answer came.
	Detail string
	// Fix says what to do, when something must be done.
	Fix string
}

// Failed reports whether the try found a problem: anything but OK and
// Skipped.
func (r Result) Failed() bool { return r.Outcome != OK && r.Outcome != Skipped }

// String reads "admin key ok: reads the costs", "session key rejected: HTTP
// 403 '…' → Fix: …" or "incoming webhook not tried: …".
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(r.Credential)
	b.WriteByte(' ')
	b.WriteString(r.Outcome.String())
	switch {
	case r.Outcome == OK && r.Reads != "":
		b.WriteString(": reads ")
		b.WriteString(r.Reads)
	case r.Detail != "":
		b.WriteString(": ")
		b.WriteString(r.Detail)
	}
	if r.Fix != "" {
		b.WriteString(" → Fix: ")
		b.WriteString(r.Fix)
	}
	return b.String()
}

// CheckBaseURL is the fix of an answer that is not the API's.
const CheckBaseURL = "check base_url: it should be the API's own"

// FromHTTP is the result of a request made with the HTTP kit (httpx.Client.Get,
// which already keeps secrets out of its errors): OK when err is nil;
// Rejected, quoting the provider's message, with the fix the request's
// hint gives (httpx.Request.Refused), for an answer of 4xx that will not
// change; Unreachable for no answer, a server error or a rate limit;
// Unexpected for a redirect or an answer that is not the API's. The caller
// adds what it reads or the fix.
func FromHTTP(credential string, err error) Result {
	r := Result{Credential: credential}
	if err == nil {
		return r
	}
	if se, ok := errors.AsType[*httpx.StatusError](err); ok {
		r.Detail = fmt.Sprintf("HTTP %d", se.Code)
		if se.Detail != "" {
			r.Detail += " '" + se.Detail + "'"
		}
		switch {
		case se.Code >= 300 && se.Code < 400:
			r.Outcome, r.Fix = Unexpected, "check base_url: an API does not redirect"
		case se.Retryable():
			r.Outcome = Unreachable
		default:
			// The request's own word on a refusal ("the admin key
			// (admin_key) was refused. Fix: give …"): its fix.
			r.Outcome = Rejected
			if _, fix, ok := strings.Cut(se.Hint, "Fix: "); ok {
				r.Fix = fix
			} else {
				r.Fix = se.Hint
			}
		}
		return r
	}
	r.Detail = err.Error()
	if errors.Is(err, httpx.ErrInvalid) {
		r.Outcome, r.Fix = Unexpected, CheckBaseURL
		return r
	}
	r.Outcome = Unreachable
	return r
}
