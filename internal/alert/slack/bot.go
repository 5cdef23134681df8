package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// BotOptions configure a Bot.
type BotOptions struct {
	// Token is the bot token (xoxb-…) of a Slack app with the chat:write
	// scope.
	Token secret.Value
	// Channel is where first messages go: a channel ID (C…) or a public
	// channel's name. The bot must be a member.
	Channel string
	// APIURL is the Web API's base URL; empty means DefaultAPIURL.
	APIURL string
	// Client makes the requests; nil means one with a DefaultTimeout
	// timeout. Redirects are never followed: one would carry the token on.
	Client *http.Client
	// Log receives debug lines about sent messages; nil discards them.
	Log *zap.Logger
	// Links maps an account name to its provider's billing page (such as
	// openai.BillingPage), linked from its messages; Pages to its page on
	// guardd's listener (http.external_url).
	Links, Pages map[string]string
	// Buttons adds "Acknowledge" and "Silence 24 h" to firing messages; set
	// it only when Interactions runs to answer them.
	Buttons bool
}

// Bot posts notifications with a bot token through Slack's Web API, so that
// an alert is one message: the first notification of a finding is posted
// (chat.postMessage) and its Ref returned; a repeat goes in that message's
// thread; the resolution edits the message to show it resolved
// (chat.update) and adds a short reply to the thread.
type Bot struct {
	token   secret.Value
	channel string
	apiURL  string
	client  *http.Client
	log     *zap.Logger
	links   map[string]string
	pages   map[string]string
	buttons bool
}

var _ alert.Notifier = (*Bot)(nil)

// NewBot returns a Bot.
func NewBot(o BotOptions) *Bot {
	b := &Bot{token: o.Token, channel: o.Channel, apiURL: apiURL(o.APIURL), client: o.Client, log: o.Log,
		links: o.Links, pages: o.Pages, buttons: o.Buttons}
	if b.client == nil {
		b.client = &http.Client{Timeout: DefaultTimeout}
	}
	b.client = httpx.NoRedirects(b.client)
	if b.log == nil {
		b.log = zap.NewNop()
	}
	return b
}

// apiURL gives u (or DefaultAPIURL) the trailing slash slack-go needs: it
// appends method names to it.
func apiURL(u string) string {
	if u == "" {
		return DefaultAPIURL
	}
	return strings.TrimSuffix(u, "/") + "/"
}

// Send sends one notification and returns the ref of the message it posted
// at the top of the channel, if it posted one:
//
//   - firing, not a repeat (a first notification, or an alert firing again
//     after it resolved): a new message, whose ref is returned;
//   - a repeat with n.Ref: a reply in the message's thread, zero ref; if
//     Slack posted it outside the thread because the message is gone, its
//     ref, so that later repeats thread under it;
//   - resolved with n.Ref: the message is edited to show the resolution
//     and a reply says so in its thread, zero ref; if the message can no
//     longer be edited (deleted, too old), a new resolved message;
//   - a repeat or resolution without n.Ref (first sent by a receiver that
//     keeps no refs, such as the webhook): a new message; its ref for a
//     repeat, zero for a resolution.
//
// retry is true for rate limits (the error holds a *RateLimitError with
// Slack's Retry-After), Slack server errors and network errors, false for
// answers that will not change (a revoked token, an unknown channel, a
// channel the bot is not in), which say what to fix. Errors never contain
// the token.
func (b *Bot) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	what := fmt.Sprintf("slack message (%s, fingerprint %s)", n.Status, n.Finding.Fingerprint())
	if err := ctx.Err(); err != nil {
		return alert.Ref{}, true, fmt.Errorf("send %s: %w", what, err)
	}
	st := Style{BillingURL: b.links[n.Finding.Account], PageURL: b.pages[n.Finding.Account], Buttons: b.buttons}
	var (
		ref   alert.Ref
		retry bool
		err   error
	)
	switch {
	case n.Status == alert.StatusResolved && !n.Ref.IsZero():
		retry, err = b.resolve(ctx, n, st)
	case n.Status == alert.StatusFiring && n.Repeat && !n.Ref.IsZero():
		ref, retry, err = b.reply(ctx, n)
	default:
		ref, _, retry, err = b.send(ctx, "chat.postMessage", b.channel, "", Compose(n, st))
		if n.Status == alert.StatusResolved {
			ref = alert.Ref{} // nothing more will thread under it
		}
	}
	if err != nil {
		return alert.Ref{}, retry, secret.ScrubError(fmt.Errorf("send %s: %w", what, err), b.token)
	}
	b.log.Debug("slack message sent",
		n.LogFields(zap.Bool("repeat", n.Repeat), zap.String("channel", ref.Channel), zap.String("ts", ref.MessageID))...)
	return ref, false, nil
}

// reply posts a repeat in the thread of n.Ref.
func (b *Bot) reply(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	ref, threaded, retry, err := b.send(ctx, "chat.postMessage", n.Ref.Channel, n.Ref.MessageID, threadReply(n))
	if err != nil {
		return alert.Ref{}, retry, err
	}
	if !threaded {
		// Slack posts a reply to a deleted message at the top of the
		// channel: that message now stands for the alert.
		b.log.Warn("slack message to thread under is gone; the repeat became a new message",
			zap.String("fingerprint", n.Finding.Fingerprint()), zap.String("channel", ref.Channel))
		return ref, false, nil
	}
	return alert.Ref{}, false, nil
}

// resolve edits the message of n.Ref to show the resolution and replies in
// its thread.
func (b *Bot) resolve(ctx context.Context, n alert.Notification, st Style) (bool, error) {
	st.Buttons = false
	_, _, retry, err := b.send(ctx, "chat.update", n.Ref.Channel, n.Ref.MessageID, Compose(n, st))
	var ae *APIError
	if errors.As(err, &ae) && ae.gone() {
		b.log.Warn("slack message to edit cannot be edited; posting the resolution as a new message",
			zap.String("fingerprint", n.Finding.Fingerprint()), zap.String("slack_error", ae.Code))
		_, _, retry, err = b.send(ctx, "chat.postMessage", b.channel, "", Compose(n, st))
		return retry, err
	}
	if err != nil {
		return retry, err
	}
	if _, _, _, err := b.send(ctx, "chat.postMessage", n.Ref.Channel, n.Ref.MessageID, resolvedReply(n)); err != nil {
		// The edit, which is what people see, went through: a lost
		// reply is not worth sending the edit again.
		b.log.Warn("slack thread reply about the resolution failed", zap.String("fingerprint", n.Finding.Fingerprint()),
			zap.Error(secret.ScrubError(err, b.token)))
	}
	return false, nil
}

// send calls method (chat.postMessage, or chat.update of ts) with msg in
// channel, in the thread of ts for chat.postMessage when ts is set. It
// returns where the message went and, for a thread reply, whether Slack
// put it in the thread.
func (b *Bot) send(ctx context.Context, method, channel, ts string, msg *slack.WebhookMessage) (ref alert.Ref, threaded bool, retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return alert.Ref{}, false, true, err
	}
	api, ans := b.api()
	opts := []slack.MsgOption{slack.MsgOptionText(msg.Text, false)}
	if msg.Blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
	}
	var gotChannel, gotTS string
	switch method {
	case "chat.update":
		gotChannel, gotTS, _, err = api.UpdateMessageContext(ctx, channel, ts, opts...)
		threaded = true
	default:
		opts = append(opts, slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
		if ts != "" {
			opts = append(opts, slack.MsgOptionTS(ts))
		}
		var m slack.Message
		gotChannel, gotTS, m, err = api.PostMessageWithResponseContext(ctx, channel, opts...)
		threaded = ts != "" && m.ThreadTimestamp == ts
	}
	if err != nil {
		retry, err = classifyAPI(method, channel, err, ans)
		return alert.Ref{}, false, retry, err
	}
	return alert.Ref{Channel: gotChannel, MessageID: gotTS}, threaded, false, nil
}

// api returns a client for one call, and the transport that notes Slack's
// HTTP answer.
func (b *Bot) api() (*slack.Client, *answerTransport) {
	ans := &answerTransport{base: b.client.Transport}
	if ans.base == nil {
		ans.base = http.DefaultTransport
	}
	c := *b.client
	c.Transport = ans
	return slack.New(b.token.Reveal(), slack.OptionAPIURL(b.apiURL), slack.OptionHTTPClient(&c)), ans
}

// APIError is an error answer (ok:false) of Slack's Web API, worded to say
// what to fix. It unwraps to slack.SlackErrorResponse.
type APIError struct {
	// Method is the Web API method, such as chat.postMessage; Code is
	// Slack's error code, such as channel_not_found.
	Method, Code string
	msg          string
	err          error
}

func (e *APIError) Error() string { return e.msg }
func (e *APIError) Unwrap() error { return e.err }

// gone reports whether the message to edit no longer can be.
func (e *APIError) gone() bool {
	switch e.Code {
	case "message_not_found", "cant_update_message", "edit_window_closed", "channel_not_found", "is_archived", "not_in_channel":
		return true
	}
	return false
}

// classifyAPI maps slack-go's error for method to the Notifier contract.
func classifyAPI(method, channel string, err error, ans *answerTransport) (retry bool, _ error) {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return apiError(method, channel, se)
	}
	if retry, herr := classifyHTTP(err, ans, method, "the API URL", apiAdvice); herr != nil {
		return retry, herr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true, fmt.Errorf("call slack %s: %w", method, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true, fmt.Errorf("call slack %s: %w", method, ue.Err)
	}
	return false, fmt.Errorf("call slack %s: %w", method, err)
}

// apiError words Slack's ok:false answers; only a few are worth retrying.
func apiError(method, channel string, se slack.SlackErrorResponse) (bool, error) {
	code := se.Err
	if !isSlackReason(code) {
		code = "unknown_error"
	}
	e := &APIError{Method: method, Code: code, err: se}
	retry := false
	switch code {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "no_permission", "invalid_token":
		e.msg = fmt.Sprintf("slack refused the bot token (%s): it is wrong, revoked or expired; install the Slack app again and put its bot token (xoxb-…) in the config", code)
	case "missing_scope":
		need := "chat:write"
		if isScopes(se.Needed) {
			need = se.Needed
		}
		e.msg = fmt.Sprintf("slack refused %s (missing_scope): add the %s scope to the app's bot token and reinstall the app", method, need)
	case "channel_not_found":
		e.msg = fmt.Sprintf("slack has no channel %s that the bot can see (channel_not_found): use the channel's ID (C…, in the channel details) and invite the bot to a private channel", secret.Quote(channel))
	case "not_in_channel":
		e.msg = fmt.Sprintf("the bot is not a member of channel %s (not_in_channel): invite it with /invite @app-name in that channel", secret.Quote(channel))
	case "is_archived":
		e.msg = fmt.Sprintf("channel %s is archived (is_archived): unarchive it or configure another channel", secret.Quote(channel))
	case "ratelimited", "rate_limited":
		return true, &RateLimitError{Method: method}
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		retry = true
		e.msg = fmt.Sprintf("slack failed on %s (%s)", method, code)
	default:
		e.msg = fmt.Sprintf("slack rejected %s (%s)", method, code)
	}
	return retry, e
}
