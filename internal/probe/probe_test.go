package probe

import (
	"errors"
	"fmt"
	"testing"

	"github.com/guardd/guardd/internal/httpx"
)

// TestFromHTTP: what each kind of error from the HTTP kit says of the key
// it was sent with, and how the result reads.
func TestFromHTTP(t *testing.T) {
	status := func(code int, detail string) error {
		return fmt.Errorf("wrapped: %w", &httpx.StatusError{Endpoint: "GET /x", Code: code, Detail: detail})
	}
	for _, tc := range []struct {
		err    error
		want   Outcome
		failed bool
		text   string
	}{
		{nil, OK, false, "admin key ok"},
		{status(401, "Incorrect API key provided: <key>"), Rejected, true, "admin key rejected: HTTP 401 'Incorrect API key provided: <key>'"},
		{status(404, ""), Rejected, true, "admin key rejected: HTTP 404"},
		{status(429, "slow down"), Unreachable, true, "admin key unreachable: HTTP 429 'slow down'"},
		{status(503, ""), Unreachable, true, "admin key unreachable: HTTP 503"},
		{status(302, "redirect not followed"), Unexpected, true, "admin key answered unexpectedly: HTTP 302 'redirect not followed' → Fix: check base_url: an API does not redirect"},
		{fmt.Errorf("GET /x: %w: got an HTML page", httpx.ErrInvalid), Unexpected, true, "admin key answered unexpectedly: GET /x: invalid response: got an HTML page → Fix: " + CheckBaseURL},
		{errors.New("GET /x: dial tcp: connection refused"), Unreachable, true, "admin key unreachable: GET /x: dial tcp: connection refused"},
	} {
		r := FromHTTP("admin key", tc.err)
		if r.Outcome != tc.want || r.Failed() != tc.failed || r.String() != tc.text {
			t.Errorf("FromHTTP(%v): got %v (failed %v) %q, want %v (failed %v) %q", tc.err, r.Outcome, r.Failed(), r, tc.want, tc.failed, tc.text)
		}
	}
	if r := (Result{Credential: "incoming webhook", Outcome: Skipped, Detail: "no harmless call"}); r.Failed() || r.String() != "incoming webhook not tried: no harmless call" {
		t.Errorf("skipped: got failed %v %q", r.Failed(), r)
	}
}
