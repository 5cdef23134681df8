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

// recorder is a Wait that records instead of sleeping.
type recorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recorder) wait(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return ctx.Err()
}

// scripted answers each request with the next of its handlers, repeating
// the last.
func scripted(t *testing.T, hs ...http.HandlerFunc) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

var ok = status(200, nil, `{"ok": true}`)

func newClient(t *testing.T, url string, o Options, secrets ...secret.Value) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	if o.Wait == nil {
		o.Wait = rec.wait
	}
	c, err := New("test", url, o, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRetryAfterHonoured(t *testing.T) {
	srv, n := scripted(t, status(429, map[string]string{"Retry-After": "3"}, `{"error": {"message": "slow down"}}`), ok)
	c, rec := newClient(t, srv.URL, Options{})
	b := c.Budget()
	body, err := c.Get(context.Background(), b, Request{Path: "/x"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(body) != `{"ok": true}` {
		t.Errorf("body: got %q", body)
	}
	if got := rec.waits; len(got) != 1 || got[0] != 3*time.Second {
		t.Errorf("waits: got %v, want [3s]", got)
	}
	if *n != 2 || b.Used() != 2 {
		t.Errorf("requests: got %d (budget used %d), want 2", *n, b.Used())
	}
}

func TestRetryAfterTooLongGivesUp(t *testing.T) {
	srv, n := scripted(t, status(429, map[string]string{"Retry-After": "3600"}, `{}`), ok)
	c, rec := newClient(t, srv.URL, Options{MaxRetryAfter: time.Minute})
	_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "asked to wait 1h0m0s") {
		t.Fatalf("Get error: got %v, want an unavailable error naming the wait", err)
	}
	if len(rec.waits) != 0 || *n != 1 {
		t.Errorf("got %d waits and %d requests, want 0 and 1", len(rec.waits), *n)
	}
}

// TestRetryAfterAnySizeOrFormGivesUp: a wait asked for that is longer than
// the poll gives ends the attempt whether it is a number of seconds over a
// day, one too large for a time.Duration or an HTTP date; none is taken
// for "no wait" and retried at once.
func TestRetryAfterAnySizeOrFormGivesUp(t *testing.T) {
	for _, tc := range []struct{ name, header, want string }{
		{"two hours", "7200", "asked to wait 2h0m0s"},
		{"a day and a second", "86401", "asked to wait 24h0m1s"},
		{"a hundred years", "3153600000", "asked to wait 876000h0m0s"},
		{"more than a duration holds", "99999999999999999999999", "asked to wait over 292 years"},
		{"a date in two hours", time.Now().Add(2*time.Hour + 30*time.Second).UTC().Format(http.TimeFormat), "asked to wait 2h0m"},
		{"a date in year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", "asked to wait over 292 years"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := scripted(t, status(429, map[string]string{"Retry-After": tc.header}, `{}`), ok)
			c, rec := newClient(t, srv.URL, Options{MaxRetryAfter: time.Minute})
			_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Get error: got %v, want an unavailable error with %q", err, tc.want)
			}
			if len(rec.waits) != 0 || *n != 1 {
				t.Errorf("got waits %v and %d requests, want none and 1", rec.waits, *n)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineGivesUp(t *testing.T) {
	srv, _ := scripted(t, status(503, map[string]string{"Retry-After": "30"}, `{}`), ok)
	c, rec := newClient(t, srv.URL, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Get(ctx, c.Budget(), Request{Path: "/x"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no time left in the poll") {
		t.Fatalf("Get error: got %v, want one saying the poll has no time left", err)
	}
	if len(rec.waits) != 0 {
		t.Errorf("waits: got %v, want none", rec.waits)
	}
}

func TestBackoffOn5xx(t *testing.T) {
	srv, n := scripted(t, status(500, nil, `{}`))
	c, rec := newClient(t, srv.URL, Options{Backoff: time.Second, MaxBackoff: 3 * time.Second, MaxAttempts: 4})
	_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get error: got %v, want unavailable", err)
	}
	if *n != 4 || len(rec.waits) != 3 {
		t.Fatalf("got %d requests and waits %v, want 4 and 3 waits", *n, rec.waits)
	}
	// Jittered in [d/2, d] for d = 1s, 2s, 3s (capped).
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		if w := rec.waits[i]; w < d/2 || w > d {
			t.Errorf("wait %d: got %v, want between %v and %v", i, w, d/2, d)
		}
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv, n := scripted(t, status(code, nil, `{"error": {"message": "nope"}}`), ok)
			c, _ := newClient(t, srv.URL, Options{})
			_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
			var se *StatusError
			if !errors.As(err, &se) || se.Code != code || se.Detail != "nope" {
				t.Fatalf("Get error: got %v, want a StatusError %d with the message", err, code)
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("Get error %v: want it to wrap ErrUnavailable", err)
			}
			if *n != 1 {
				t.Errorf("requests: got %d, want 1", *n)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	srv, n := scripted(t, status(500, nil, `{}`))
	c, _ := newClient(t, srv.URL, Options{MaxRequests: 3, MaxAttempts: 10})
	b := c.Budget()
	_, err := c.Get(context.Background(), b, Request{Path: "/x"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "budget of 3 requests is used up") {
		t.Fatalf("Get error: got %v, want the budget named", err)
	}
	if *n != 3 {
		t.Errorf("requests: got %d, want 3", *n)
	}
	// The budget is per poll: a second request in the same poll is refused
	// without being sent; a new budget sends it.
	if _, err := c.Get(context.Background(), b, Request{Path: "/y"}); err == nil || *n != 3 {
		t.Errorf("second Get on a spent budget: got %v after %d requests, want an error and no request", err, *n)
	}
	c.Get(context.Background(), c.Budget(), Request{Path: "/y"})
	if *n <= 3 {
		t.Errorf("a new budget sent no request")
	}
}

func TestSizeLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(" ", 1024))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	c, _ := newClient(t, srv.URL, Options{MaxBody: 64 << 10})
	_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than the 64 KiB limit") {
		t.Fatalf("Get error: got %v, want an invalid error naming the limit", err)
	}
}

func TestRequestTimeoutIsRetried(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	srv, n := scripted(t, slow, ok)
	c, rec := newClient(t, srv.URL, Options{Timeout: 100 * time.Millisecond})
	if _, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"}); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if *n != 2 || len(rec.waits) != 1 {
		t.Errorf("got %d requests and %d waits, want 2 and 1", *n, len(rec.waits))
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	srv, n := scripted(t, status(302, map[string]string{"Location": "https://elsewhere.example/"}, ""))
	c, _ := newClient(t, srv.URL, Options{})
	_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x", Header: http.Header{"X-Api-Key": {"k"}}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "redirect not followed") {
		t.Fatalf("Get error: got %v, want an unfollowed redirect", err)
	}
	if *n != 1 {
		t.Errorf("requests: got %d, want 1", *n)
	}
}

func TestHTMLPage(t *testing.T) {
	srv, _ := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html>login</html>")
	})
	c, _ := newClient(t, srv.URL, Options{})
	_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "HTML page") {
		t.Fatalf("Get error: got %v, want an invalid HTML answer", err)
	}
}

func TestErrorsHideSecrets(t *testing.T) {
	key := secret.New("sk-admin-0123456789abcdef")
	echo := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error": {"message": "Incorrect API key provided: %s, or sk-adm***def. See %s"}}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.URL)
	}
	srv, _ := scripted(t, echo)
	c, _ := newClient(t, srv.URL+"/prefix", Options{}, key)
	_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x", Header: http.Header{"Authorization": {"Bearer " + key.Reveal()}}})
	if err == nil {
		t.Fatal("Get: no error")
	}
	for _, leak := range []string{key.Reveal(), "sk-adm***def", "0123456789"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}

	// A transport error quotes no URL.
	srv.Close()
	_, err = c.Get(context.Background(), c.Budget(), Request{Path: "/x", Query: map[string][]string{"q": {"v"}}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get on a closed server: got %v, want unavailable", err)
	}
	if strings.Contains(err.Error(), "/prefix") || strings.Contains(err.Error(), "q=v") {
		t.Errorf("transport error quotes the URL: %v", err)
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "api.openai.com", "ftp://x", "https://user:pass@api.example.com"} {
		if _, err := New("test", u, Options{}); err == nil {
			t.Errorf("New(%q): no error", u)
		} else if strings.Contains(err.Error(), "pass") {
			t.Errorf("New(%q) error shows the credentials: %v", u, err)
		}
	}
}

// TestStatusErrorText pins what a source's error says about an answer:
// the endpoint, the status, the provider's own message (cut to 300
// characters) and, for a 401, what to check.
func TestStatusErrorText(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := []struct {
		code int
		body string
		want string
	}{
		{401, `{"error": {"message": "Incorrect API key provided"}}`,
			"GET /x: http 401 Unauthorized: Incorrect API key provided (the key was refused: check that it is the right kind of key and still valid)"},
		{403, `{"error": "forbidden\n\there"}`, "GET /x: http 403 Forbidden: forbidden here"},
		{404, `<html>not found</html>`, "GET /x: http 404 Not Found: the body is an HTML page, not the API's JSON"},
		{400, `{"message": "` + long + `"}`, "GET /x: http 400 Bad Request: " + strings.Repeat("é", 300) + "…"},
		{400, ``, "GET /x: http 400 Bad Request"},
	}
	for _, tc := range tests {
		srv, _ := scripted(t, status(tc.code, nil, tc.body))
		c, _ := newClient(t, srv.URL, Options{})
		_, err := c.Get(context.Background(), c.Budget(), Request{Path: "/x"})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%d %.20s: got error\n%v\nwant\n%s", tc.code, tc.body, err, tc.want)
		}
	}
}
