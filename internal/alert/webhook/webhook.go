// Package webhook posts guardd's notifications as JSON to any HTTP endpoint,
// one request per notification, optionally signed with HMAC-SHA256.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// SignatureHeader carries the body's signature when a secret is set:
// "sha256=" and the hex HMAC-SHA256 of the exact body bytes, keyed with the
// secret (the scheme GitHub's webhooks use).
const SignatureHeader = "X-Guardd-Signature-256"

// Options configure a Receiver.
type Options struct {
	// URL is the endpoint. It is a credential (it often carries a token),
	// so it never appears in errors or logs.
	URL secret.Value
	// Secret, when set, signs each body (see SignatureHeader).
	Secret secret.Value
	// Client makes the requests; nil means one with an
	// httpx.DefaultPostTimeout timeout. Redirects are never followed.
	Client *http.Client
	// Log receives a debug line per notification sent; nil discards them.
	Log *zap.Logger
}

// Receiver posts notifications to a URL.
type Receiver struct {
	url    secret.Value
	key    secret.Value
	client *http.Client
	log    *zap.Logger
	hide   []secret.Value
}

var _ alert.Notifier = (*Receiver)(nil)

// New returns a Receiver.
func New(o Options) *Receiver {
	r := &Receiver{url: o.URL, key: o.Secret, client: o.Client, log: o.Log}
	if r.client == nil {
		r.client = &http.Client{Timeout: httpx.DefaultPostTimeout}
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.hide = httpx.URLSecrets(o.URL)
	if !o.Secret.IsZero() {
		r.hide = append(r.hide, o.Secret)
	}
	return r
}

// Send posts n as one request. retry follows httpx.PostJSON: true for 429
// (with the Retry-After in the error), 408, 5xx and network errors; false
// for other answers. The webhook creates no message to thread under, so
// the ref is always zero.
func (r *Receiver) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	body, err := json.Marshal(alert.NewPayload(n))
	if err != nil {
		return alert.Ref{}, false, fmt.Errorf("encode notification: %w", err)
	}
	h := http.Header{}
	if !r.key.IsZero() {
		h.Set(SignatureHeader, Sign(r.key, body))
	}
	h.Set("X-Guardd-Fingerprint", n.Finding.Fingerprint())
	_, retry, err := httpx.PostJSON(ctx, r.client, httpx.JSONRequest{
		Service: "the webhook",
		URL:     r.url.Reveal(),
		Header:  h,
		Body:    body,
		Hide:    r.hide,
		Hint:    hint,
	})
	if err != nil {
		return alert.Ref{}, retry, fmt.Errorf("send webhook (%s, fingerprint %s): %w", n.Status, n.Finding.Fingerprint(), err)
	}
	r.log.Debug("webhook sent", n.LogFields()...)
	return alert.Ref{}, false, nil
}

func hint(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "the endpoint refused guardd; check the URL and the signing secret"
	case http.StatusNotFound, http.StatusGone:
		return "the URL is wrong or no longer exists"
	}
	return "the endpoint rejected the payload"
}

// Sign returns the SignatureHeader value for body: "sha256=<hex HMAC>".
func Sign(key secret.Value, body []byte) string {
	m := hmac.New(sha256.New, []byte(key.Reveal()))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is a valid signature of body with key, in
// constant time. Receivers of guardd's webhooks do the same in their own
// language.
func Verify(key secret.Value, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(key, body)), []byte(header))
}
