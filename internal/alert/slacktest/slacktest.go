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
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

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

// The error answers of real Slack incoming webhooks.
var (
	// NoService is the answer to a wrong or revoked webhook URL.
	NoService = Fault{Status: http.StatusNotFound, Body: "no_service"}
	// InvalidBlocks is the answer to blocks Slack cannot render.
	InvalidBlocks = Fault{Status: http.StatusBadRequest, Body: "invalid_blocks"}
	// ActionProhibited is the answer when a workspace admin restricted the
	// webhook.
	ActionProhibited = Fault{Status: http.StatusForbidden, Body: "action_prohibited"}
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

// Slack's Block Kit limits, in characters.
const (
	maxBlocks      = 50
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxBodyBytes   = 1 << 20
)

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
	if err := json.Unmarshal(body, &msg); err != nil || !validBlocks(msg.Blocks) {
		answer(w, InvalidBlocks)
		return
	}
	if msg.Text == "" && (msg.Blocks == nil || len(msg.Blocks.BlockSet) == 0) {
		answer(w, Fault{Status: http.StatusBadRequest, Body: "no_text"})
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

// validBlocks checks the Block Kit limits Slack enforces on the block types
// guardd sends.
func validBlocks(b *slack.Blocks) bool {
	if b == nil {
		return true
	}
	if len(b.BlockSet) > maxBlocks {
		return false
	}
	for _, blk := range b.BlockSet {
		if err := checkBlock(blk); err != nil {
			return false
		}
	}
	return true
}

func checkBlock(blk slack.Block) error {
	switch b := blk.(type) {
	case *slack.HeaderBlock:
		if b.Text == nil || b.Text.Type != slack.PlainTextType {
			return fmt.Errorf("header: want plain_text")
		}
		return checkText(b.Text, maxHeaderText)
	case *slack.SectionBlock:
		if b.Text == nil && len(b.Fields) == 0 {
			return fmt.Errorf("section: no text and no fields")
		}
		if b.Text != nil {
			if err := checkText(b.Text, maxSectionText); err != nil {
				return err
			}
		}
		if len(b.Fields) > maxFields {
			return fmt.Errorf("section: %d fields", len(b.Fields))
		}
		for _, f := range b.Fields {
			if err := checkText(f, maxFieldText); err != nil {
				return err
			}
		}
	case *slack.ActionBlock:
		if b.Elements == nil || len(b.Elements.ElementSet) == 0 || len(b.Elements.ElementSet) > 25 {
			return fmt.Errorf("actions: want 1 to 25 elements")
		}
		for _, e := range b.Elements.ElementSet {
			be, ok := e.(*slack.ButtonBlockElement)
			if !ok {
				continue
			}
			if err := checkText(be.Text, 75); err != nil || be.Text.Type != slack.PlainTextType {
				return fmt.Errorf("button: want plain_text of 1 to 75 characters")
			}
			if n := utf8.RuneCountInString(be.ActionID); n == 0 || n > 255 {
				return fmt.Errorf("button: action_id of %d characters", n)
			}
			if n := utf8.RuneCountInString(be.Value); n > 2000 {
				return fmt.Errorf("button: value of %d characters", n)
			}
		}
	case *slack.ContextBlock:
		if n := len(b.ContextElements.Elements); n == 0 || n > 10 {
			return fmt.Errorf("context: %d elements", n)
		}
		for _, e := range b.ContextElements.Elements {
			if t, ok := e.(*slack.TextBlockObject); ok {
				if err := checkText(t, maxSectionText); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkText(t *slack.TextBlockObject, limit int) error {
	if t.Type != slack.PlainTextType && t.Type != slack.MarkdownType {
		return fmt.Errorf("text type %q", t.Type)
	}
	if n := utf8.RuneCountInString(t.Text); n == 0 || n > limit {
		return fmt.Errorf("text of %d characters, want 1 to %d", n, limit)
	}
	return nil
}
