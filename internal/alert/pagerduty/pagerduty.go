// Package pagerduty sends guardd's notifications to PagerDuty through the
// Events API v2: a firing notification triggers an alert and its resolution
// resolves it, both keyed by the finding's fingerprint (dedup_key), so a
// repeat lands on the same incident.
package pagerduty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// DefaultURL is the Events API's base URL; events go to DefaultURL +
// "/v2/enqueue".
const DefaultURL = "https://events.pagerduty.com"

// Options configure a Receiver.
type Options struct {
	// RoutingKey is the integration key of an Events API v2 integration
	// (32 characters).
	RoutingKey secret.Value
	// URL is the Events API's base URL; empty means DefaultURL.
	URL string
	// Client makes the requests; nil means one with an
	// httpx.DefaultPostTimeout timeout. Redirects are never followed.
	Client *http.Client
	// Log receives a debug line per event sent; nil discards them.
	Log *zap.Logger
	// Links maps an account name to its provider's billing page, sent as
	// the event's link.
	Links map[string]string
}

// Receiver sends events to PagerDuty.
type Receiver struct {
	key    secret.Value
	url    string
	client *http.Client
	log    *zap.Logger
	links  map[string]string
}

var _ alert.Notifier = (*Receiver)(nil)

// New returns a Receiver.
func New(o Options) *Receiver {
	r := &Receiver{key: o.RoutingKey, url: strings.TrimSuffix(o.URL, "/"), client: o.Client, log: o.Log, links: o.Links}
	if r.url == "" {
		r.url = DefaultURL
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: httpx.DefaultPostTimeout}
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	return r
}

// Event is an Events API v2 event.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
	Links       []Link   `json:"links,omitempty"`
}

// Payload is a trigger event's payload.
type Payload struct {
	Summary       string        `json:"summary"`
	Source        string        `json:"source"`
	Severity      string        `json:"severity"`
	Timestamp     string        `json:"timestamp,omitempty"`
	Component     string        `json:"component,omitempty"`
	Group         string        `json:"group,omitempty"`
	Class         string        `json:"class,omitempty"`
	CustomDetails alert.Payload `json:"custom_details"`
}

// Link is a link shown on the alert.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// maxSummary is PagerDuty's limit on a summary, in characters.
const maxSummary = 1024

// NewEvent returns the event for n, with key as its routing key: a trigger
// for a firing notification (repeats included: PagerDuty adds them to the
// open alert with the same dedup_key), a resolve for a resolved one.
func NewEvent(n alert.Notification, key secret.Value, billingURL string) Event {
	f := n.Finding
	e := Event{RoutingKey: key.Reveal(), DedupKey: f.Fingerprint(), EventAction: "trigger", Client: "guardd"}
	if n.Status == alert.StatusResolved {
		e.EventAction = "resolve"
		return e
	}
	summary := alert.Title(n)
	if f.Summary != "" {
		summary += ": " + f.Summary
	}
	e.Payload = &Payload{
		Summary:       cut(summary, maxSummary),
		Source:        "guardd/" + f.Account,
		Severity:      severity(f.Severity),
		Timestamp:     f.At.UTC().Format(time.RFC3339),
		Component:     f.Account,
		Group:         "billing",
		Class:         f.Rule,
		CustomDetails: alert.NewPayload(n),
	}
	if billingURL != "" {
		e.Links = []Link{{Href: billingURL, Text: "Billing page of " + f.Account}}
	}
	return e
}

// severity maps guardd's severities to PagerDuty's (critical, error,
// warning, info).
func severity(s billing.Severity) string {
	switch s {
	case billing.SeverityCritical:
		return "critical"
	case billing.SeverityWarning:
		return "warning"
	}
	return "info"
}

func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit-1]) + "…"
}

// Send sends n as one event. retry is true for 429 (PagerDuty's rate
// limit), 5xx and network errors; false for a 400 (an invalid event or
// routing key), whose error says to check the routing key. PagerDuty keys
// the alert by dedup_key, not by a message guardd could thread under, so
// the ref is always zero. Errors never contain the key.
func (r *Receiver) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	body, err := json.Marshal(NewEvent(n, r.key, r.links[n.Finding.Account]))
	if err != nil {
		return alert.Ref{}, false, fmt.Errorf("encode pagerduty event: %w", err)
	}
	_, retry, err := httpx.PostJSON(ctx, r.client, httpx.JSONRequest{
		Service: "PagerDuty",
		URL:     r.url + "/v2/enqueue",
		Body:    body,
		Hide:    []secret.Value{r.key},
		Hint:    hint,
	})
	if err != nil {
		return alert.Ref{}, retry, fmt.Errorf("send pagerduty event (%s, dedup_key %s): %w", n.Status, n.Finding.Fingerprint(), err)
	}
	r.log.Debug("pagerduty event sent", n.LogFields(zap.String("dedup_key", n.Finding.Fingerprint()))...)
	return alert.Ref{}, false, nil
}

func hint(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "check the routing key: it must be the 32-character integration key of an Events API v2 integration"
	case http.StatusNotFound:
		return "the API URL is wrong"
	}
	return "PagerDuty refused the event; check the routing key"
}
