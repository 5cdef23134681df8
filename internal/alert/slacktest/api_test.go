package slacktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type apiAnswer struct {
	code       int
	ok         bool
	err        string
	channel    string
	ts         string
	threadTS   string
	retryAfter string
}

func call(t *testing.T, a *API, method string, form url.Values) apiAnswer {
	t.Helper()
	resp, err := http.PostForm(a.URL()+"/"+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := apiAnswer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var v struct {
		OK      bool   `json:"ok"`
		Error   string `json:"error"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
		Message struct {
			ThreadTS string `json:"thread_ts"`
		} `json:"message"`
	}
	if json.Unmarshal(b, &v) == nil {
		out.ok, out.err, out.channel, out.ts, out.threadTS = v.OK, v.Error, v.Channel, v.TS, v.Message.ThreadTS
	}
	return out
}

func TestAPIPostAndUpdate(t *testing.T) {
	a := NewAPI(t)
	if !strings.HasPrefix(a.BotToken(), "xoxb-") || !strings.HasPrefix(a.AppToken(), "xapp-") {
		t.Errorf("got tokens %q %q, want xoxb- and xapp-", a.BotToken(), a.AppToken())
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"token": {a.BotToken()}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	first := call(t, a, "chat.postMessage", form("channel", "#alerts", "text", "hello"))
	if !first.ok || first.channel != AlertsChannel || first.ts == "" {
		t.Fatalf("post: got %+v, want ok in %s", first, AlertsChannel)
	}
	reply := call(t, a, "chat.postMessage", form("channel", AlertsChannel, "text", "again", "thread_ts", first.ts))
	if !reply.ok || reply.threadTS != first.ts {
		t.Errorf("reply: got %+v, want it in the thread of %s", reply, first.ts)
	}
	orphan := call(t, a, "chat.postMessage", form("channel", AlertsChannel, "text", "orphan", "thread_ts", "1.1"))
	if !orphan.ok || orphan.threadTS != "" {
		t.Errorf("reply to a missing message: got %+v, want it at the top of the channel", orphan)
	}
	if up := call(t, a, "chat.update", form("channel", AlertsChannel, "ts", first.ts, "text", "resolved")); !up.ok {
		t.Errorf("update: got %+v", up)
	}
	msgs := a.Messages(AlertsChannel)
	if len(msgs) != 2 || msgs[0].Text != "resolved" || msgs[0].Edits != 1 || msgs[1].Text != "orphan" {
		t.Errorf("got messages %+v", msgs)
	}
	if r := a.Replies(AlertsChannel, first.ts); len(r) != 1 || r[0].Text != "again" {
		t.Errorf("got replies %+v", r)
	}
	calls := a.Calls()
	if len(calls) != 4 || calls[0].Method != "chat.postMessage" || calls[0].Token != a.BotToken() || calls[0].Form.Get("token") != "" {
		t.Errorf("got calls %+v, want 4 with the token taken out of the form", calls)
	}

	tests := []struct {
		name   string
		method string
		form   url.Values
		want   string
	}{
		{"no token", "chat.postMessage", url.Values{"channel": {"#alerts"}, "text": {"x"}}, "not_authed"},
		{"bad token", "chat.postMessage", url.Values{"token": {"xoxb-nope"}, "channel": {"#alerts"}, "text": {"x"}}, "invalid_auth"},
		{"unknown channel", "chat.postMessage", form("channel", "#nope", "text", "x"), "channel_not_found"},
		{"not a member", "chat.postMessage", form("channel", "#private", "text", "x"), "not_in_channel"},
		{"archived", "chat.postMessage", form("channel", OldChannel, "text", "x"), "is_archived"},
		{"no text", "chat.postMessage", form("channel", AlertsChannel), "no_text"},
		{"bad blocks", "chat.postMessage", form("channel", AlertsChannel, "blocks", `[{"type":"header","text":{"type":"plain_text","text":""}}]`), "invalid_blocks"},
		{"text too long", "chat.postMessage", form("channel", AlertsChannel, "text", strings.Repeat("t", 40001)), "msg_too_long"},
		{"blocks too long together", "chat.update", form("channel", AlertsChannel, "ts", first.ts, "blocks",
			"["+strings.Repeat(`{"type":"section","text":{"type":"mrkdwn","text":"`+strings.Repeat("s", 2500)+`"}},`, 5)+
				`{"type":"header","text":{"type":"plain_text","text":"`+strings.Repeat("h", 150)+`"}}]`), "msg_blocks_too_long"},
		{"update by name", "chat.update", form("channel", "#alerts", "ts", first.ts, "text", "x"), "channel_not_found"},
		{"update unknown", "chat.update", form("channel", AlertsChannel, "ts", "9.9", "text", "x"), "message_not_found"},
	}
	for _, tt := range tests {
		if got := call(t, a, tt.method, tt.form); got.ok || got.err != tt.want || got.code != 200 {
			t.Errorf("%s: got %+v, want HTTP 200 ok:false %s", tt.name, got, tt.want)
		}
	}
}

func TestAPIFaults(t *testing.T) {
	a := NewAPI(t)
	f := url.Values{"token": {a.BotToken()}, "channel": {AlertsChannel}, "text": {"x"}}
	a.FailNext("chat.postMessage", 1, RateLimited(7*time.Second))
	if got := call(t, a, "chat.postMessage", f); got.code != 429 || got.retryAfter != "7" {
		t.Errorf("got %+v, want 429 with Retry-After 7", got)
	}
	a.SetFault("chat.postMessage", ServerError)
	if got := call(t, a, "chat.postMessage", f); got.code != 500 {
		t.Errorf("got %+v, want 500", got)
	}
	a.SetFault("chat.postMessage", MissingScope)
	if got := call(t, a, "chat.postMessage", f); got.err != "missing_scope" {
		t.Errorf("got %+v, want missing_scope", got)
	}
	a.ClearFault()
	if got := call(t, a, "chat.postMessage", f); !got.ok {
		t.Errorf("got %+v after ClearFault, want ok", got)
	}
	if got := a.Calls()[0].Answer; got != "429" {
		t.Errorf("got recorded answer %q, want 429", got)
	}
}

func TestAPIConnectionsOpen(t *testing.T) {
	a := NewAPI(t)
	for tok, want := range map[string]string{"": "not_authed", "xapp-wrong": "invalid_auth", a.AppToken(): ""} {
		req, _ := http.NewRequest(http.MethodPost, a.URL()+"/apps.connections.open", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
			URL   string `json:"url"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v.Error != want || (want == "" && !strings.HasPrefix(v.URL, "ws://127.0.0.1:")) {
			t.Errorf("token %q: got %+v, want error %q", tok, v, want)
		}
	}
	if _, err := a.Press(AlertsChannel, "1.1", "guardd_ack", User{ID: "U1"}); err == nil {
		t.Errorf("Press on a missing message: got no error")
	}
}
