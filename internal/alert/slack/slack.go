// Package slack sends guardd's notifications to Slack, one Block Kit message
// per notification: through an incoming webhook (Webhook), or with a bot
// token through the Web API (Bot), which threads repeats under the first
// message and edits it when the alert resolves. With an app-level token,
// Interactions answers the message's Acknowledge and Silence buttons over
// Socket Mode.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// DefaultTimeout bounds one request to Slack when no client is given.
const DefaultTimeout = httpx.DefaultPostTimeout

// Webhook posts notifications to a Slack incoming webhook.
type Webhook struct {
	url    secret.Value
	client *http.Client
	log    *zap.Logger
	// hide is every form in which the webhook URL, or its secret path,
	// could appear in a library's error text.
	hide []secret.Value
	// links maps an account to its provider's billing page, pages to its
	// page on guardd's listener.
	links, pages map[string]string
}

var _ alert.Notifier = (*Webhook)(nil)

// NewWebhook returns a notifier posting to the incoming-webhook URL u. A nil
// client means one with a DefaultTimeout timeout; a nil log discards logs.
// It never follows a redirect, which would hand the webhook URL on in the
// Referer (and the message in the body).
func NewWebhook(u secret.Value, client *http.Client, log *zap.Logger) *Webhook {
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Webhook{url: u, client: httpx.NoRedirects(client), log: log, hide: httpx.URLSecrets(u)}
}

// WithLinks makes messages link each account's billing page (account name
// to URL, such as openai.BillingPage) and its page on guardd's listener
// (pages, from http.external_url; nil for none), and returns w.
func (w *Webhook) WithLinks(links, pages map[string]string) *Webhook {
	w.links, w.pages = links, pages
	return w
}

// RateLimitError says Slack rate-limited the webhook (HTTP 429). Wait is
// how long Slack asked the caller to wait, zero when it did not say (or said
// it in a form other than seconds).
type RateLimitError struct {
	Wait time.Duration
	// Method is the Web API method that was rate-limited (bot mode); empty
	// for the webhook.
	Method string
}

// RetryAfter implements alert.RetryAfter, so the dispatcher honours it.
func (e *RateLimitError) RetryAfter() time.Duration { return e.Wait }

var _ alert.RetryAfter = (*RateLimitError)(nil)

func (e *RateLimitError) Error() string {
	what := "the webhook"
	if e.Method != "" {
		what = e.Method
	}
	if e.Wait <= 0 {
		return "slack rate-limited " + what + " (no usable Retry-After)"
	}
	return fmt.Sprintf("slack rate-limited %s: retry after %s", what, e.Wait)
}

// Send posts n as one message. retry is true for rate limits (the error
// then holds a *RateLimitError), Slack server errors and network errors or
// timeouts, and false when Slack rejected the message or the URL (a wrong
// or revoked webhook). An incoming webhook tells nothing of the message it
// posted, so the ref is always zero. Send never sleeps or retries itself,
// and its errors never contain the webhook URL.
func (w *Webhook) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	if err := w.checkURL(); err != nil {
		return alert.Ref{}, false, err
	}
	retry, err := w.post(ctx, Compose(n, Style{BillingURL: w.links[n.Finding.Account], PageURL: w.pages[n.Finding.Account]}))
	if err != nil {
		err = fmt.Errorf("send slack message (%s, fingerprint %s): %w", n.Status, n.Finding.Fingerprint(), err)
		return alert.Ref{}, retry, secret.ScrubError(err, w.hide...)
	}
	w.log.Debug("slack message sent", n.LogFields()...)
	return alert.Ref{}, false, nil
}

// checkURL rejects a webhook URL that can never work, so that it is not
// mistaken for a network error worth retrying.
func (w *Webhook) checkURL() error {
	u, err := url.Parse(w.url.Reveal())
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("send slack messages: the webhook URL is not a valid http(s) URL")
	}
	return nil
}

// post sends one message and classifies its failure.
func (w *Webhook) post(ctx context.Context, msg *slack.WebhookMessage) (retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return true, err
	}
	// A copy of the client whose transport notes Slack's answer: slack-go
	// reports only the status code, but Slack says why in the body
	// ("no_service", "invalid_blocks").
	ans := &answerTransport{base: w.client.Transport}
	if ans.base == nil {
		ans.base = http.DefaultTransport
	}
	c := *w.client
	c.Transport = ans

	err = slack.PostWebhookCustomHTTPContext(ctx, w.url.Reveal(), &c, msg)
	if err == nil {
		return false, nil
	}
	return w.classify(err, ans)
}

// classify maps slack-go's error to the Notifier contract. The errors it
// returns wrap nothing that quotes the URL.
func (w *Webhook) classify(err error, ans *answerTransport) (retry bool, _ error) {
	if retry, herr := classifyHTTP(err, ans, "", "the webhook URL", webhookAdvice); herr != nil {
		return retry, herr
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error quotes the URL: keep only its cause.
		return true, fmt.Errorf("post to slack webhook: %w", secret.ScrubError(ue.Err, w.hide...))
	}
	return false, errors.New(secret.Scrub(err.Error(), w.hide...))
}

// webhookAdvice says what to do about an incoming webhook's answer that
// will keep failing, by its status and Slack's error word
// (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
func webhookAdvice(code int, reason string) string {
	switch {
	case code == http.StatusGone || reason == "channel_is_archived":
		return "the webhook's channel is archived; unarchive it, or create an incoming webhook for another channel and update the config"
	case reason == "channel_not_found":
		return "the webhook's channel no longer exists; create an incoming webhook for another channel and update the config"
	case reason == "action_prohibited":
		return "a workspace admin restricted what the webhook may post; ask them, or create another incoming webhook"
	case code == http.StatusNotFound:
		return "the webhook URL is wrong or has been revoked; create a new incoming webhook and update the config"
	}
	return ""
}

// apiAdvice says what to do about a Web API answer that will keep failing.
func apiAdvice(code int, _ string) string {
	if code == http.StatusNotFound {
		return "the API URL is wrong"
	}
	return ""
}

// classifyHTTP maps slack-go's error about Slack's HTTP answer to the
// Notifier contract, whether a retry may help as httpx.Retryable says, and
// returns a nil error for any other error. method is the Web API method
// called (empty for the incoming webhook), urlName the URL it went to ("the
// API URL"), and advise what to do about an answer that will keep failing,
// given its status code and Slack's error word ("" when it knows nothing
// to say).
func classifyHTTP(err error, ans *answerTransport, method, urlName string, advise func(code int, reason string) string) (retry bool, _ error) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return true, &RateLimitError{Wait: rl.RetryAfter, Method: method}
	}
	var sc slack.StatusCodeError
	switch {
	case ans.code == http.StatusTooManyRequests:
		// Also a 429 whose Retry-After slack-go could not parse, such as
		// an HTTP date, which comes as that parse error.
		return true, &RateLimitError{Method: method}
	case !errors.As(err, &sc):
		return false, nil
	}
	answer := sc.Status
	if ans.reason != "" {
		answer += " (" + ans.reason + ")"
	}
	on, to, what := "", "", "the message"
	if method != "" {
		on, to, what = " on "+method, " to "+method, method
	}
	retry = httpx.Retryable(sc.Code)
	var msg string
	switch {
	case sc.Code >= 500:
		msg = "slack server error" + on + ": " + answer
	case sc.Code >= 300 && sc.Code < 400:
		msg = "slack answered " + answer + to + ": a redirect, not followed; check " + urlName
	case sc.Code == http.StatusNotFound:
		msg = "slack answered " + answer + to + ": " + advise(sc.Code, ans.reason)
	case retry:
		msg = "slack answered " + answer + to
	default:
		msg = "slack rejected " + what + ": " + answer
		if a := advise(sc.Code, ans.reason); a != "" {
			msg += ": " + a
		}
	}
	return retry, &statusError{msg: msg, err: sc}
}

// statusError is an HTTP error answer from Slack; it unwraps to
// slack.StatusCodeError.
type statusError struct {
	msg string
	err error
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.err }

// isSlackReason says whether s is one of Slack's error words, such as
// "no_service": 1 to 64 of a-z and _. Any other body (an HTML error page)
// is left out of errors.
func isSlackReason(s string) bool { return spelled(s, 1, 64, "_") }

// isScopes says whether s is Slack's list of needed scopes, such as
// "chat:write" or "chat:write,channels:read": a-z first, then up to 200 of
// a-z and ":._,".
func isScopes(s string) bool {
	return s != "" && s[0] >= 'a' && s[0] <= 'z' && spelled(s, 1, 201, ":._,")
}

// spelled says whether s is least to most bytes, each a-z or in extra. (It
// was a regular expression; compiling the two with their counted
// repetitions cost every guardd start 1.6 ms and 240 KB of heap.)
func spelled(s string, least, most int, extra string) bool {
	if len(s) < least || len(s) > most {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// answerTransport records the status code and Slack's error word of a failed
// answer, leaving the body readable for slack-go.
type answerTransport struct {
	base   http.RoundTripper
	code   int
	reason string
}

func (t *answerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode == http.StatusOK {
		return resp, err
	}
	t.code = resp.StatusCode
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if r := string(bytes.TrimSpace(head)); isSlackReason(r) {
		t.reason = r
	}
	resp.Body = &readCloser{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), Closer: resp.Body}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
