package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/guardd/guardd/internal/secret"
)

// DefaultPostTimeout bounds one request of a receiver given no client.
const DefaultPostTimeout = 10 * time.Second

// JSONRequest is one JSON POST to a receiver's endpoint.
type JSONRequest struct {
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

// maxPostBody is how much of an answer PostJSON reads.
const maxPostBody = 64 << 10

// maxDetail bounds the excerpt of an answer quoted in errors, in
// characters.
const maxDetail = 200

// PostJSON posts req.Body as JSON with client (nil: one with a
// DefaultPostTimeout timeout) and classifies the answer by the
// alert.Notifier contract: retry is true for what Retryable says may
// succeed (408, 429 with the server's Retry-After in the *StatusError, 5xx),
// network errors and a done ctx; false for other answers, which will keep
// failing. PostJSON never follows redirects (a 3xx is an error) and never
// retries itself. Its errors never contain the URL or anything in req.Hide.
func PostJSON(ctx context.Context, client *http.Client, req JSONRequest) (Response, bool, error) {
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
		client = &http.Client{Timeout: DefaultPostTimeout}
	}
	resp, err := NoRedirects(client).Do(hr)
	if err != nil {
		// url.Error quotes the URL: keep only its cause.
		err = scrubURL(err)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return Response{}, true, secret.ScrubError(fmt.Errorf("post to %s: %w", req.Service, cleanCause(err, hide)), hide...)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxPostBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Response{Code: resp.StatusCode, Body: body}, false, nil
	}
	se := statusError(resp, quote(string(body), maxDetail, hide))
	se.Service = req.Service
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
