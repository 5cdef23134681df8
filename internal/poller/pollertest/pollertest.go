// Package pollertest has fake provider APIs for tests: one httptest server
// per provider, on 127.0.0.1, answering the real paths with the real auth
// headers and response bodies (../../../../shared/research/providers.md has
// the sources). Each fake holds account state that tests script over several
// polls (a recharge loop: grants appearing, topped-up balance rising, credits
// rising) and can be switched to misbehave in the ways real APIs do: 401,
// OpenAI's session-key 403, 429 with Retry-After, 500, slow answers, HTML or
// garbage, truncated JSON, an endless body. Servers stop when the test ends.
package pollertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Fault is a way a fake provider misbehaves.
type Fault string

// The faults every fake can produce.
const (
	// OK answers normally.
	OK Fault = ""
	// Unauthorized answers 401 with the provider's error envelope, as for a
	// wrong or revoked key.
	Unauthorized Fault = "401"
	// Forbidden answers 403 with the provider's error envelope. On OpenAI's
	// credit grants endpoint it is the "must be made with a session key"
	// answer.
	Forbidden Fault = "403"
	// RateLimited answers 429 with Retry-After (see SetRetryAfter).
	RateLimited Fault = "429"
	// ServerError answers 500 with the provider's error envelope.
	ServerError Fault = "500"
	// Slow waits before answering normally, until the client gives up or
	// the SetSlow delay (default an hour) passes.
	Slow Fault = "slow"
	// HTML answers 200 with an HTML page (a proxy's or a login page).
	HTML Fault = "html"
	// Garbage answers 200 with a JSON content type and a body that is not
	// JSON.
	Garbage Fault = "garbage"
	// Truncated answers 200 with the real body cut in half.
	Truncated Fault = "truncated"
	// Endless answers 200 with a JSON body that never ends.
	Endless Fault = "endless"
)

// Faults lists every fault but OK, for table tests.
var Faults = []Fault{Unauthorized, Forbidden, RateLimited, ServerError, Slow, HTML, Garbage, Truncated, Endless}

// Request is one request a fake received. It records whether a credential
// was sent, never the credential.
type Request struct {
	Path  string
	Query url.Values
	// Authorized is true when the request carried the right credential.
	Authorized bool
}

// faultRule is a fault on a path ("" for every path) for the next Left
// requests (0: until changed).
type faultRule struct {
	fault Fault
	left  int
}

// server is what every fake shares.
type server struct {
	srv  *httptest.Server
	done chan struct{}

	mu         sync.Mutex
	clock      func() time.Time
	faults     map[string]*faultRule
	bodies     map[string]cannedBody
	hooks      map[string]func(n int)
	counts     map[string]int
	requests   []Request
	latency    time.Duration
	retryAfter int
	slow       time.Duration
	errBody    func(code int, msg string) string
}

type cannedBody struct {
	code int
	body string
}

// route is one endpoint: auth checks the request's credentials and returns
// 0 or an error status with its message; answer builds the 200 body.
type route struct {
	path   string
	auth   func(r *http.Request) (int, string)
	answer func(r *http.Request) (int, string)
	// forbidden, if set, is the body of this endpoint's 403 (OpenAI's
	// session-key answer).
	forbidden string
}

func newServer(t testing.TB, errBody func(code int, msg string) string, routes ...route) *server {
	t.Helper()
	s := &server{
		done:       make(chan struct{}),
		clock:      time.Now,
		faults:     make(map[string]*faultRule),
		bodies:     make(map[string]cannedBody),
		hooks:      make(map[string]func(int)),
		counts:     make(map[string]int),
		retryAfter: 1,
		slow:       time.Hour,
		errBody:    errBody,
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc("GET "+rt.path, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, rt) })
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, http.StatusNotFound, errBody(http.StatusNotFound, "Unknown request URL: "+r.Method+" "+r.URL.Path))
	})
	// httptest listens on 127.0.0.1: loopback only.
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL to configure (no trailing slash).
func (s *server) URL() string { return s.srv.URL }

// Close stops the server; slow and endless answers in flight end at once.
// Tests need not call it: it runs at cleanup.
func (s *server) Close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// SetFault makes every endpoint misbehave with f until changed; OK heals it.
func (s *server) SetFault(f Fault) { s.SetFaultN("", f, 0) }

// SetFaultN makes the next n requests to path ("" for every path)
// misbehave with f; n 0 means until changed. A fault on a path wins over one
// on every path.
func (s *server) SetFaultN(path string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == OK {
		delete(s.faults, path)
		return
	}
	s.faults[path] = &faultRule{fault: f, left: n}
}

// SetBody makes path answer with exactly this status and body (JSON
// content type) until cleared with an empty body: the providers.md examples
// verbatim, or a hand-made bad body.
func (s *server) SetBody(path string, code int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == "" {
		delete(s.bodies, path)
		return
	}
	s.bodies[path] = cannedBody{code: code, body: body}
}

// SetLatency delays every answer by d (as a distant API would).
func (s *server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRetryAfter sets the Retry-After seconds of RateLimited answers
// (default 1).
func (s *server) SetRetryAfter(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = seconds
}

// SetSlow sets how long Slow answers wait (default an hour).
func (s *server) SetSlow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow = d
}

// SetClock sets the fake's clock, which dates cost buckets and recharges;
// the default is time.Now.
func (s *server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

func (s *server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock().UTC()
}

// OnRequest calls fn before path answers its nth request (n from 1),
// faulty or not. fn may change the fake's state.
func (s *server) OnRequest(path string, fn func(n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[path] = fn
}

// Requests returns every request received, in order.
func (s *server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests path received.
func (s *server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

func (s *server) serve(w http.ResponseWriter, r *http.Request, rt route) {
	code, msg := rt.auth(r)
	s.mu.Lock()
	s.counts[rt.path]++
	n := s.counts[rt.path]
	s.requests = append(s.requests, Request{Path: rt.path, Query: r.URL.Query(), Authorized: code == 0})
	hook, latency, retryAfter, slow := s.hooks[rt.path], s.latency, s.retryAfter, s.slow
	fault := OK
	for _, key := range []string{rt.path, ""} {
		if fr := s.faults[key]; fr != nil {
			fault = fr.fault
			if fr.left > 0 {
				if fr.left--; fr.left == 0 {
					delete(s.faults, key)
				}
			}
			break
		}
	}
	canned, hasCanned := s.bodies[rt.path]
	s.mu.Unlock()

	if hook != nil {
		hook(n)
	}
	if !s.pause(r.Context(), latency) {
		return
	}
	switch fault {
	case Unauthorized:
		s.writeJSON(w, http.StatusUnauthorized, s.errBody(http.StatusUnauthorized, "Invalid authentication credentials"))
		return
	case Forbidden:
		body := rt.forbidden
		if body == "" {
			body = s.errBody(http.StatusForbidden, "You are not allowed to access this resource")
		}
		s.writeJSON(w, http.StatusForbidden, body)
		return
	case RateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		s.writeJSON(w, http.StatusTooManyRequests, s.errBody(http.StatusTooManyRequests, "Rate limit exceeded, please retry later"))
		return
	case ServerError:
		s.writeJSON(w, http.StatusInternalServerError, s.errBody(http.StatusInternalServerError, "The server had an error while processing your request"))
		return
	case HTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>")
		return
	case Garbage:
		s.writeJSON(w, http.StatusOK, "}{ this is not json ]")
		return
	case Endless:
		s.endless(w, r)
		return
	case Slow:
		if !s.pause(r.Context(), slow) {
			return
		}
	}
	if code == http.StatusForbidden && rt.forbidden != "" {
		s.writeJSON(w, code, rt.forbidden)
		return
	}
	if code != 0 {
		s.writeJSON(w, code, s.errBody(code, msg))
		return
	}
	var body string
	if hasCanned {
		code, body = canned.code, canned.body
	} else {
		code, body = rt.answer(r)
	}
	if fault == Truncated {
		body = body[:len(body)/2]
	}
	s.writeJSON(w, code, body)
}

// pause waits d, or less if the client leaves or the server stops; it
// reports whether to go on answering.
func (s *server) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

func (s *server) endless(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	chunk := []byte(`{"object":"bucket","start_time":1730419200,"end_time":1730505600,"results":[]},`)
	if _, err := w.Write([]byte(`{"object":"page","data":[`)); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		default:
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

func (s *server) writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	const p = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

// newKey returns a random credential with a provider's prefix, so a test can
// search every output for it.
func newKey(prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

// masked renders a key the way providers quote it in errors: "sk-adm...f3a".
func masked(key string) string {
	if len(key) < 10 {
		return "***"
	}
	return key[:6] + "***" + key[len(key)-3:]
}

// day returns the UTC midnight starting t's day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
