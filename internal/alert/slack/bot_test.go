package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/secret"
)

// hang is a server that never answers.
func hang(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	return srv.URL
}

func TestWebhookContract(t *testing.T) {
	receivertest.Run(t, func(t *testing.T, mode receivertest.Mode, log *zap.Logger) receivertest.Target {
		srv := slacktest.NewWebhook(t)
		u := srv.URL()
		switch mode {
		case receivertest.RateLimited:
			srv.SetFault(slacktest.RateLimited(receivertest.RetryAfter))
		case receivertest.ServerError:
			srv.SetFault(slacktest.ServerError)
		case receivertest.Rejected:
			srv.SetFault(slacktest.NoService)
		case receivertest.Hang:
			u = hang(t) + srv.Path()
		case receivertest.Down:
			srv.Close()
		}
		return receivertest.Target{
			Notifier:   NewWebhook(secret.New(u), &http.Client{Timeout: 5 * time.Second}, log),
			Secrets:    []string{u, srv.Path(), strings.TrimPrefix(srv.Path(), "/services/T000/B000/")},
			Delivered:  func() int { return len(srv.Messages()) },
			RetryAfter: true,
			RejectHint: "create a new incoming webhook",
		}
	})
}

func TestBotContract(t *testing.T) {
	receivertest.Run(t, func(t *testing.T, mode receivertest.Mode, log *zap.Logger) receivertest.Target {
		api := slacktest.NewAPI(t)
		o := BotOptions{Token: secret.New(api.BotToken()), Channel: slacktest.AlertsChannel, APIURL: api.URL(),
			Client: &http.Client{Timeout: 5 * time.Second}, Log: log, Buttons: true}
		switch mode {
		case receivertest.RateLimited:
			api.SetFault("chat.postMessage", slacktest.RateLimited(receivertest.RetryAfter))
		case receivertest.ServerError:
			api.SetFault("chat.postMessage", slacktest.ServerError)
		case receivertest.Rejected:
			o.Token = secret.New("xoxb-revoked-7e3f9a1c5d")
		case receivertest.Hang:
			o.APIURL = hang(t)
		case receivertest.Down:
			api.Close()
		}
		return receivertest.Target{
			Notifier:   NewBot(o),
			Secrets:    []string{api.BotToken(), "xoxb-revoked-7e3f9a1c5d"},
			Delivered:  func() int { return len(api.Messages(slacktest.AlertsChannel)) },
			RetryAfter: true,
			RejectHint: "put its bot token (xoxb-…) in the config",
			Refs:       true,
		}
	})
}

func newBot(t *testing.T, api *slacktest.API, buttons bool) *Bot {
	t.Helper()
	return NewBot(BotOptions{Token: secret.New(api.BotToken()), Channel: "#alerts", APIURL: api.URL() + "/",
		Links: receivertest.Links, Buttons: buttons})
}

// TestBotLifecycle follows one alert: posted, repeated twice in its thread,
// then edited to resolved with a reply in the thread.
func TestBotLifecycle(t *testing.T) {
	api := slacktest.NewAPI(t)
	bot := newBot(t, api, true)
	n := receivertest.ByRule("recharge-burst")

	ref, retry, err := bot.Send(t.Context(), n)
	if err != nil || retry {
		t.Fatalf("first post: got retry %t, error %v", retry, err)
	}
	if ref.Channel != slacktest.AlertsChannel || ref.MessageID == "" {
		t.Fatalf("first post: got ref %+v, want the message in %s", ref, slacktest.AlertsChannel)
	}
	for i := range 2 {
		rep := receivertest.Repeat(n)
		rep.At = rep.At.Add(time.Duration(i) * 4 * time.Hour)
		rep.Ref = ref
		got, retry, err := bot.Send(t.Context(), rep)
		if err != nil || retry || !got.IsZero() {
			t.Fatalf("repeat %d: got ref %+v, retry %t, error %v; want a zero ref", i, got, retry, err)
		}
	}
	res := receivertest.Resolved(n)
	res.Ref = ref
	if got, retry, err := bot.Send(t.Context(), res); err != nil || retry || !got.IsZero() {
		t.Fatalf("resolution: got ref %+v, retry %t, error %v; want a zero ref", got, retry, err)
	}

	top := api.Messages(slacktest.AlertsChannel)
	if len(top) != 1 {
		t.Fatalf("got %d messages in the channel, want 1", len(top))
	}
	m := top[0]
	if m.Edits != 1 || !strings.HasPrefix(m.Text, "[RESOLVED] recharge-burst on acme-openai") {
		t.Errorf("got message edited %d times with text %.60q, want it edited once to resolved", m.Edits, m.Text)
	}
	for _, b := range m.Blocks.BlockSet {
		if _, ok := b.(*slack.ActionBlock); ok {
			t.Errorf("got buttons on the resolved message, want none")
		}
	}
	replies := api.Replies(slacktest.AlertsChannel, ref.MessageID)
	var texts []string
	for _, r := range replies {
		texts = append(texts, r.Text)
	}
	want := []string{
		"Still firing as of 2026-10-14 07:00 UTC: [CRITICAL] recharge-burst on acme-openai",
		"Still firing as of 2026-10-14 11:00 UTC: [CRITICAL] recharge-burst on acme-openai",
		"Resolved at 2026-10-14 09:00 UTC: recharge-burst no longer holds.",
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("got thread\n%s\nwant\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}

	// The wire: form posts with the bot token in the form field, the
	// blocks as JSON, the thread's ts on replies, ts on the update.
	calls := api.Calls()
	var methods []string
	for _, c := range calls {
		methods = append(methods, c.Method)
		if c.Token != api.BotToken() {
			t.Errorf("%s: got token %q in the form, want the bot token", c.Method, c.Token)
		}
		if c.Answer != "" {
			t.Errorf("%s: got answer %s, want ok", c.Method, c.Answer)
		}
	}
	if got, want := strings.Join(methods, " "), "chat.postMessage chat.postMessage chat.postMessage chat.update chat.postMessage"; got != want {
		t.Errorf("got calls %s, want %s", got, want)
	}
	first := calls[0].Form
	wantBlocks, _ := json.Marshal(Compose(n, Style{BillingURL: receivertest.Links["acme-openai"], Buttons: true}).Blocks)
	if first.Get("channel") != "#alerts" || first.Get("blocks") != string(wantBlocks) || first.Get("unfurl_links") != "false" {
		t.Errorf("first post: got channel %q, unfurl_links %q, blocks %s; want #alerts, false and Compose's blocks",
			first.Get("channel"), first.Get("unfurl_links"), first.Get("blocks"))
	}
	if got := calls[1].Form.Get("thread_ts"); got != ref.MessageID {
		t.Errorf("repeat: got thread_ts %q, want %q", got, ref.MessageID)
	}
	if got := calls[3].Form; got.Get("ts") != ref.MessageID || got.Get("channel") != ref.Channel {
		t.Errorf("update: got channel %q ts %q, want %q %q", got.Get("channel"), got.Get("ts"), ref.Channel, ref.MessageID)
	}
}

// TestBotGoneMessages: a repeat or resolution whose message was deleted.
func TestBotGoneMessages(t *testing.T) {
	api := slacktest.NewAPI(t)
	bot := newBot(t, api, false)
	n := receivertest.ByRule("runway-low")
	ref, _, err := bot.Send(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	api.Delete(ref.Channel, ref.MessageID)

	rep := receivertest.Repeat(n)
	rep.Ref = ref
	got, retry, err := bot.Send(t.Context(), rep)
	if err != nil || retry || got.IsZero() || got == ref {
		t.Fatalf("repeat under a deleted message: got ref %+v, retry %t, error %v; want the new message's ref", got, retry, err)
	}
	api.Delete(got.Channel, got.MessageID)

	res := receivertest.Resolved(n)
	res.Ref = got
	if r, retry, err := bot.Send(t.Context(), res); err != nil || retry || !r.IsZero() {
		t.Fatalf("resolution of a deleted message: got ref %+v, retry %t, error %v", r, retry, err)
	}
	top := api.Messages(slacktest.AlertsChannel)
	if len(top) != 1 || !strings.HasPrefix(top[0].Text, "[RESOLVED] runway-low") {
		t.Errorf("got %d messages, want the resolution posted anew", len(top))
	}

	// Webhook-era alerts (no ref) get a new message for each notification.
	sb := receivertest.ByRule("source-blind")
	if r, _, err := bot.Send(t.Context(), receivertest.Repeat(sb)); err != nil || r.IsZero() {
		t.Fatalf("repeat without a ref: got ref %+v, error %v; want a new message's ref", r, err)
	}
	if r, _, err := bot.Send(t.Context(), receivertest.Resolved(sb)); err != nil || !r.IsZero() {
		t.Fatalf("resolution without a ref: got ref %+v, error %v; want a new message and a zero ref", r, err)
	}
	if got := len(api.Messages(slacktest.AlertsChannel)); got != 3 {
		t.Errorf("got %d messages, want 3", got)
	}

	// An alert firing again after it resolved starts a new message, even
	// if the old ref is still passed.
	again := receivertest.ByRule("runway-low")
	again.Ref = ref
	if r, _, err := bot.Send(t.Context(), again); err != nil || r.IsZero() || r == ref {
		t.Fatalf("firing again: got ref %+v, error %v; want a new message", r, err)
	}
}

func TestBotErrors(t *testing.T) {
	tests := []struct {
		name      string
		channel   string
		setup     func(t *testing.T, api *slacktest.API) string // returns an API URL to use instead
		wantRetry bool
		wantErr   string
		wantCode  string
		wantWait  time.Duration
	}{
		{name: "unknown channel", channel: "#nope", wantCode: "channel_not_found",
			wantErr: `slack has no channel "#nope" that the bot can see (channel_not_found): use the channel's ID`},
		{name: "not a member", channel: slacktest.PrivateChannel, wantCode: "not_in_channel",
			wantErr: `the bot is not a member of channel "C0PRIVATE" (not_in_channel): invite it`},
		{name: "archived", channel: slacktest.OldChannel, wantCode: "is_archived", wantErr: "is archived"},
		{name: "missing scope", setup: func(_ *testing.T, api *slacktest.API) string {
			api.SetFault("chat.postMessage", slacktest.MissingScope)
			return ""
		}, wantCode: "missing_scope", wantErr: "add the chat:write scope to the app's bot token and reinstall the app"},
		{name: "slack internal error", setup: func(_ *testing.T, api *slacktest.API) string {
			api.SetFault("chat.postMessage", slacktest.InternalError)
			return ""
		}, wantRetry: true, wantCode: "internal_error", wantErr: "slack failed on chat.postMessage (internal_error)"},
		{name: "rate limited without retry-after", setup: func(_ *testing.T, api *slacktest.API) string {
			api.SetFault("chat.postMessage", slacktest.RateLimited(0))
			return ""
		}, wantRetry: true, wantErr: "slack rate-limited chat.postMessage (no usable Retry-After)"},
		{name: "rate limited", setup: func(_ *testing.T, api *slacktest.API) string {
			api.SetFault("chat.postMessage", slacktest.RateLimited(30*time.Second))
			return ""
		}, wantRetry: true, wantWait: 30 * time.Second, wantErr: "slack rate-limited chat.postMessage: retry after 30s"},
		{name: "rate limited with an http date", setup: func(t *testing.T, _ *slacktest.API) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT")
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			t.Cleanup(srv.Close)
			return srv.URL
		}, wantRetry: true, wantErr: "slack rate-limited chat.postMessage (no usable Retry-After)"},
		{name: "server error", setup: func(_ *testing.T, api *slacktest.API) string {
			api.SetFault("chat.postMessage", slacktest.ServerError)
			return ""
		}, wantRetry: true, wantErr: "slack server error on chat.postMessage: 500 Internal Server Error (internal_error)"},
		{name: "wrong API URL", setup: func(_ *testing.T, api *slacktest.API) string {
			return strings.TrimSuffix(api.URL(), "/api") + "/v2"
		}, wantErr: "to chat.postMessage: the API URL is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := slacktest.NewAPI(t)
			u := api.URL()
			if tt.setup != nil {
				if got := tt.setup(t, api); got != "" {
					u = got
				}
			}
			channel := tt.channel
			if channel == "" {
				channel = slacktest.AlertsChannel
			}
			core, logs := observer.New(zap.DebugLevel)
			bot := NewBot(BotOptions{Token: secret.New(api.BotToken()), Channel: channel, APIURL: u, Log: zap.New(core)})
			ref, retry, err := bot.Send(t.Context(), receivertest.ByRule("runway-low"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if retry != tt.wantRetry {
				t.Errorf("got retry %t, want %t", retry, tt.wantRetry)
			}
			if !ref.IsZero() {
				t.Errorf("got ref %+v with an error, want none", ref)
			}
			var ae *APIError
			if got := errors.As(err, &ae); got != (tt.wantCode != "") || (got && ae.Code != tt.wantCode) {
				t.Errorf("got *APIError %t (%+v), want code %q", got, ae, tt.wantCode)
			}
			var ra alert.RetryAfter
			if tt.wantWait > 0 && (!errors.As(err, &ra) || ra.RetryAfter() != tt.wantWait) {
				t.Errorf("got error %v, want a RetryAfter of %s", err, tt.wantWait)
			}
			receivertest.NoSecret(t, []string{api.BotToken()}, err, logs)
		})
	}
}

func TestBotSendAndFailNext(t *testing.T) {
	api := slacktest.NewAPI(t)
	api.FailNext("chat.postMessage", 1, slacktest.ServerError)
	bot := newBot(t, api, false)
	ns := []alert.Notification{receivertest.ByRule("runway-low"), receivertest.ByRule("phantom-balance")}
	fp := ns[0].Finding.Fingerprint()
	if _, retry, err := receivertest.SendAll(t.Context(), bot, ns...); !retry || err == nil || !strings.Contains(err.Error(), fp) {
		t.Fatalf("got retry %t, error %v; want a retryable failure of the first notification (%s)", retry, err, fp)
	}
	if _, retry, err := receivertest.SendAll(t.Context(), bot, ns...); retry || err != nil {
		t.Fatalf("got retry %t, error %v; want false, nil", retry, err)
	}
	if got := len(api.Messages(slacktest.AlertsChannel)); got != 2 {
		t.Errorf("got %d messages, want 2", got)
	}
}

// TestBotGolden keeps, for every rule, the message bot mode posts (with
// the billing link and the buttons), and the messages of the rest of an
// alert's life.
func TestBotGolden(t *testing.T) {
	st := func(n alert.Notification) Style {
		return Style{BillingURL: receivertest.Links[n.Finding.Account], Buttons: true}
	}
	cases := map[string]*slack.WebhookMessage{}
	for _, n := range receivertest.Findings() {
		cases[filepath.Join("rules", n.Finding.Rule)] = Compose(n, st(n))
	}
	n := receivertest.ByRule("recharge-burst")
	res := receivertest.Resolved(n)
	cases["lifecycle/thread-reply"] = threadReply(receivertest.Repeat(n))
	cases["lifecycle/resolved-update"] = Compose(res, Style{BillingURL: receivertest.Links[n.Finding.Account]})
	cases["lifecycle/resolved-reply"] = resolvedReply(res)
	burst := receivertest.Findings()[:5]
	cases["lifecycle/digest"] = Compose(alert.Digest(burst, "3 more notifications within 1 hour, folded into this one message: at most 3 messages go out one by one per 1 hour.", receivertest.At), st(burst[0]))
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			// What chat.postMessage is sent: text and blocks.
			got, err := json.MarshalIndent(struct {
				Text   string       `json:"text"`
				Blocks slack.Blocks `json:"blocks"`
			}{msg.Text, *msg.Blocks}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			goldenFile(t, filepath.Join("testdata", "bot", name+".golden"), append(got, '\n'))
		})
	}
}

func goldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\ngot\n%s\nwant\n%s", path, got, want)
	}
}

// TestBotMessagesAccepted posts every golden message to the fake, which
// checks Block Kit's limits.
func TestBotMessagesAccepted(t *testing.T) {
	api := slacktest.NewAPI(t)
	bot := newBot(t, api, true)
	for _, n := range receivertest.Findings() {
		if _, _, err := bot.Send(t.Context(), n); err != nil {
			t.Errorf("%s: %v", n.Finding.Rule, err)
		}
	}
	if _, _, err := bot.Send(t.Context(), alert.Digest(receivertest.Findings(), "many more notifications", receivertest.At)); err != nil {
		t.Errorf("digest: %v", err)
	}
}

func TestLinkBlock(t *testing.T) {
	// A link Slack cannot carry is shown as text.
	b := linkBlock("Billing page: ", "https://example.com/a|b")
	if got := b.ContextElements.Elements[0].(*slack.TextBlockObject).Text; got != "Billing page: https://example.com/a|b" {
		t.Errorf("got %q", got)
	}
}

func TestAPIURL(t *testing.T) {
	for in, want := range map[string]string{"": DefaultAPIURL, "http://x/api": "http://x/api/", "http://x/api/": "http://x/api/"} {
		if got := apiURL(in); got != want {
			t.Errorf("apiURL(%q): got %q, want %q", in, got, want)
		}
	}
	if fmt.Sprint(NewBot(BotOptions{}).client.Timeout) != "10s" {
		t.Errorf("got a default client without the 10s timeout")
	}
}

// elsewhere is where a redirect points: it records every request that
// reaches it, headers and body included.
type elsewhere struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.seen = append(e.seen, fmt.Sprintf("%s %s %v %s", r.Method, r.URL, r.Header, body))
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"ok": true, "channel": "C0ALERTS", "ts": "1.2"}`)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// check fails the test if any request reached the target, and names any
// secret a request carried there.
func (e *elsewhere) check(t *testing.T, secrets ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, req := range e.seen {
		t.Errorf("the redirect's target got a request: %s", req)
		for _, s := range secrets {
			if strings.Contains(req, s) {
				t.Errorf("the redirect's target saw the secret %q", s)
			}
		}
	}
}

// TestRedirectsNotFollowed: a Slack (or a proxy in its place) that
// redirects never gets the webhook URL, which would go out in the Referer,
// or the bot token, which would go out in the body, to the redirect's
// target. The redirect is an error that a retry will not fix.
func TestRedirectsNotFollowed(t *testing.T) {
	t.Run("webhook", func(t *testing.T) {
		target := newElsewhere(t)
		srv := slacktest.NewWebhook(t)
		srv.SetFault(slacktest.Redirect(target.srv.URL + "/landing"))
		core, logs := observer.New(zap.DebugLevel)
		// A client of the caller's own, as guardd passes one per receiver.
		w := NewWebhook(secret.New(srv.URL()), &http.Client{Timeout: 5 * time.Second}, zap.New(core))
		ref, retry, err := w.Send(t.Context(), rechargeBurst())
		secrets := []string{srv.URL(), srv.Path(), strings.TrimPrefix(srv.Path(), "/services/T000/B000/")}
		target.check(t, secrets...)
		if want := "slack answered 307 Temporary Redirect: a redirect, not followed; check the webhook URL"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
		if retry || !ref.IsZero() {
			t.Errorf("got retry %t, ref %+v; want false and no ref", retry, ref)
		}
		receivertest.NoSecret(t, secrets, err, logs)
	})
	t.Run("bot", func(t *testing.T) {
		target := newElsewhere(t)
		api := slacktest.NewAPI(t)
		api.SetFault("chat.postMessage", slacktest.Redirect(target.srv.URL+"/api/chat.postMessage"))
		core, logs := observer.New(zap.DebugLevel)
		bot := NewBot(BotOptions{Token: secret.New(api.BotToken()), Channel: slacktest.AlertsChannel, APIURL: api.URL(),
			Client: &http.Client{Timeout: 5 * time.Second}, Log: zap.New(core)})
		ref, retry, err := bot.Send(t.Context(), receivertest.ByRule("runway-low"))
		target.check(t, api.BotToken())
		if want := "slack answered 307 Temporary Redirect to chat.postMessage: a redirect, not followed; check the API URL"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
		if retry || !ref.IsZero() {
			t.Errorf("got retry %t, ref %+v; want false and no ref", retry, ref)
		}
		receivertest.NoSecret(t, []string{api.BotToken()}, err, logs)
	})
	t.Run("interactions", func(t *testing.T) {
		// Socket Mode's Web API calls carry both tokens: their client
		// refuses redirects too, whichever client it was given.
		for _, c := range []*http.Client{nil, {Timeout: time.Second}} {
			i := NewInteractions(InteractionsOptions{Client: c})
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/api/apps.connections.open", nil)
			if i.o.Client.CheckRedirect == nil || i.o.Client.CheckRedirect(req, nil) != http.ErrUseLastResponse {
				t.Errorf("client %v: got a Socket Mode client that follows redirects", c)
			}
		}
	})
}
