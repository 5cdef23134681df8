package slacktest

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const okMessage = `{"text":"hi","blocks":[{"type":"header","text":{"type":"plain_text","text":"hi"}},` +
	`{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]}`

type answerWant struct {
	code       int
	body       string
	retryAfter string
}

func do(t *testing.T, method, u, body string) answerWant {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answerWant{code: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After")}
}

// buttonMessage is a message with a button labelled label whose confirm
// dialog says confirm.
func buttonMessage(label, confirm string) string {
	return `{"text":"x","blocks":[{"type":"actions","elements":[{"type":"button","action_id":"a","value":"v",` +
		`"text":{"type":"plain_text","text":"` + label + `"},"confirm":{"title":{"type":"plain_text","text":"Sure?"},` +
		`"text":{"type":"mrkdwn","text":"` + confirm + `"},"confirm":{"type":"plain_text","text":"Yes"},"deny":{"type":"plain_text","text":"No"}}}]}]}`
}

func TestServer(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(s *Server)
		method string
		path   string // replaces the secret path when set
		body   string
		want   answerWant
		posted int
	}{
		{name: "ok", body: okMessage, want: answerWant{code: 200, body: "ok"}, posted: 1},
		{name: "text only", body: `{"text":"hi"}`, want: answerWant{code: 200, body: "ok"}, posted: 1},
		{name: "wrong path", path: "/services/T000/B000/nope", body: okMessage, want: answerWant{code: 404, body: "no_service"}},
		{name: "wrong method", method: http.MethodGet, want: answerWant{code: 400, body: "invalid_payload"}},
		{name: "not json", body: "payload=hi", want: answerWant{code: 400, body: "invalid_payload"}},
		{name: "no text", body: `{}`, want: answerWant{code: 400, body: "no_text"}},
		{
			name: "header too long",
			body: `{"text":"x","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`,
			want: answerWant{code: 400, body: "invalid_blocks"},
		},
		{
			name: "section too long",
			body: `{"text":"x","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3001) + `"}}]}`,
			want: answerWant{code: 400, body: "invalid_blocks"},
		},
		{
			name: "too many blocks",
			body: `{"text":"x","blocks":[` + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]}`,
			want: answerWant{code: 400, body: "invalid_blocks"},
		},
		{
			name: "field too long",
			body: `{"text":"x","blocks":[{"type":"section","fields":[{"type":"mrkdwn","text":"` + strings.Repeat("f", 2001) + `"}]}]}`,
			want: answerWant{code: 400, body: "invalid_blocks"},
		},
		{
			name: "context text too long",
			body: `{"text":"x","blocks":[{"type":"context","elements":[{"type":"mrkdwn","text":"` + strings.Repeat("c", 3001) + `"}]}]}`,
			want: answerWant{code: 400, body: "invalid_blocks"},
		},
		{
			name: "block_id too long",
			body: `{"text":"x","blocks":[{"type":"divider","block_id":"` + strings.Repeat("b", 256) + `"}]}`,
			want: answerWant{code: 400, body: "invalid_blocks"},
		},
		{name: "button text too long", body: buttonMessage(strings.Repeat("b", 76), "fine"), want: answerWant{code: 400, body: "invalid_blocks"}},
		{name: "confirm text too long", body: buttonMessage("Silence", strings.Repeat("c", 301)), want: answerWant{code: 400, body: "invalid_blocks"}},
		{name: "button and confirm at their limits", body: buttonMessage(strings.Repeat("b", 75), strings.Repeat("c", 300)),
			want: answerWant{code: 200, body: "ok"}, posted: 1},
		{
			name: "blocks too long together",
			body: `{"text":"x","blocks":[` + strings.Repeat(`{"type":"section","text":{"type":"mrkdwn","text":"`+strings.Repeat("s", 3000)+`"}},`, 4) +
				`{"type":"section","text":{"type":"mrkdwn","text":"s"}}]}`,
			want: answerWant{code: 400, body: "msg_blocks_too_long"},
		},
		{name: "text too long", body: `{"text":"` + strings.Repeat("t", 40001) + `"}`, want: answerWant{code: 400, body: "msg_too_long"}},
		{name: "no_service", setup: func(s *Server) { s.SetFault(NoService) }, body: okMessage, want: answerWant{code: 404, body: "no_service"}},
		{name: "channel deleted", setup: func(s *Server) { s.SetFault(ChannelDeleted) }, body: okMessage, want: answerWant{code: 404, body: "channel_not_found"}},
		{name: "channel archived", setup: func(s *Server) { s.SetFault(ChannelArchived) }, body: okMessage, want: answerWant{code: 410, body: "channel_is_archived"}},
		{name: "invalid_blocks", setup: func(s *Server) { s.SetFault(InvalidBlocks) }, body: okMessage, want: answerWant{code: 400, body: "invalid_blocks"}},
		{name: "action_prohibited", setup: func(s *Server) { s.SetFault(ActionProhibited) }, body: okMessage, want: answerWant{code: 403, body: "action_prohibited"}},
		{
			name:  "rate limited",
			setup: func(s *Server) { s.SetFault(RateLimited(7 * time.Second)) },
			body:  okMessage,
			want:  answerWant{code: 429, body: "rate_limited", retryAfter: "7"},
		},
		{name: "server error", setup: func(s *Server) { s.SetFault(ServerError) }, body: okMessage, want: answerWant{code: 500, body: "internal_error"}},
		{
			name:   "fault cleared",
			setup:  func(s *Server) { s.SetFault(ServerError); s.ClearFault() },
			body:   okMessage,
			want:   answerWant{code: 200, body: "ok"},
			posted: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewWebhook(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			u := s.URL()
			if tt.path != "" {
				p, _ := url.Parse(u)
				p.Path = tt.path
				u = p.String()
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			if got := do(t, method, u, tt.body); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got := len(s.Messages()); got != tt.posted {
				t.Errorf("got %d messages, want %d", got, tt.posted)
			}
			if got := len(s.Raw()); got != tt.posted {
				t.Errorf("got %d raw payloads, want %d", got, tt.posted)
			}
			if got := s.Requests(); got != 1 {
				t.Errorf("got %d requests, want 1", got)
			}
		})
	}
}

func TestServerRecords(t *testing.T) {
	s := NewWebhook(t)
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("got URL %q, want one on 127.0.0.1", s.URL())
	}
	if got := s.Path(); !strings.HasPrefix(got, "/services/T000/B000/") || len(got) != len("/services/T000/B000/")+24 {
		t.Errorf("got path %q, want /services/T000/B000/ and 24 hex digits", got)
	}
	do(t, http.MethodPost, s.URL(), okMessage)
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	if got, want := msgs[0].Text, "hi"; got != want {
		t.Errorf("got text %q, want %q", got, want)
	}
	if got, want := len(msgs[0].Blocks.BlockSet), 2; got != want {
		t.Errorf("got %d blocks, want %d", got, want)
	}
	if got, want := string(s.Raw()[0]), okMessage; got != want {
		t.Errorf("got raw %s, want %s", got, want)
	}
}

func TestServerFailNext(t *testing.T) {
	s := NewWebhook(t)
	s.FailNext(2, ServerError)
	var got []int
	for range 3 {
		got = append(got, do(t, http.MethodPost, s.URL(), okMessage).code)
	}
	if want := []int{500, 500, 200}; !slices.Equal(got, want) {
		t.Errorf("got codes %v, want %v", got, want)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("got %d messages, want 1", n)
	}
}

func TestServerConcurrent(t *testing.T) {
	s := NewWebhook(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := http.Post(s.URL(), "application/json", strings.NewReader(okMessage))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			_ = s.Messages()
		})
	}
	wg.Wait()
	if got, want := len(s.Messages()), 20; got != want {
		t.Errorf("got %d messages, want %d", got, want)
	}
	if got, want := s.Requests(), 20; got != want {
		t.Errorf("got %d requests, want %d", got, want)
	}
}
