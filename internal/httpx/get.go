package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/secret"
)

// Defaults for Options left zero.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxBody       = 4 << 20
	DefaultMaxRequests   = 20
	DefaultMaxAttempts   = 4
	DefaultBackoff       = time.Second
	DefaultMaxBackoff    = 30 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
)

// Options tune a Client. The zero value of each field means its default.
type Options struct {
	// Timeout bounds one request, reading the body included.
	Timeout time.Duration
	// MaxBody is the largest response body read, in bytes; a longer one is
	// an error (an endless body never hangs the poll or fills memory).
	MaxBody int64
	// MaxRequests is the budget of requests one poll may make, retries and
	// pages included.
	MaxRequests int
	// MaxAttempts bounds the tries of one request (the first one included).
	MaxAttempts int
	// Backoff is the wait before the first retry of a 5xx or a network
	// error; it doubles at each retry up to MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; a provider asking
	// for a longer wait ends the poll's attempt at that request.
	MaxRetryAfter time.Duration
	// Transport sends the requests; nil means one transport shared by every
	// client (a clone of http.DefaultTransport), so that accounts at the
	// same provider share connections.
	Transport http.RoundTripper
	// Wait sleeps for d or until ctx ends; nil means a real timer. Tests
	// inject one that records the waits without sleeping.
	Wait func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Transport == nil {
		o.Transport = sharedTransport()
	}
	if o.Wait == nil {
		o.Wait = sleep
	}
	return o
}

var sharedTransport = sync.OnceValue(func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Several accounts at one provider poll at once.
	t.MaxIdleConnsPerHost = 16
	return t
})

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Client sends GET requests to one provider's API.
type Client struct {
	provider string
	base     *url.URL
	opts     Options
	hc       *http.Client
	secrets  []secret.Value
}

// New returns a client for provider ("openai") at baseURL, an absolute
// http(s) URL, possibly with a path prefix. secrets are the credentials the
// client's callers will send: every error has them scrubbed out.
func New(provider, baseURL string, o Options, secrets ...secret.Value) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s base URL %s: want an absolute http(s) URL", provider, secret.QuoteURL(baseURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s base URL: must not hold credentials", provider)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	o = o.withDefaults()
	return &Client{
		provider: provider,
		base:     u,
		opts:     o,
		secrets:  secrets,
		// An API that redirects is misconfigured, and the redirect could
		// carry a credential header to another host.
		hc: NoRedirects(&http.Client{Transport: o.Transport}),
	}, nil
}

// Source names an endpoint for a billing.PartStatus: "openai:GET /v1/organization/costs".
// It never holds the host or a credential.
func (c *Client) Source(path string) string { return c.provider + ":GET " + path }

// Budget is one poll's allowance of requests. Start one per Fetch.
type Budget struct {
	max, used int
}

// Budget starts a poll's request budget.
func (c *Client) Budget() *Budget { return &Budget{max: c.opts.MaxRequests} }

// Used returns how many requests the poll made.
func (b *Budget) Used() int { return b.used }

// Request is one GET.
type Request struct {
	// Path is the API path ("/v1/organization/costs"), joined to the base
	// URL's path; it names the endpoint in errors.
	Path   string
	Query  url.Values
	Header http.Header
	// Refused, when set, is what a 401 or 403 answer means and how to fix
	// it ("the admin key (admin_key) was refused. Fix: …"): the request's
	// key is named in the error, not just its status.
	Refused string
}

// Get sends r, retrying what Retryable says may succeed (408, 429, 5xx)
// and network errors within the budget and ctx, and returns the body of the
// first 2xx answer. A redirect is not followed.
func (c *Client) Get(ctx context.Context, b *Budget, r Request) ([]byte, error) {
	endpoint := "GET " + r.Path
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, c.fail(fmt.Errorf("%s: %w: %w", endpoint, ErrUnavailable, err), last)
		}
		if b.used >= b.max {
			return nil, c.fail(fmt.Errorf("%s: %w: the poll's budget of %d requests is used up", endpoint, ErrUnavailable, b.max), last)
		}
		b.used++
		body, retryAfter, err := c.once(ctx, endpoint, r)
		if err == nil {
			return body, nil
		}
		last = err
		if !retryable(err) || attempt >= c.opts.MaxAttempts || ctx.Err() != nil {
			return nil, c.fail(err, nil)
		}
		wait := c.backoff(attempt)
		if retryAfter > 0 {
			if retryAfter > c.opts.MaxRetryAfter {
				return nil, c.fail(fmt.Errorf("%w (it asked to wait %s, longer than guardd waits in a poll)", err, waitWords(retryAfter)), nil)
			}
			wait = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, c.fail(fmt.Errorf("%w (no time left in the poll to wait %s and retry)", err, wait), nil)
		}
		if werr := c.opts.Wait(ctx, wait); werr != nil {
			return nil, c.fail(fmt.Errorf("%s: %w: %w", endpoint, ErrUnavailable, werr), last)
		}
	}
}

// fail scrubs err, noting the last attempt's error when err is about giving
// up (a budget or a context ending) rather than about an answer.
func (c *Client) fail(err, last error) error {
	if last != nil {
		err = fmt.Errorf("%w (last attempt: %w)", err, last)
	}
	return secret.ScrubError(err, c.secrets...)
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.Backoff << (attempt - 1)
	if d <= 0 || d > c.opts.MaxBackoff {
		d = c.opts.MaxBackoff
	}
	// Jitter in [d/2, d) so that accounts retrying together spread out.
	return d/2 + rand.N(d/2+1)
}

// retryable reports whether another attempt may succeed.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	var ne *netError
	return errors.As(err, &ne)
}

// netError is a request that got no complete answer: refused, reset,
// timed out. It wraps ErrUnavailable.
type netError struct {
	endpoint string
	err      error
}

func (e *netError) Error() string { return e.endpoint + ": " + e.err.Error() }
func (e *netError) Unwrap() []error {
	return []error{ErrUnavailable, e.err}
}

// once sends one attempt of r.
func (c *Client) once(ctx context.Context, endpoint string, r Request) (body []byte, retryAfter time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := *c.base
	u.Path += r.Path
	u.RawQuery = r.Query.Encode()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: build request: %w", endpoint, scrubURL(err))
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, &netError{endpoint: endpoint, err: c.cause(ctx, actx, err)}
	}
	defer resp.Body.Close()

	body, err = io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBody+1))
	if int64(len(body)) > c.opts.MaxBody {
		return nil, 0, fmt.Errorf("%s: %w: the response is larger than the %s limit", endpoint, ErrInvalid, sizeWords(c.opts.MaxBody))
	}
	if err != nil {
		return nil, 0, &netError{endpoint: endpoint, err: fmt.Errorf("read response: %w", c.cause(ctx, actx, err))}
	}

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if isHTML(resp.Header.Get("Content-Type")) {
			return nil, 0, fmt.Errorf("%s: %w: got an HTML page, not JSON (a proxy, login or error page?)", endpoint, ErrInvalid)
		}
		return body, 0, nil
	case code >= 300 && code < 400:
		return nil, 0, &StatusError{Endpoint: endpoint, Code: code, Status: resp.Status, Detail: "redirect not followed (is base_url right?)"}
	default:
		se := statusError(resp, c.errorMessage(body))
		se.Endpoint = endpoint
		switch {
		case r.Refused != "" && (code == http.StatusUnauthorized || code == http.StatusForbidden):
			se.Hint = r.Refused
		case code == http.StatusUnauthorized:
			se.Hint = "the key was refused: check that it is the right kind of key and still valid"
		}
		// The wait asked for, however long: a longer one than the poll can
		// give ends the attempt (Get), never a retry at once.
		return nil, requestedWait(resp.Header.Get("Retry-After"), time.Now()), se
	}
}

// cause turns a transport error into one that names no URL, saying which
// deadline ended the attempt.
func (c *Client) cause(parent, attempt context.Context, err error) error {
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("the poll ended before an answer came: %w", parent.Err())
	case attempt.Err() != nil:
		return fmt.Errorf("no answer within the %s request timeout", c.opts.Timeout)
	}
	return scrubURL(err)
}

func isHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

func sizeWords(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// maxMessage bounds the provider error message quoted in errors, in
// characters before the ellipsis.
const maxMessage = 300

// errorMessage pulls the provider's error message out of an error body:
// {"error": {"message": …}} (OpenAI, DeepSeek, OpenRouter, Anthropic),
// {"error": "…"} or {"message": "…"}. Anything else, an HTML page
// included, gives a short description instead of the body.
func (c *Client) errorMessage(body []byte) string {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return ""
	}
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(t, &env) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(env.Error, &inner) == nil && inner.Message != "":
			msg = inner.Message
		case json.Unmarshal(env.Error, &s) == nil && s != "":
			msg = s
		default:
			msg = env.Message
		}
	} else if t[0] == '<' {
		return "the body is an HTML page, not the API's JSON"
	}
	if msg == "" {
		return ""
	}
	return quote(msg, maxMessage+1, c.secrets)
}
