package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/secret"
)

func TestRetryable(t *testing.T) {
	for code, want := range map[int]bool{
		200: false, 301: false, 302: false, 400: false, 401: false, 403: false, 404: false, 410: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true,
	} {
		if got := Retryable(code); got != want {
			t.Errorf("Retryable(%d): got %t, want %t", code, got, want)
		}
	}
}

// TestParseRetryAfter holds the cases of both former readers (the sources'
// and the receivers'), which disagreed on two points: a number of seconds
// is taken only up to a day (larger ones overflowed the receivers'
// reader), and a date is rounded to the second.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		now  time.Time
		want time.Duration
	}{
		{"", now, 0},
		{"1", now, time.Second},
		{"7", now, 7 * time.Second},
		{" 20 ", now, 20 * time.Second},
		{" 120 ", now, 2 * time.Minute},
		{"0", now, 0},
		{"-3", now, 0},
		{"soon", now, 0},
		{"86400", now, 24 * time.Hour},
		{"86401", now, 0},
		{"99999999999", now, 0},
		{"Wed, 14 Oct 2026 09:00:30 GMT", now, 30 * time.Second},
		{"Wed, 14 Oct 2026 09:01:30 GMT", now, 90 * time.Second},
		{"Wed, 14 Oct 2026 09:01:30 GMT", now.Add(300 * time.Millisecond), 90 * time.Second},
		{"Wed, 14 Oct 2026 08:00:00 GMT", now, 0},
	}
	for _, tc := range tests {
		if got := ParseRetryAfter(tc.in, tc.now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) at %s: got %v, want %v", tc.in, tc.now.Format(time.StampMilli), got, tc.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	for _, tt := range []struct {
		in    string
		limit int
		want  string
	}{
		{"  hello\n\tworld  ", 100, "hello world"},
		{"abcdef", 4, "abc…"},
		{"a\x00b", 10, "a b"},
		{"abc", 4, "abc"},
		{"abcd", 4, "abc…"},
	} {
		if got := Excerpt(tt.in, tt.limit); got != tt.want {
			t.Errorf("Excerpt(%q, %d): got %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

// TestQuoteRedactsBeforeCutting: a secret that straddles the cut is not
// left half shown.
func TestQuoteRedactsBeforeCutting(t *testing.T) {
	key := secret.New("0123456789SECRET")
	said := strings.Repeat("x", 10) + " " + key.Reveal() + " and sk-admin-abc123 more"
	got := quote(said, 16, []secret.Value{key})
	if strings.Contains(got, "0123") || got != "xxxxxxxxxx <sec…" {
		t.Errorf("quote: got %q, want %q", got, "xxxxxxxxxx <sec…")
	}
	if got := quote(said, 100, []secret.Value{key}); got != "xxxxxxxxxx <secret> and <key> more" {
		t.Errorf("quote: got %q, want the secret and the key-like text redacted", got)
	}
}

// redirector answers every request with a redirect to a target that
// records what reaches it.
type redirector struct {
	from, to *httptest.Server
	mu       sync.Mutex
	reached  []*http.Request
}

func newRedirector(t *testing.T) *redirector {
	t.Helper()
	r := &redirector{}
	r.to = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reached = append(r.reached, req)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(r.to.Close)
	r.from = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, r.to.URL+"/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(r.from.Close)
	return r
}

func (r *redirector) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reached)
}

// TestRedirectsNeverFollowed: neither a source's GET nor a receiver's POST
// follows a redirect, so the target never sees the credential header or,
// in the Referer, the secret URL; the 3xx is an error that is not retried.
func TestRedirectsNeverFollowed(t *testing.T) {
	const token = "Zq3x9TOKENv7Lm2"
	t.Run("get", func(t *testing.T) {
		r := newRedirector(t)
		c, rec := newClient(t, r.from.URL, Options{})
		_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x", Header: http.Header{"Authorization": {"Bearer " + token}}})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusTemporaryRedirect || !strings.Contains(err.Error(), "redirect not followed") {
			t.Fatalf("Get: got %v, want an unfollowed 307", err)
		}
		if got := r.requests(); got != 0 || len(rec.waits) != 0 {
			t.Errorf("got %d requests at the target and %d retries, want none", got, len(rec.waits))
		}
	})
	t.Run("post", func(t *testing.T) {
		r := newRedirector(t)
		u := r.from.URL + "/hooks/" + token
		_, retry, err := PostJSON(t.Context(), &http.Client{Timeout: 5 * time.Second}, JSONRequest{Service: "the webhook", URL: u,
			Header: http.Header{"Authorization": {"Bearer " + token}}, Body: []byte(`{}`), Hide: URLSecrets(secret.New(u))})
		var se *StatusError
		if retry || !errors.As(err, &se) || se.Code != http.StatusTemporaryRedirect {
			t.Fatalf("PostJSON: got retry %t, error %v; want no retry and an unfollowed 307", retry, err)
		}
		if got := r.requests(); got != 0 {
			t.Errorf("got %d requests at the target, want none", got)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("got error %q with the secret path", err)
		}
	})
	t.Run("a caller's client", func(t *testing.T) {
		// NoRedirects leaves the caller's client as it was.
		c := &http.Client{Timeout: time.Second}
		if nc := NoRedirects(c); nc == c || c.CheckRedirect != nil || nc.Timeout != time.Second {
			t.Errorf("NoRedirects changed the client it was given, or lost its timeout")
		}
		if NoRedirects(nil).CheckRedirect == nil {
			t.Errorf("NoRedirects(nil) follows redirects")
		}
	})
}
