package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/secret"
)

// fakeActions records what the buttons asked for.
type fakeActions struct {
	mu   sync.Mutex
	err  error
	done []string
	seen chan string
}

func newFakeActions() *fakeActions { return &fakeActions{seen: make(chan string, 10)} }

func (f *fakeActions) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		f.seen <- "error"
		return f.err
	}
	f.done = append(f.done, s)
	f.seen <- s
	return nil
}

func (f *fakeActions) Ack(_ context.Context, fingerprint, by string) error {
	return f.record(fmt.Sprintf("ack %s by %s", fingerprint, by))
}

func (f *fakeActions) Silence(_ context.Context, rule, account string, d time.Duration, by, comment string) error {
	return f.record(fmt.Sprintf("silence %s on %s for %s by %s: %s", rule, account, d, by, comment))
}

// wait returns the next recorded action, or fails after a while.
func (f *fakeActions) wait(t *testing.T) string {
	t.Helper()
	select {
	case s := <-f.seen:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no action recorded")
		return ""
	}
}

var pressedAt = time.Date(2026, 10, 14, 3, 30, 0, 0, time.UTC)

// TestInteractionsSocketMode runs Interactions against the fake's Socket
// Mode: a message with buttons is posted, acknowledged, then silenced.
func TestInteractionsSocketMode(t *testing.T) {
	api := slacktest.NewAPI(t)
	bot := newBot(t, api, true)
	n := receivertest.ByRule("recharge-burst")
	ref, _, err := bot.Send(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	actions := newFakeActions()
	core, logs := observer.New(zap.DebugLevel)
	in := NewInteractions(InteractionsOptions{BotToken: secret.New(api.BotToken()), AppToken: secret.New(api.AppToken()),
		APIURL: api.URL(), Actions: actions, Log: zap.New(core), Clock: clock.Fixed(pressedAt)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if err := api.WaitConnected(wctx); err != nil {
		t.Fatalf("no Socket Mode connection: %v", err)
	}

	acked, err := api.Press(ref.Channel, ref.MessageID, ActionAck, slacktest.User{ID: "U0ALICE", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, acked, "the envelope's ack")
	if got, want := actions.wait(t), "ack "+n.Finding.Fingerprint()+" by alice (slack U0ALICE)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	waitFor(t, func() bool { return len(api.Replies(ref.Channel, ref.MessageID)) == 1 })
	m := api.Messages(ref.Channel)[0]
	if m.Edits != 1 {
		t.Errorf("got the message edited %d times, want once", m.Edits)
	}
	if got := buttonIDs(m.Blocks); got != ActionSilence {
		t.Errorf("after the ack: got buttons %q, want only %s", got, ActionSilence)
	}
	if all := texts(m.Blocks); !strings.Contains(all, "Acknowledged by alice at 2026-10-14 03:30 UTC") {
		t.Errorf("after the ack: message lacks who acknowledged:\n%s", all)
	}

	silenced, err := api.Press(ref.Channel, ref.MessageID, ActionSilence, slacktest.User{ID: "U0BOB", Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, silenced, "the envelope's ack")
	want := "silence recharge-burst on acme-openai for 24h0m0s by bob (slack U0BOB): silenced from Slack for 24 h (alert " + n.Finding.Fingerprint() + ")"
	if got := actions.wait(t); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	waitFor(t, func() bool { return len(api.Replies(ref.Channel, ref.MessageID)) == 2 })
	m = api.Messages(ref.Channel)[0]
	if got := buttonIDs(m.Blocks); got != "" {
		t.Errorf("after the silence: got buttons %q, want none", got)
	}
	replies := api.Replies(ref.Channel, ref.MessageID)
	if got, want := replies[1].Text, "recharge-burst on acme-openai silenced for 24 h by bob, until 2026-10-15 03:30 UTC."; got != want {
		t.Errorf("got reply %q, want %q", got, want)
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	var calls []string
	for _, c := range api.Calls() {
		if c.Method == "apps.connections.open" && c.Token != api.AppToken() {
			t.Errorf("apps.connections.open: got token %q, want the app-level token", c.Token)
		}
		calls = append(calls, c.Method)
	}
	if !strings.HasPrefix(strings.Join(calls, " "), "chat.postMessage apps.connections.open") {
		t.Errorf("got calls %v", calls)
	}
	receivertest.NoSecret(t, []string{api.BotToken(), api.AppToken()}, nil, logs)
}

func TestInteractionsRefusedAppToken(t *testing.T) {
	api := slacktest.NewAPI(t)
	core, logs := observer.New(zap.DebugLevel)
	in := NewInteractions(InteractionsOptions{BotToken: secret.New(api.BotToken()), AppToken: secret.New("xapp-1-revoked-123456"),
		APIURL: api.URL(), Actions: newFakeActions(), Log: zap.New(core)})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := in.Run(ctx)
	if !errors.Is(err, ErrSocketAuth) || !strings.Contains(err.Error(), "slack socket mode (invalid_auth): slack refused the app-level token") {
		t.Errorf("got %v, want ErrSocketAuth with the code", err)
	}
	receivertest.NoSecret(t, []string{api.BotToken(), "xapp-1-revoked-123456"}, err, logs)
}

func TestHandle(t *testing.T) {
	n := receivertest.ByRule("runway-low")
	value := `{"fp":"` + n.Finding.Fingerprint() + `","rule":"runway-low","account":"acme-anthropic"}`
	press := func(actionID, value string) slack.InteractionCallback {
		var cb slack.InteractionCallback
		cb.Type = slack.InteractionTypeBlockActions
		cb.User = slack.User{ID: "U0CAROL", Profile: slack.UserProfile{DisplayName: "Carol"}}
		cb.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: actionID, Value: value}}
		return cb
	}
	tests := []struct {
		name    string
		cb      slack.InteractionCallback
		failing error
		want    []string // outcomes
		wantErr string
	}{
		{name: "ack", cb: press(ActionAck, value), want: []string{"Acknowledged by Carol at 2026-10-14 03:30 UTC"}},
		{name: "silence", cb: press(ActionSilence, value),
			want: []string{"runway-low on acme-anthropic silenced for 24 h by Carol, until 2026-10-15 03:30 UTC"}},
		{name: "another app's button", cb: press("other_button", value)},
		{name: "no value", cb: press(ActionAck, "nope"), wantErr: "button guardd_ack carries no alert"},
		{name: "silence without rule", cb: press(ActionSilence, `{"fp":"abc"}`), wantErr: "carries no rule and account"},
		{name: "store fails", cb: press(ActionAck, value), failing: errors.New("database is locked"),
			wantErr: "record acknowledgement of " + n.Finding.Fingerprint() + ": database is locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actions := newFakeActions()
			actions.err = tt.failing
			in := NewInteractions(InteractionsOptions{Actions: actions, Clock: clock.Fixed(pressedAt)})
			out, err := in.Handle(t.Context(), tt.cb)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			var got []string
			for _, o := range out {
				got = append(got, o.Done)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got outcomes %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPressFailureReplies: when recording fails, the thread says so and the
// buttons stay.
func TestPressFailureReplies(t *testing.T) {
	api := slacktest.NewAPI(t)
	bot := newBot(t, api, true)
	ref, _, err := bot.Send(t.Context(), receivertest.ByRule("runway-low"))
	if err != nil {
		t.Fatal(err)
	}
	actions := newFakeActions()
	actions.err = errors.New("database is locked")
	in := NewInteractions(InteractionsOptions{BotToken: secret.New(api.BotToken()), AppToken: secret.New(api.AppToken()),
		APIURL: api.URL(), Actions: actions})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = in.Run(ctx) }()
	if err := api.WaitConnected(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Press(ref.Channel, ref.MessageID, ActionAck, slacktest.User{ID: "U0ALICE", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	actions.wait(t)
	waitFor(t, func() bool { return len(api.Replies(ref.Channel, ref.MessageID)) == 1 })
	if got := api.Replies(ref.Channel, ref.MessageID)[0].Text; !strings.HasPrefix(got, "guardd could not record that: record acknowledgement") {
		t.Errorf("got reply %q", got)
	}
	if m := api.Messages(ref.Channel)[0]; m.Edits != 0 || buttonIDs(m.Blocks) != ActionAck+" "+ActionSilence {
		t.Errorf("got the message edited %d times with buttons %q, want it unchanged", m.Edits, buttonIDs(m.Blocks))
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func buttonIDs(b slack.Blocks) string {
	var ids []string
	for _, blk := range b.BlockSet {
		if ab, ok := blk.(*slack.ActionBlock); ok && ab.Elements != nil {
			for _, e := range ab.Elements.ElementSet {
				if be, ok := e.(*slack.ButtonBlockElement); ok {
					ids = append(ids, be.ActionID)
				}
			}
		}
	}
	return strings.Join(ids, " ")
}

func texts(b slack.Blocks) string {
	msg := &slack.WebhookMessage{Blocks: &b}
	return strings.Join(blockTexts(msg), "\n")
}
