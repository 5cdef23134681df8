package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/guardd/guardd/internal/secret"
)

// DefaultTimeout bounds one request when a receiver is given no client.
const DefaultTimeout = 10 * time.Second

// UserAgent is sent with every request.
const UserAgent = "guardd"

// Request is one JSON POST to a receiver's endpoint. Send is shared by the
// receivers that speak JSON over HTTP (webhook, pagerduty, alertmanager).
type Request struct {
	// Service names the other side in errors: "the webhook", "PagerDuty".
	Service string
	URL     string
	Header  http.Header
	Body    []byte
	// Hide lists every secret (and every form of it) that must not appear
	// in an error: the URL when it is a credential, tokens.
	Hide []secret.Value
	// Hint, when set, says what to do about a client error (4xx other than
	// 408 and 429) with the given status code; it ends the error message.
	Hint func(code int) string
}

// Response is a successful (2xx) answer.
type Response struct {
	Code int
	Body []byte
}

// maxBody is how much of an answer Send reads.
const maxBody = 64 << 10

// Send posts req.Body as JSON and classifies the answer by the Notifier
// contract: retry is true for rate limits (429, with the server's
// Retry-After in the *StatusError), 408, server errors (5xx), network errors
// and a done ctx; false for other answers, which will keep failing. Send
// never follows redirects (a 3xx is an error) and never retries itself. Its
// errors never contain the URL or anything in req.Hide.
func Send(ctx context.Context, client *http.Client, req Request) (Response, bool, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, true, fmt.Errorf("post to %s: %w", req.Service, err)
	}
	hide := append([]secret.Value{secret.New(req.URL)}, req.Hide...)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		// The URL is malformed; the error would quote it.
		return Response{}, false, fmt.Errorf("post to %s: the URL is not valid", req.Service)
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	if hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("User-Agent", UserAgent)

	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(hr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error quotes the URL: keep only its cause.
			err = ue.Err
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return Response{}, true, secret.ScrubError(fmt.Errorf("post to %s: %w", req.Service, cleanCause(err, hide)), hide...)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Response{Code: resp.StatusCode, Body: body}, false, nil
	}
	se := &StatusError{
		Service: req.Service,
		Code:    resp.StatusCode,
		Status:  resp.Status,
		Detail:  secret.Scrub(Excerpt(body, 200), hide...),
		Wait:    ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	switch {
	case se.Retryable():
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		se.Hint = "it redirects; configure the URL it redirects to"
	case req.Hint != nil:
		se.Hint = req.Hint(resp.StatusCode)
	}
	return Response{}, se.Retryable(), se
}

// cleanCause keeps a network error's message but drops anything that
// quotes a secret, such as a URL inside an error from a proxy.
func cleanCause(err error, hide []secret.Value) error {
	msg := err.Error()
	if secret.Scrub(msg, hide...) == msg {
		return err
	}
	// Do not wrap it: its own Error() would show the secret.
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return &scrubbedNet{msg: secret.Scrub(msg, hide...), timeout: true}
	}
	return &scrubbedNet{msg: secret.Scrub(msg, hide...)}
}

type scrubbedNet struct {
	msg     string
	timeout bool
}

func (e *scrubbedNet) Error() string { return e.msg }
func (e *scrubbedNet) Timeout() bool { return e.timeout }

// StatusError is an answer other than 2xx.
type StatusError struct {
	// Service names the other side: "the webhook", "PagerDuty".
	Service string
	// Code and Status are the HTTP status ("400 Bad Request").
	Code   int
	Status string
	// Detail is a short excerpt of the answer's body, secrets removed.
	Detail string
	// Wait is the server's Retry-After, zero when it gave none.
	Wait time.Duration
	// Hint says what to fix, for answers that will keep failing.
	Hint string
}

func (e *StatusError) Error() string {
	var b strings.Builder
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

// RetryAfter implements alert.RetryAfter.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Retryable reports whether the same request may succeed later: a rate
// limit, a timeout or a server error.
func (e *StatusError) Retryable() bool {
	return e.Code == http.StatusTooManyRequests || e.Code == http.StatusRequestTimeout || e.Code >= 500
}

// ParseRetryAfter reads a Retry-After header: whole seconds or an HTTP
// date (relative to now). It returns zero for anything else or a time in
// the past.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// Excerpt renders the start of a body on one line, printable characters
// only, cut to limit characters.
func Excerpt(body []byte, limit int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range string(body) {
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
