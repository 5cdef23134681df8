// Package httpx is the HTTP kit guardd's sources and receivers share. It
// owns, once, what both need to talk to a server that may misbehave:
//
//   - which answers are worth retrying (Retryable: 408, 429 and 5xx) and
//     the server's Retry-After (ParseRetryAfter, seconds or an HTTP date);
//   - refusing redirects (NoRedirects): a 3xx is an error, never followed,
//     so that no credential, in a header or in the Referer, reaches another
//     URL;
//   - errors that never show a secret: the URL of a transport error is
//     dropped, credentials and anything key-like are redacted from what the
//     server said, and what is quoted of a body is a short excerpt.
//
// Sources read with a Client (Get: timeouts, a body limit, retries with
// back-off and a budget of requests per poll). Every error Get returns wraps
// ErrUnavailable (no usable answer) or ErrInvalid (an answer that cannot be
// trusted), names the endpoint ("GET /v1/organization/costs") but never the
// full URL, and has every credential it was given scrubbed out. The kit
// knows nothing of sources: they map these two to poller.ErrUnavailable and
// poller.ErrInvalid.
//
// Receivers that speak JSON over HTTP (webhook, PagerDuty, Alertmanager)
// send with PostJSON: one request, classified by the alert.Notifier
// contract, never retried by the kit (the caller owns retries).
package httpx

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/guardd/guardd/internal/secret"
)

// UserAgent is sent with every request.
const UserAgent = "guardd"

// Kinds of failure: every error Get returns wraps one of them.
var (
	// ErrUnavailable: no usable answer was had (a network error or
	// timeout, an answer other than 2xx, a budget or context that ran
	// out).
	ErrUnavailable = errors.New("data unavailable")
	// ErrInvalid: the server answered 2xx with something that cannot be
	// trusted (an HTML page, a body over the size limit).
	ErrInvalid = errors.New("invalid response")
)

// Retryable reports whether a request answered with code may succeed if
// sent again: a timeout (408), a rate limit (429) or a server error (5xx).
// Any other answer will keep failing.
func Retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// StatusError is an answer other than 2xx. It wraps ErrUnavailable: nothing
// usable was had.
type StatusError struct {
	// Endpoint names a source's request ("GET /v1/organization/costs");
	// Service names a receiver's other side ("the webhook", "PagerDuty").
	// One of them is set, and picks the wording of Error.
	Endpoint, Service string
	// Code is the status code, Status the status line ("404 Not Found").
	Code   int
	Status string
	// Detail is what the server said: a provider's own error message, or
	// an excerpt of a receiver's answer; secrets removed.
	Detail string
	// Wait is the server's Retry-After, zero when it gave none (or none
	// that can be used).
	Wait time.Duration
	// Hint says what to fix, for answers that will keep failing.
	Hint string
}

// Error reads "GET /path: http 401 Unauthorized: detail (hint)" for a
// source and "the webhook answered 429 Too Many Requests (detail): retry
// after 7s: hint" for a receiver.
func (e *StatusError) Error() string {
	var b strings.Builder
	if e.Endpoint != "" {
		fmt.Fprintf(&b, "%s: http %d %s", e.Endpoint, e.Code, http.StatusText(e.Code))
		if e.Detail != "" {
			b.WriteString(": ")
			b.WriteString(e.Detail)
		}
		if e.Hint != "" {
			fmt.Fprintf(&b, " (%s)", e.Hint)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%s answered %s", e.Service, e.Status)
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	if e.Code == http.StatusTooManyRequests && e.Wait > 0 {
		fmt.Fprintf(&b, ": retry after %s", e.Wait)
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnavailable) true.
func (e *StatusError) Unwrap() error { return ErrUnavailable }

// Retryable reports whether the same request may succeed later.
func (e *StatusError) Retryable() bool { return Retryable(e.Code) }

// RetryAfter implements alert.RetryAfter, so the dispatcher honours it.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// statusError describes resp, an answer other than 2xx; detail is what to
// quote of its body. The caller names the endpoint or service and the hint.
func statusError(resp *http.Response, detail string) *StatusError {
	return &StatusError{
		Code:   resp.StatusCode,
		Status: resp.Status,
		Detail: detail,
		Wait:   ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

// maxRetryAfter is the longest Retry-After in seconds ParseRetryAfter takes
// at its word.
const maxRetryAfter = 24 * 60 * 60

// ParseRetryAfter reads a Retry-After header: whole seconds (1 to a day) or
// an HTTP date, relative to now and rounded to the second. It returns zero
// for anything else, for no wait, and for a time in the past. It is what a
// receiver's caller is told (RetryAfter); a source's Get judges the wait
// asked for itself (requestedWait), however long.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	d, seconds := parseRetryAfter(h, now)
	if seconds && d > maxRetryAfter*time.Second {
		return 0
	}
	return d
}

// forever is the wait requestedWait gives for a number of seconds too large
// for a time.Duration.
const forever = time.Duration(math.MaxInt64)

// requestedWait is the wait a Retry-After header asks for, whatever its
// size or form: whole seconds, any number of them (too many for a
// time.Duration is forever), or an HTTP date, relative to now and rounded to
// the second. It is zero for no wait, a time in the past or a header that is
// neither.
func requestedWait(h string, now time.Time) time.Duration {
	d, _ := parseRetryAfter(h, now)
	return d
}

// parseRetryAfter reads a Retry-After header, saying whether it was given
// in seconds.
func parseRetryAfter(h string, now time.Time) (d time.Duration, seconds bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case n <= 0: // ErrRange: MinInt64
			return 0, true
		case n > int64(forever/time.Second): // ErrRange: MaxInt64
			return forever, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second), false
	}
	return 0, false
}

// waitWords renders a requested wait for an error.
func waitWords(d time.Duration) string {
	if d == forever {
		return "over 292 years"
	}
	return d.String()
}

// NoRedirects returns a copy of c (nil: a zero client) that never follows a
// redirect: the 3xx comes back as the answer. A redirect could carry a
// credential header, or the URL itself in the Referer, to another URL.
func NoRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// Excerpt renders the start of a text on one line, printable characters
// only, cut to limit characters (an ellipsis included).
func Excerpt(s string, limit int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= limit-1 {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// keyLike matches what looks like a provider credential, even a partly
// masked one ("sk-admin***def"), so it never reaches an error message.
var keyLike = regexp.MustCompile(`\b(sk|sess|rk|pk)-[A-Za-z0-9_\-*]+(\.[A-Za-z0-9_\-*]+)*`)

// quote renders what a server said for an error: the secrets and anything
// key-like redacted first (so that no cut leaves part of one), then an
// Excerpt of at most limit characters.
func quote(said string, limit int, secrets []secret.Value) string {
	said = secret.Scrub(said, secrets...)
	said = keyLike.ReplaceAllString(said, "<key>")
	return Excerpt(said, limit)
}

// scrubURL drops the URL a *url.Error quotes, keeping its cause.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// URLSecrets lists the forms in which a secret URL, or the parts of it that
// carry the secret (path, query, password), could appear in error text.
func URLSecrets(u secret.Value) []secret.Value {
	out := []secret.Value{u}
	p, err := url.Parse(u.Reveal())
	if err != nil {
		return out
	}
	for _, s := range []string{p.String(), p.EscapedPath(), p.Path, p.RawQuery} {
		if len(s) > 1 {
			out = append(out, secret.New(s))
		}
	}
	for _, seg := range strings.Split(p.Path, "/") {
		if len(seg) >= 8 {
			out = append(out, secret.New(seg))
		}
	}
	if pw, ok := p.User.Password(); ok {
		out = append(out, secret.New(pw))
	}
	return out
}
