// Package alertmanager pushes guardd's notifications to a Prometheus
// Alertmanager through its v2 API (POST /api/v2/alerts), for teams that
// already route, group, silence and page from there.
//
// Alertmanager resolves an alert by itself when its endsAt passes. guardd
// sends a firing alert once (and again on each repeat), so a firing alert's
// endsAt is set ResolveTimeout ahead: keep it longer than the repeat
// interval, or Alertmanager resolves the alert before guardd repeats it. A
// resolution sends the alert again with endsAt at the time it resolved.
package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// DefaultResolveTimeout is how far ahead a firing alert's endsAt is set when
// Options.ResolveTimeout is zero: longer than guardd's longest default
// repeat interval (24 h).
const DefaultResolveTimeout = 25 * time.Hour

// Options configure a Receiver.
type Options struct {
	// URL is Alertmanager's base URL, such as http://alertmanager:9093;
	// alerts go to URL + "/api/v2/alerts".
	URL string
	// BearerToken, when set, is sent as "Authorization: Bearer …" (for an
	// Alertmanager behind an authenticating proxy).
	BearerToken secret.Value
	// ResolveTimeout sets a firing alert's endsAt (see the package doc);
	// zero means DefaultResolveTimeout.
	ResolveTimeout time.Duration
	// Client makes the requests; nil means one with an
	// httpx.DefaultPostTimeout timeout. Redirects are never followed.
	Client *http.Client
	// Log receives a debug line per alert sent; nil discards them.
	Log *zap.Logger
	// Links maps an account name to its provider's billing page, sent as
	// the alert's generatorURL.
	Links map[string]string
}

// Receiver pushes alerts to Alertmanager.
type Receiver struct {
	o   Options
	log *zap.Logger
}

var _ alert.Notifier = (*Receiver)(nil)

// New returns a Receiver.
func New(o Options) *Receiver {
	o.URL = strings.TrimSuffix(o.URL, "/")
	if o.ResolveTimeout <= 0 {
		o.ResolveTimeout = DefaultResolveTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: httpx.DefaultPostTimeout}
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Receiver{o: o, log: log}
}

// Alert is one postable alert of the v2 API.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NewAlert returns the alert for n. Its labels are alertname (the rule),
// account, severity and fingerprint (guardd's, so that findings of one rule
// on different entities stay apart); its annotations summary,
// recommendation (when there is one), balance and description (the full
// text). startsAt is when the finding fired; endsAt is now +
// resolveTimeout while it fires, and when it resolved.
func NewAlert(n alert.Notification, resolveTimeout time.Duration, billingURL string) Alert {
	f := n.Finding
	a := Alert{
		Labels: map[string]string{
			"alertname":   f.Rule,
			"account":     f.Account,
			"severity":    string(f.Severity),
			"fingerprint": f.Fingerprint(),
		},
		Annotations: map[string]string{
			"summary":     f.Summary,
			"balance":     alert.BalanceLine(f.State),
			"description": alert.Text(n),
		},
		StartsAt:     alert.FiredAt(f).UTC().Format(time.RFC3339),
		EndsAt:       n.At.Add(resolveTimeout).UTC().Format(time.RFC3339),
		GeneratorURL: billingURL,
	}
	if f.Recommendation != "" {
		a.Annotations["recommendation"] = f.Recommendation
	}
	if n.Status == alert.StatusResolved {
		a.EndsAt = n.At.UTC().Format(time.RFC3339)
	}
	return a
}

// Send posts n as one alert. retry is true for 429, 5xx and network
// errors; false for other answers, whose error says what to check.
// Alertmanager groups alerts by their labels, not by a message guardd could
// thread under, so the ref is always zero.
func (r *Receiver) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	body, err := json.Marshal([]Alert{NewAlert(n, r.o.ResolveTimeout, r.o.Links[n.Finding.Account])})
	if err != nil {
		return alert.Ref{}, false, fmt.Errorf("encode alertmanager alert: %w", err)
	}
	h := http.Header{}
	var hide []secret.Value
	if !r.o.BearerToken.IsZero() {
		h.Set("Authorization", "Bearer "+r.o.BearerToken.Reveal())
		hide = append(hide, r.o.BearerToken)
	}
	_, retry, err := httpx.PostJSON(ctx, r.o.Client, httpx.JSONRequest{
		Service: "Alertmanager",
		URL:     r.o.URL + "/api/v2/alerts",
		Header:  h,
		Body:    body,
		Hide:    hide,
		Hint:    hint,
	})
	if err != nil {
		return alert.Ref{}, retry, fmt.Errorf("push alert to alertmanager (%s, fingerprint %s): %w", n.Status, n.Finding.Fingerprint(), err)
	}
	r.log.Debug("alertmanager alert pushed", n.LogFields()...)
	return alert.Ref{}, false, nil
}

func hint(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "check the bearer token"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "check the URL: it must be Alertmanager's base URL, such as http://alertmanager:9093, serving the v2 API"
	}
	return "Alertmanager rejected the alert"
}
