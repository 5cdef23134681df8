package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// Actions records what people do with the buttons of guardd's Slack
// messages. The state store implements it; by names who pressed the button
// ("alice (slack U0123)").
type Actions interface {
	// Ack acknowledges the alert with the given fingerprint.
	Ack(ctx context.Context, fingerprint, by string) error
	// Silence mutes the findings of rule on account for d from now, with
	// comment saying why.
	Silence(ctx context.Context, rule, account string, d time.Duration, by, comment string) error
}

// InteractionsOptions configure Interactions.
type InteractionsOptions struct {
	// BotToken posts the replies; AppToken (xapp-…, with the
	// connections:write scope) opens the Socket Mode connection.
	BotToken, AppToken secret.Value
	// APIURL is the Web API's base URL; empty means DefaultAPIURL.
	APIURL string
	// Client makes the Web API requests; nil means one with a
	// DefaultTimeout timeout. Redirects are never followed.
	Client *http.Client
	// Actions records the presses; it is required.
	Actions Actions
	// Log receives connection events and failed presses; nil discards them.
	Log *zap.Logger
	// Clock tells the time shown in replies; the zero value is the real
	// clock.
	Clock clock.Clock
}

// Interactions answers the Acknowledge and Silence buttons of Bot's
// messages over Socket Mode: an outbound websocket, so guardd needs no
// public endpoint. A press is recorded through Actions, the message's
// buttons are replaced by who did what, and a reply in its thread says so.
type Interactions struct {
	o   InteractionsOptions
	log *zap.Logger
}

// NewInteractions returns Interactions; Run starts them.
func NewInteractions(o InteractionsOptions) *Interactions {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: DefaultTimeout}
	}
	o.Client = httpx.NoRedirects(o.Client)
	o.APIURL = apiURL(o.APIURL)
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Interactions{o: o, log: log}
}

// ErrSocketAuth says Slack refused the app-level token: Socket Mode will not
// work until the config holds a valid one.
var ErrSocketAuth = errors.New("slack refused the app-level token: create one (xapp-…) with the connections:write scope " +
	"under Basic Information, App-Level Tokens, enable Socket Mode, and put it in the config")

// Run connects to Slack over Socket Mode, reconnecting as needed, and
// answers button presses until ctx is done. It returns ctx's error, or an
// error that wraps ErrSocketAuth when the app-level token is refused.
// Errors and logs never contain either token.
func (i *Interactions) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	api := slack.New(i.o.BotToken.Reveal(), slack.OptionAPIURL(i.o.APIURL), slack.OptionHTTPClient(i.o.Client),
		slack.OptionAppLevelToken(i.o.AppToken.Reveal()))
	sm := socketmode.New(api, socketmode.OptionLog(&socketLog{log: i.log, hide: i.secrets()}))
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			return i.runError(ctx, err)
		case evt := <-sm.Events:
			i.event(ctx, sm, evt)
		}
	}
}

func (i *Interactions) secrets() []secret.Value { return []secret.Value{i.o.BotToken, i.o.AppToken} }

func (i *Interactions) runError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	switch {
	case errors.As(err, &se) && se.Err != "":
		code := se.Err
		if !isSlackReason(code) {
			code = "unknown_error"
		}
		return fmt.Errorf("slack socket mode (%s): %w", code, ErrSocketAuth)
	case errors.As(err, &sc) && sc.Code == http.StatusNotFound:
		return fmt.Errorf("slack socket mode: apps.connections.open answered %s: the API URL is wrong", sc.Status)
	}
	return secret.ScrubError(fmt.Errorf("slack socket mode: %w", err), i.secrets()...)
}

// event handles one Socket Mode event.
func (i *Interactions) event(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		i.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		var err error
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			err = secret.ScrubError(ce.ErrorObj, i.secrets()...)
		}
		i.log.Warn("slack socket mode connection failed, will retry", zap.Error(err))
	case socketmode.EventTypeInvalidAuth:
		i.log.Error("slack socket mode: the app-level token was refused")
	case socketmode.EventTypeInteractive:
		if evt.Request != nil {
			// Slack wants the ack within 3 seconds, before the work.
			if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
				i.log.Warn("slack socket mode ack failed", zap.Error(err))
			}
		}
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || cb.Type != slack.InteractionTypeBlockActions {
			return
		}
		i.press(ctx, cb)
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
		// Not ours, but unacknowledged envelopes are sent again.
		if evt.Request != nil {
			_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		}
	}
}

// Outcome is what a button press did.
type Outcome struct {
	// Action is ActionAck or ActionSilence.
	Action string
	// Done says what was recorded, for the message and its thread:
	// "Acknowledged by alice at 2026-03-14 09:30 UTC".
	Done string
}

// Handle records the guardd button presses of a block_actions interaction
// through Actions and says what each did. Presses of other buttons are
// ignored. An error names the press it failed on; the outcomes before it
// are returned with it.
func (i *Interactions) Handle(ctx context.Context, cb slack.InteractionCallback) ([]Outcome, error) {
	by := who(cb.User)
	now := i.o.Clock.Now()
	var out []Outcome
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != ActionAck && a.ActionID != ActionSilence {
			continue
		}
		var v ActionValue
		if err := json.Unmarshal([]byte(a.Value), &v); err != nil || v.Fingerprint == "" {
			return out, fmt.Errorf("button %s carries no alert", a.ActionID)
		}
		switch a.ActionID {
		case ActionAck:
			if err := i.o.Actions.Ack(ctx, v.Fingerprint, by); err != nil {
				return out, fmt.Errorf("record acknowledgement of %s: %w", v.Fingerprint, err)
			}
			out = append(out, Outcome{Action: ActionAck, Done: fmt.Sprintf("Acknowledged by %s at %s", name(cb.User), alert.FormatTime(now))})
		case ActionSilence:
			if v.Rule == "" || v.Account == "" {
				return out, fmt.Errorf("button %s carries no rule and account to silence", a.ActionID)
			}
			comment := fmt.Sprintf("silenced from Slack for %s (alert %s)", words(SilenceDuration), v.Fingerprint)
			if err := i.o.Actions.Silence(ctx, v.Rule, v.Account, SilenceDuration, by, comment); err != nil {
				return out, fmt.Errorf("record silence of %s on %s: %w", v.Rule, v.Account, err)
			}
			out = append(out, Outcome{Action: ActionSilence, Done: fmt.Sprintf("%s on %s silenced for %s by %s, until %s",
				v.Rule, v.Account, words(SilenceDuration), name(cb.User), alert.FormatTime(now.Add(SilenceDuration)))})
		}
	}
	return out, nil
}

// press handles a block_actions interaction and answers in Slack.
func (i *Interactions) press(ctx context.Context, cb slack.InteractionCallback) {
	channel, ts := cb.Container.ChannelID, cb.Container.MessageTs
	if channel == "" {
		channel = cb.Channel.ID
	}
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	outcomes, err := i.Handle(ctx, cb)
	bot := NewBot(BotOptions{Token: i.o.BotToken, APIURL: i.o.APIURL, Client: i.o.Client, Log: i.log})
	if err != nil {
		i.log.Error("slack button press not recorded", zap.String("user", cb.User.ID), zap.Error(err))
		msg := &slack.WebhookMessage{Text: mrkdwn("guardd could not record that: "+err.Error(), maxSectionText)}
		if _, _, _, err := bot.send(ctx, "chat.postMessage", channel, ts, msg); err != nil {
			i.log.Warn("slack reply failed", zap.Error(secret.ScrubError(err, i.secrets()...)))
		}
	}
	if len(outcomes) == 0 || channel == "" || ts == "" {
		return
	}
	for _, o := range outcomes {
		i.log.Info("slack button press recorded", zap.String("action", o.Action), zap.String("user", cb.User.ID))
	}
	// Show it on the message: the buttons give way to what was done (after
	// an acknowledgement the silence button stays).
	if blocks, ok := afterPress(cb.Message.Blocks.BlockSet, outcomes); ok {
		msg := &slack.WebhookMessage{Text: cb.Message.Text, Blocks: &slack.Blocks{BlockSet: blocks}}
		if _, _, _, err := bot.send(ctx, "chat.update", channel, ts, msg); err != nil {
			i.log.Warn("slack message update after a button press failed", zap.Error(secret.ScrubError(err, i.secrets()...)))
		}
	}
	var lines []string
	for _, o := range outcomes {
		lines = append(lines, o.Done+".")
	}
	reply := &slack.WebhookMessage{Text: mrkdwn(strings.Join(lines, "\n"), maxSectionText)}
	if _, _, _, err := bot.send(ctx, "chat.postMessage", channel, ts, reply); err != nil {
		i.log.Warn("slack reply after a button press failed", zap.Error(secret.ScrubError(err, i.secrets()...)))
	}
}

// afterPress replaces the message's guardd buttons with what the presses
// did. It reports false when the message has no guardd buttons.
func afterPress(blocks []slack.Block, outcomes []Outcome) ([]slack.Block, bool) {
	silenced := false
	var done []string
	for _, o := range outcomes {
		done = append(done, mrkdwn(o.Done, maxContextText/len(outcomes)-1))
		silenced = silenced || o.Action == ActionSilence
	}
	var out []slack.Block
	found := false
	for _, b := range blocks {
		ab, ok := b.(*slack.ActionBlock)
		if !ok || ab.BlockID != ActionsBlockID {
			out = append(out, b)
			continue
		}
		found = true
		out = append(out, slack.NewContextBlock("", text(strings.Join(done, "\n"))))
		if silenced {
			continue
		}
		if ab.Elements == nil {
			continue
		}
		var keep []slack.BlockElement
		for _, e := range ab.Elements.ElementSet {
			if be, ok := e.(*slack.ButtonBlockElement); ok && be.ActionID == ActionSilence {
				keep = append(keep, e)
			}
		}
		if len(keep) > 0 {
			out = append(out, slack.NewActionBlock(ActionsBlockID, keep...))
		}
	}
	return out, found
}

// who names a Slack user for the state store: "alice (slack U0123)".
func who(u slack.User) string {
	if n := userName(u); n != "" {
		return n + " (slack " + u.ID + ")"
	}
	return "slack " + u.ID
}

// name names a Slack user in messages.
func name(u slack.User) string {
	if n := userName(u); n != "" {
		return n
	}
	return u.ID
}

func userName(u slack.User) string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Profile.DisplayName != "":
		return u.Profile.DisplayName
	}
	return u.RealName
}

func words(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return d.String()
}

// socketLog sends slack-go's socketmode log lines to zap at debug level,
// without tokens.
type socketLog struct {
	log  *zap.Logger
	hide []secret.Value
}

func (l *socketLog) Output(_ int, s string) error {
	l.log.Debug("slack socket mode", zap.String("detail", secret.Scrub(strings.TrimSpace(s), l.hide...)))
	return nil
}
