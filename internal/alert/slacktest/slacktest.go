// Package slacktest holds fakes of Slack for tests: an incoming webhook
// (NewWebhook) and the Web API with Socket Mode (NewAPI). They speak Slack's
// wire format on 127.0.0.1, record what they accept, and can answer with the
// errors real Slack gives.
package slacktest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// Fault is an error answer the server gives instead of accepting a message.
type Fault struct {
	// Status is the HTTP status code, Body Slack's error word.
	Status int
	Body   string
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds.
	RetryAfter time.Duration
	// Location, when set, is sent as a Location header: with a 3xx
	// Status, a redirect there.
	Location string
}

// The error answers of real Slack incoming webhooks, with Slack's HTTP
// statuses and bodies
// (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
var (
	// NoService is the answer to a wrong or revoked webhook URL.
	NoService = Fault{Status: http.StatusNotFound, Body: "no_service"}
	// InvalidBlocks is the answer to blocks Slack cannot render.
	InvalidBlocks = Fault{Status: http.StatusBadRequest, Body: "invalid_blocks"}
	// ActionProhibited is the answer when a workspace admin restricted the
	// webhook.
	ActionProhibited = Fault{Status: http.StatusForbidden, Body: "action_prohibited"}
	// ChannelDeleted is the answer when the webhook's channel no longer
	// exists (HTTP 404 channel_not_found).
	ChannelDeleted = Fault{Status: http.StatusNotFound, Body: "channel_not_found"}
	// ChannelArchived is the answer when the webhook's channel was
	// archived (HTTP 410 Gone, channel_is_archived).
	ChannelArchived = Fault{Status: http.StatusGone, Body: "channel_is_archived"}
	// ServerError is an outage on Slack's side.
	ServerError = Fault{Status: http.StatusInternalServerError, Body: "internal_error"}
)

// RateLimited is Slack's 429 answer asking the caller to wait retryAfter
// (whole seconds; zero sends no Retry-After header).
func RateLimited(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, Body: "rate_limited", RetryAfter: retryAfter}
}

// Redirect answers with a 307 to url, which keeps the method and the body:
// a client that follows it sends the message, or the bot's token, to url,
// and the webhook URL in the Referer. Real Slack never redirects; a proxy
// or a mistyped URL may.
func Redirect(url string) Fault {
	return Fault{Status: http.StatusTemporaryRedirect, Location: url}
}

// maxBodyBytes bounds the request bodies the fakes read.
const maxBodyBytes = 1 << 20

// Server is a fake Slack incoming webhook. It is safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	path string

	mu       sync.Mutex
	fault    *Fault
	failNext int
	next     Fault
	requests int
	raw      [][]byte
	messages []slack.WebhookMessage
}

// NewWebhook starts a fake webhook on 127.0.0.1 at a secret-looking path
// (/services/T000/B000/<24 random hex digits>); it is closed when the test
// ends.
func NewWebhook(t testing.TB) *Server {
	t.Helper()
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	s := &Server{path: "/services/T000/B000/" + hex.EncodeToString(b)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the full webhook URL, secret path included.
func (s *Server) URL() string { return s.srv.URL + s.path }

// Path is the secret path of the webhook URL.
func (s *Server) Path() string { return s.path }

// Close shuts the server down early, so that requests fail with a network
// error. It may be called more than once.
func (s *Server) Close() { s.srv.Close() }

// SetFault makes every later request get f, until ClearFault.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = &f
}

// ClearFault makes the server accept messages again.
func (s *Server) ClearFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.failNext = nil, 0
}

// FailNext makes the next n requests get f; later ones succeed (unless
// SetFault is in force).
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.next = n, f
}

// Requests is how many requests the server received, failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Messages are the messages Slack accepted (answered 200 ok), in order:
// what the channel shows.
func (s *Server) Messages() []slack.WebhookMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slack.WebhookMessage(nil), s.messages...)
}

// Raw are the request bodies of the accepted messages, in the order of
// Messages.
func (s *Server) Raw() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.raw))
	for i, b := range s.raw {
		out[i] = bytes.Clone(b)
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	var fault *Fault
	switch {
	case r.URL.Path != s.path:
		fault = &NoService
	case s.failNext > 0:
		s.failNext--
		fault = &s.next
	case s.fault != nil:
		fault = s.fault
	}
	var f Fault
	if fault != nil {
		f = *fault
	}
	s.mu.Unlock()
	if fault != nil {
		answer(w, f)
		return
	}
	if r.Method != http.MethodPost {
		answer(w, Fault{Status: http.StatusBadRequest, Body: "invalid_payload"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		answer(w, Fault{Status: http.StatusBadRequest, Body: "invalid_payload"})
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		answer(w, Fault{Status: http.StatusBadRequest, Body: "invalid_payload"})
		return
	}
	var msg slack.WebhookMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		answer(w, InvalidBlocks)
		return
	}
	if code := checkMessage(msg.Text, obj["blocks"]); code != "" {
		answer(w, Fault{Status: http.StatusBadRequest, Body: code})
		return
	}

	s.mu.Lock()
	s.raw = append(s.raw, body)
	s.messages = append(s.messages, msg)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}

func answer(w http.ResponseWriter, f Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
	}
	if f.Location != "" {
		w.Header().Set("Location", f.Location)
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}
