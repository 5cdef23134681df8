package slacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

// Web API error answers (HTTP 200 with ok:false and this error code).
var (
	InvalidAuth     = APIError("invalid_auth")
	NotAuthed       = APIError("not_authed")
	ChannelNotFound = APIError("channel_not_found")
	NotInChannel    = APIError("not_in_channel")
	MessageNotFound = APIError("message_not_found")
	MissingScope    = APIError("missing_scope")
	InternalError   = APIError("internal_error")
)

// APIError is a Web API answer of HTTP 200 with {"ok":false,"error":code}.
func APIError(code string) Fault { return Fault{Status: http.StatusOK, Body: code} }

// API is a fake Slack Web API on 127.0.0.1: chat.postMessage,
// chat.update and auth.test as form posts carrying the bot token in the
// form field "token", and apps.connections.open plus a Socket Mode
// websocket for the app-level token. It keeps channels, messages and
// threads as Slack would, records every call, and can answer with Slack's
// errors. It is safe for concurrent use.
type API struct {
	srv                *httptest.Server
	botToken, appToken string

	mu       sync.Mutex
	channels map[string]*Channel // by ID
	messages []*Posted
	calls    []Call
	faults   map[string]*Fault
	failNext map[string]int
	next     map[string]Fault
	seq      int

	push      chan []byte
	connected chan struct{}
	connOnce  sync.Once
	acks      map[string]chan struct{}
}

// Channel is a channel the fake knows.
type Channel struct {
	ID, Name string
	// Member says whether the bot is in the channel; Archived whether the
	// channel is archived.
	Member, Archived bool
}

// Posted is a message as the channel shows it now.
type Posted struct {
	Channel, TS string
	// ThreadTS is the ts of the message it replies to; empty for a
	// message at the top of the channel.
	ThreadTS string
	Text     string
	Blocks   slack.Blocks
	// Edits counts the chat.update calls that changed it.
	Edits int
}

// Call is one request the fake received.
type Call struct {
	// Method is the Web API method, such as "chat.postMessage".
	Method string
	// Token is the token the call carried: the form field "token" for chat
	// methods, the bearer token for apps.connections.open.
	Token string
	// Form is the request's form without the token.
	Form url.Values
	// Answer is the error code or HTTP status the fake answered; empty
	// for ok.
	Answer string
}

// The channels every fake starts with: #alerts (C0ALERTS, the bot is a
// member), #private (C0PRIVATE, not a member) and #old (C0OLD, archived).
const (
	AlertsChannel  = "C0ALERTS"
	PrivateChannel = "C0PRIVATE"
	OldChannel     = "C0OLD"
)

// NewAPI starts a fake Web API accepting a random bot token (xoxb-…) and
// app-level token (xapp-…); it is closed when the test ends.
func NewAPI(t testing.TB) *API {
	t.Helper()
	a := &API{
		botToken: "xoxb-" + randomHex(12),
		appToken: "xapp-1-" + randomHex(12),
		channels: map[string]*Channel{
			AlertsChannel:  {ID: AlertsChannel, Name: "alerts", Member: true},
			PrivateChannel: {ID: PrivateChannel, Name: "private"},
			OldChannel:     {ID: OldChannel, Name: "old", Member: true, Archived: true},
		},
		faults:    map[string]*Fault{},
		failNext:  map[string]int{},
		next:      map[string]Fault{},
		push:      make(chan []byte, 16),
		connected: make(chan struct{}),
		acks:      map[string]chan struct{}{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat.postMessage", a.postMessage)
	mux.HandleFunc("POST /api/chat.update", a.update)
	mux.HandleFunc("POST /api/auth.test", a.authTest)
	mux.HandleFunc("POST /api/apps.connections.open", a.connectionsOpen)
	mux.HandleFunc("GET /link/", a.socket)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// URL is the Web API's base URL, without the trailing slash slack-go needs.
func (a *API) URL() string { return a.srv.URL + "/api" }

// BotToken and AppToken are the tokens the fake accepts.
func (a *API) BotToken() string { return a.botToken }
func (a *API) AppToken() string { return a.appToken }

// Close shuts the server down early, so that requests fail with a network
// error.
func (a *API) Close() { a.srv.Close() }

// SetFault makes every later call of method ("chat.postMessage",
// "chat.update", "apps.connections.open") get f, until ClearFault.
func (a *API) SetFault(method string, f Fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults[method] = &f
}

// ClearFault makes every method work again.
func (a *API) ClearFault() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.faults)
	clear(a.failNext)
}

// FailNext makes the next n calls of method get f.
func (a *API) FailNext(method string, n int, f Fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failNext[method], a.next[method] = n, f
}

// Delete removes a message, as a person deleting it in Slack would.
func (a *API) Delete(channel, ts string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.messages = slices.DeleteFunc(a.messages, func(m *Posted) bool { return m.Channel == channel && m.TS == ts })
}

// Calls returns every call received, in order.
func (a *API) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// Messages returns the messages at the top of channel, oldest first.
func (a *API) Messages(channel string) []Posted {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Posted
	for _, m := range a.messages {
		if m.Channel == channel && m.ThreadTS == "" {
			out = append(out, *m)
		}
	}
	return out
}

// Replies returns the replies in the thread of the message ts, oldest
// first.
func (a *API) Replies(channel, ts string) []Posted {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Posted
	for _, m := range a.messages {
		if m.Channel == channel && m.ThreadTS == ts {
			out = append(out, *m)
		}
	}
	return out
}

// fault returns the fault to answer method with, if any. a.mu is held.
func (a *API) fault(method string) *Fault {
	if a.failNext[method] > 0 {
		a.failNext[method]--
		f := a.next[method]
		return &f
	}
	return a.faults[method]
}

// begin records a call and returns the fault to answer it with, if any.
func (a *API) begin(method, token string, form url.Values) (int, *Fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	form = cloneValues(form)
	form.Del("token")
	a.calls = append(a.calls, Call{Method: method, Token: token, Form: form})
	return len(a.calls) - 1, a.fault(method)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func (a *API) answered(i int, answer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[i].Answer = answer
}

// fail answers with f: a Web API error (ok:false) or an HTTP error.
func (a *API) fail(w http.ResponseWriter, i int, f Fault) {
	if f.Status == 0 || f.Status == http.StatusOK {
		a.answered(i, f.Body)
		writeJSON(w, map[string]any{"ok": false, "error": f.Body})
		return
	}
	a.answered(i, strconv.Itoa(f.Status))
	answer(w, f)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// form reads a chat method's form body and checks its token.
func (a *API) form(w http.ResponseWriter, r *http.Request, method string) (url.Values, int, bool) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		i, _ := a.begin(method, "", nil)
		a.fail(w, i, APIError("invalid_form_data"))
		return nil, 0, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		i, _ := a.begin(method, "", nil)
		a.fail(w, i, APIError("invalid_form_data"))
		return nil, 0, false
	}
	tok := r.PostForm.Get("token")
	i, f := a.begin(method, tok, r.PostForm)
	switch {
	case f != nil:
		a.fail(w, i, *f)
		return nil, 0, false
	case tok == "":
		a.fail(w, i, NotAuthed)
		return nil, 0, false
	case tok != a.botToken:
		a.fail(w, i, InvalidAuth)
		return nil, 0, false
	}
	return r.PostForm, i, true
}

// channel finds a channel by ID, or by name when byName. a.mu is held.
func (a *API) channel(ref string, byName bool) *Channel {
	if c, ok := a.channels[ref]; ok {
		return c
	}
	if byName {
		name := strings.TrimPrefix(ref, "#")
		for _, c := range a.channels {
			if c.Name == name {
				return c
			}
		}
	}
	return nil
}

// content reads a message's text and blocks; the code is the error to
// answer when they are unusable.
func content(form url.Values) (string, slack.Blocks, string) {
	text := form.Get("text")
	var blocks slack.Blocks
	var raw json.RawMessage
	if b := form.Get("blocks"); b != "" {
		raw = json.RawMessage(b)
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return "", slack.Blocks{}, "invalid_blocks"
		}
	}
	if code := checkMessage(text, raw); code != "" {
		return "", slack.Blocks{}, code
	}
	return text, blocks, ""
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request) {
	form, i, ok := a.form(w, r, "chat.postMessage")
	if !ok {
		return
	}
	text, blocks, code := content(form)
	a.mu.Lock()
	c := a.channel(form.Get("channel"), true)
	switch {
	case c == nil:
		code = "channel_not_found"
	case !c.Member:
		code = "not_in_channel"
	case c.Archived:
		code = "is_archived"
	}
	if code != "" {
		a.mu.Unlock()
		a.fail(w, i, APIError(code))
		return
	}
	a.seq++
	m := &Posted{Channel: c.ID, TS: fmt.Sprintf("1700000000.%06d", a.seq), Text: text, Blocks: blocks}
	if ts := form.Get("thread_ts"); ts != "" && slices.ContainsFunc(a.messages, func(p *Posted) bool {
		return p.Channel == c.ID && p.TS == ts && p.ThreadTS == ""
	}) {
		// Like Slack, a reply to a message that is gone goes to the top of
		// the channel.
		m.ThreadTS = ts
	}
	a.messages = append(a.messages, m)
	a.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": wire(m)})
}

// The workspace and bot user auth.test reports for the bot token.
const (
	Team    = "Acme"
	BotUser = "guardd"
)

// authTest answers auth.test as Slack does for a bot token: who the token
// is, posting nothing.
func (a *API) authTest(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := a.form(w, r, "auth.test"); !ok {
		return
	}
	writeJSON(w, map[string]any{"ok": true, "url": "https://acme.slack.com/", "team": Team, "user": BotUser,
		"team_id": "T0ACME", "user_id": "U0GUARDD", "bot_id": "B0GUARDD", "is_enterprise_install": false})
}

func (a *API) update(w http.ResponseWriter, r *http.Request) {
	form, i, ok := a.form(w, r, "chat.update")
	if !ok {
		return
	}
	text, blocks, code := content(form)
	a.mu.Lock()
	c := a.channel(form.Get("channel"), false)
	var m *Posted
	if c != nil {
		if j := slices.IndexFunc(a.messages, func(p *Posted) bool { return p.Channel == c.ID && p.TS == form.Get("ts") }); j >= 0 {
			m = a.messages[j]
		}
	}
	switch {
	case code != "":
	case c == nil:
		code = "channel_not_found"
	case m == nil:
		code = "message_not_found"
	}
	if code != "" {
		a.mu.Unlock()
		a.fail(w, i, APIError(code))
		return
	}
	m.Text, m.Blocks = text, blocks
	m.Edits++
	out := wire(m)
	a.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": text, "message": out})
}

// wire is a message as the Web API returns it.
func wire(m *Posted) map[string]any {
	out := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "blocks": m.Blocks}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	return out
}

// connectionsOpen answers apps.connections.open with the URL of the
// fake's websocket.
func (a *API) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	i, f := a.begin("apps.connections.open", tok, nil)
	switch {
	case f != nil:
		a.fail(w, i, *f)
	case tok == "":
		a.fail(w, i, NotAuthed)
	case tok != a.appToken:
		a.fail(w, i, InvalidAuth)
	default:
		u := "ws" + strings.TrimPrefix(a.srv.URL, "http") + "/link/?ticket=" + randomHex(8)
		writeJSON(w, map[string]any{"ok": true, "url": u})
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// socket speaks Socket Mode: hello, then the envelopes Press queues, and
// it notes the acks that come back.
func (a *API) socket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	hello := map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A0GUARDD"}}
	if err := conn.WriteJSON(hello); err != nil {
		return
	}
	_ = conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
	a.connOnce.Do(func() { close(a.connected) })

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ack struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if err := conn.ReadJSON(&ack); err != nil {
				return
			}
			a.mu.Lock()
			if ch, ok := a.acks[ack.EnvelopeID]; ok {
				delete(a.acks, ack.EnvelopeID)
				close(ch)
			}
			a.mu.Unlock()
		}
	}()
	for {
		select {
		case msg := <-a.push:
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		case <-done:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// WaitConnected waits until a Socket Mode client has connected.
func (a *API) WaitConnected(ctx context.Context) error {
	select {
	case <-a.connected:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// User is who presses a button.
type User struct{ ID, Name string }

// Press sends the block_actions interaction Slack sends when user presses
// the button actionID of the message ts in channel, over the Socket Mode
// connection, and returns a channel that is closed when the client
// acknowledges the envelope. The button's value is the one the message
// carries; Press fails when the message has no such button.
func (a *API) Press(channel, ts, actionID string, user User) (<-chan struct{}, error) {
	a.mu.Lock()
	j := slices.IndexFunc(a.messages, func(p *Posted) bool { return p.Channel == channel && p.TS == ts })
	if j < 0 {
		a.mu.Unlock()
		return nil, fmt.Errorf("no message %s in %s", ts, channel)
	}
	m := *a.messages[j]
	var button *slack.ButtonBlockElement
	blockID := ""
	for _, b := range m.Blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok && ab.Elements != nil {
			for _, e := range ab.Elements.ElementSet {
				if be, ok := e.(*slack.ButtonBlockElement); ok && be.ActionID == actionID {
					button, blockID = be, ab.BlockID
				}
			}
		}
	}
	if button == nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("message %s has no button %s", ts, actionID)
	}
	envelope := "env-" + randomHex(6)
	ack := make(chan struct{})
	a.acks[envelope] = ack
	ch := a.channels[channel]
	a.mu.Unlock()

	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": user.ID, "username": user.Name, "name": user.Name, "team_id": "T0GUARDD"},
		"api_app_id": "A0GUARDD",
		"token":      "verification-token",
		"container":  map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id": "1.2.3",
		"team":       map[string]any{"id": "T0GUARDD", "domain": "guardd"},
		"channel":    map[string]any{"id": channel, "name": ch.Name},
		"message":    wire(&m),
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": blockID, "value": button.Value, "type": "button",
			"text": button.Text, "action_ts": "1700000001.000001",
		}},
	}
	b, err := json.Marshal(map[string]any{
		"envelope_id": envelope, "type": "interactive", "accepts_response_payload": false, "payload": payload,
	})
	if err != nil {
		return nil, err
	}
	a.push <- b
	return ack, nil
}
