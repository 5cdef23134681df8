// Package heartbeattest is a fake healthchecks.io ping endpoint on
// 127.0.0.1 for tests: it answers a check's ping URL and its /start and
// /fail as healthchecks.io does (200 "OK"; 404 "not found" for a check it
// does not know) and records every ping. It can answer with an error or
// hang, as a service that is down does.
package heartbeattest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Key is the check's secret part of the URL: recognisable, so tests can
// look for it in output.
const Key = "7f3c9e1a-hb5e-4d2b-9c8f-SECRETcheck01"

// Ping is one ping the server received.
type Ping struct {
	// Kind is "success", "start" or "fail".
	Kind   string
	Method string
	Body   string
}

// Server is a running fake.
type Server struct {
	srv  *httptest.Server
	mu   sync.Mutex
	ping []Ping
	code int
	hang chan struct{} // non-nil: every ping waits until it is closed or the client gives up
	got  chan Ping
}

// New starts a fake; it stops when the test ends.
func New(t testing.TB) *Server {
	s := &Server{got: make(chan Ping, 1024)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		if s.hang != nil {
			close(s.hang)
			s.hang = nil
		}
		s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

// URL is the check's ping URL, which holds Key.
func (s *Server) URL() string { return s.srv.URL + "/ping/" + Key }

// Base is the server's URL, without a check.
func (s *Server) Base() string { return s.srv.URL }

// SetStatus makes every ping answer code (0: 200 again).
func (s *Server) SetStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code = code
}

// Hang makes every ping wait, unanswered, until the client gives up or the
// test ends. It is recorded when it arrives.
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
}

// Pings returns the pings received so far, in order.
func (s *Server) Pings() []Ping {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ping(nil), s.ping...)
}

// Received delivers each ping as it is recorded.
func (s *Server) Received() <-chan Ping { return s.got }

// Close stops the server: pings then fail to connect.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 100<<10))
	rest, ok := strings.CutPrefix(r.URL.Path, "/ping/"+Key)
	kind := map[string]string{"": "success", "/": "success", "/start": "start", "/fail": "fail"}[rest]
	if !ok || kind == "" || (r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	p := Ping{Kind: kind, Method: r.Method, Body: string(body)}
	s.mu.Lock()
	s.ping = append(s.ping, p)
	code, hang := s.code, s.hang
	s.mu.Unlock()
	select {
	case s.got <- p:
	default:
	}
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	if code != 0 && code != http.StatusOK {
		http.Error(w, http.StatusText(code)+" for "+r.URL.Path, code)
		return
	}
	io.WriteString(w, "OK")
}
