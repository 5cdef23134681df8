// Package webhooktest is a fake JSON-over-HTTP endpoint for the tests of
// guardd's webhook, PagerDuty and Alertmanager receivers: it listens on
// 127.0.0.1, records the requests it receives, and answers in one of the
// receiver contract's modes.
package webhooktest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/guardd/guardd/internal/alert/receivertest"
)

// Config says what the endpoint serves.
type Config struct {
	// Path is the only path served; other paths get 404.
	Path string
	// Accept checks a request in OK mode and gives the answer: a 2xx
	// counts as delivered. Nil accepts everything with 200 "ok".
	Accept func(r *http.Request, body []byte) (code int, answer string)
	// Reject is the answer in Rejected mode, such as 400 and the service's
	// error body.
	RejectCode int
	Reject     string
}

// Request is one request received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	// Code is the status answered.
	Code int
}

// Server is a fake endpoint. It is safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	cfg  Config
	mode receivertest.Mode
	stop chan struct{}

	mu        sync.Mutex
	reqs      []Request
	delivered int
}

// New starts a fake answering in mode; it is closed when the test ends. In
// Down mode it is closed at once, so that connections are refused.
func New(t testing.TB, mode receivertest.Mode, cfg Config) *Server {
	t.Helper()
	s := &Server{cfg: cfg, mode: mode, stop: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.stop)
		s.srv.Close()
	})
	if mode == receivertest.Down {
		s.srv.Close()
	}
	return s
}

// URL is the endpoint's URL, path included.
func (s *Server) URL() string { return s.srv.URL + s.cfg.Path }

// Base is the server's URL without the path.
func (s *Server) Base() string { return s.srv.URL }

// Requests returns the requests received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		r.Body = bytes.Clone(r.Body)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Delivered counts the requests answered with a 2xx.
func (s *Server) Delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	code, answer := http.StatusOK, "ok"
	header := w.Header()
	switch {
	case r.URL.Path != s.cfg.Path:
		code, answer = http.StatusNotFound, "404 page not found"
	case s.mode == receivertest.RateLimited:
		code, answer = http.StatusTooManyRequests, `{"error":"rate limited"}`
		header.Set("Retry-After", strconv.Itoa(int(receivertest.RetryAfter.Seconds())))
	case s.mode == receivertest.ServerError:
		code, answer = http.StatusServiceUnavailable, "<html>503 Service Unavailable</html>"
	case s.mode == receivertest.Rejected:
		code, answer = s.cfg.RejectCode, s.cfg.Reject
		if code == 0 {
			code = http.StatusBadRequest
		}
	case s.mode == receivertest.Hang:
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
		return
	case s.cfg.Accept != nil:
		code, answer = s.cfg.Accept(r, body)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Code: code})
	if code >= 200 && code < 300 {
		s.delivered++
	}
	s.mu.Unlock()
	w.WriteHeader(code)
	_, _ = io.WriteString(w, answer)
}
