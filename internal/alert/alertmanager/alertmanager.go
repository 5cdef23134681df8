// Package alertmanager pushes guardd's notifications to a Prometheus
// Alertmanager through its v2 API (POST /api/v2/alerts), for teams that
// already route, group, silence and page from there.
//
// Alertmanager keeps alerts in memory only, and resolves an alert by itself
// when its endsAt passes. So guardd pushes a firing alert when it fires and
// repeats, and also sends every firing alert again (Resend) after each cycle
// and, in guardd run, every ResendInterval: an Alertmanager that restarted
// knows of them again within one interval. A firing alert's endsAt is
// ResolveTimeout after the moment it is sent, by the wall clock, never after
// the time of the observation that made it, which a replayed history sets
// in the past. A resolution sends the alert again with endsAt at the time it
// resolved. Each alert goes to every URL: every replica of an Alertmanager
// cluster, as Alertmanager asks of its clients.
//
// With Options.Watchdog, every resend also carries GuarddWatchdog, an alert
// that always fires (the Prometheus "Watchdog" convention), whose endsAt is
// WatchdogTimeout ahead: while guardd runs, Alertmanager holds it active;
// once guardd stops resending, it ends, and a route that sends it to a
// dead-man's switch goes quiet, which is what the switch alerts on.
package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// DefaultResolveTimeout is how far ahead a firing alert's endsAt is set when
// Options.ResolveTimeout is zero: longer than guardd's longest default
// repeat interval (24 h).
const DefaultResolveTimeout = 25 * time.Hour

// DefaultResendInterval is how often guardd run sends the firing alerts
// again when Options.ResendInterval is zero: Prometheus's default, within
// the 30 s to 3 min Alertmanager expects of its clients.
const DefaultResendInterval = time.Minute

// WatchdogName is the watchdog alert's alertname.
const WatchdogName = "GuarddWatchdog"

// DefaultWatchdogTimeout is how far ahead the watchdog's endsAt is set when
// Options.WatchdogTimeout is zero: longer than guardd check's default
// schedule (15 min) with room for a run that starts late, and far longer
// than guardd run's resends (every minute).
const DefaultWatchdogTimeout = 30 * time.Minute

// Options configure a Receiver.
type Options struct {
	// URLs are the base URLs of Alertmanager, such as
	// http://alertmanager:9093, one per replica of a cluster; alerts go to
	// each URL + "/api/v2/alerts". At least one.
	URLs []string
	// BearerToken, when set, is sent as "Authorization: Bearer …" (for an
	// Alertmanager behind an authenticating proxy).
	BearerToken secret.Value
	// ResolveTimeout sets a firing alert's endsAt (see the package doc);
	// zero means DefaultResolveTimeout.
	ResolveTimeout time.Duration
	// ResendInterval is how often guardd run sends the firing alerts
	// again (ResendEvery); zero means DefaultResendInterval.
	ResendInterval time.Duration
	// Watchdog adds the always-firing watchdog alert to every resend.
	Watchdog bool
	// WatchdogTimeout sets the watchdog's endsAt (see the package doc);
	// zero means DefaultWatchdogTimeout.
	WatchdogTimeout time.Duration
	// Clock tells the time endsAt counts from; the zero value is the real
	// clock.
	Clock clock.Clock
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

var _ alert.Resender = (*Receiver)(nil)

// New returns a Receiver.
func New(o Options) *Receiver {
	urls := make([]string, len(o.URLs))
	for i, u := range o.URLs {
		urls[i] = strings.TrimSuffix(u, "/")
	}
	o.URLs = urls
	if o.ResolveTimeout <= 0 {
		o.ResolveTimeout = DefaultResolveTimeout
	}
	if o.ResendInterval <= 0 {
		o.ResendInterval = DefaultResendInterval
	}
	if o.WatchdogTimeout <= 0 {
		o.WatchdogTimeout = DefaultWatchdogTimeout
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

// NewAlert returns the alert for n, sent at now. Its labels are alertname
// (the rule), account, severity and fingerprint (guardd's, so that findings
// of one rule on different entities stay apart); its annotations summary,
// recommendation (when there is one), balance and description (the full
// text). startsAt is when the finding fired. While it fires, endsAt is
// resolveTimeout after now (or after startsAt, should that be later):
// the wall clock's, so that an alert decided over a replayed history does
// not arrive already over. Resolved, endsAt is when it resolved (now at the
// latest, startsAt at the earliest).
func NewAlert(n alert.Notification, now time.Time, resolveTimeout time.Duration, billingURL string) Alert {
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
		GeneratorURL: billingURL,
	}
	if f.Recommendation != "" {
		a.Annotations["recommendation"] = f.Recommendation
	}
	end := now.Add(resolveTimeout)
	if f.At.After(now) {
		end = f.At.Add(resolveTimeout)
	}
	if n.Status == alert.StatusResolved {
		end = n.At
		if now.Before(end) {
			end = now
		}
		if end.Before(f.At) {
			end = f.At
		}
	}
	a.EndsAt = end.UTC().Format(time.RFC3339)
	return a
}

// WatchdogAlert is the watchdog alert sent at now: alertname GuarddWatchdog
// and severity none (no account: it is about guardd itself), active from
// now until timeout after it. Alertmanager keeps the earliest startsAt of
// an alert it already holds, so startsAt is when guardd first sent it
// since the alert last ended.
func WatchdogAlert(now time.Time, timeout time.Duration) Alert {
	return Alert{
		Labels: map[string]string{"alertname": WatchdogName, "severity": "none"},
		Annotations: map[string]string{
			"summary": "guardd is running and sending its alerts to Alertmanager",
			"description": "This alert always fires while guardd runs: it is sent with every resend and ends " +
				setting.FormatDuration(timeout) + " after the last one. Route it to a dead-man's switch, which alerts when it stops " +
				"coming: then guardd stopped, or cannot reach Alertmanager.",
		},
		StartsAt: now.UTC().Format(time.RFC3339),
		EndsAt:   now.Add(timeout).UTC().Format(time.RFC3339),
	}
}

// Send posts n as one alert to every URL, at once. retry is true when a
// URL failed with a 429, a 5xx or a network error; false when every
// failure is another answer, whose error says what to check. Alertmanager
// groups alerts by their labels, not by a message guardd could thread
// under, so the ref is always zero.
func (r *Receiver) Send(ctx context.Context, n alert.Notification) (alert.Ref, bool, error) {
	retry, err := r.push(ctx, []alert.Notification{n}, false)
	if err != nil {
		return alert.Ref{}, retry, fmt.Errorf("push alert to alertmanager (%s, fingerprint %s): %w", n.Status, n.Finding.Fingerprint(), err)
	}
	r.log.Debug("alertmanager alert pushed", n.LogFields()...)
	return alert.Ref{}, false, nil
}

// Resend implements alert.Resender: it posts every firing alert again, in
// one request per URL, with endsAt counted from now, and the watchdog alert
// when Options.Watchdog asks for it (even with no alert firing).
func (r *Receiver) Resend(ctx context.Context, firing []alert.Notification) error {
	if len(firing) == 0 && !r.o.Watchdog {
		return nil
	}
	if _, err := r.push(ctx, firing, r.o.Watchdog); err != nil {
		if r.o.Watchdog {
			return fmt.Errorf("resend %d firing alerts and the watchdog to alertmanager: %w", len(firing), err)
		}
		return fmt.Errorf("resend %d firing alerts to alertmanager: %w", len(firing), err)
	}
	r.log.Debug("alertmanager alerts resent", zap.Int("alerts", len(firing)), zap.Bool("watchdog", r.o.Watchdog),
		zap.Int("urls", len(r.o.URLs)))
	return nil
}

// ResendEvery implements alert.Resender.
func (r *Receiver) ResendEvery() time.Duration { return r.o.ResendInterval }

// push posts ns as alerts, and the watchdog alert if watchdog, to every URL
// at once and joins the failures; retry is true when any failure may pass
// on a retry.
func (r *Receiver) push(ctx context.Context, ns []alert.Notification, watchdog bool) (bool, error) {
	if len(r.o.URLs) == 0 {
		return false, errors.New("no Alertmanager URL configured")
	}
	now := r.o.Clock.Now()
	as := make([]Alert, len(ns))
	for i, n := range ns {
		as[i] = NewAlert(n, now, r.o.ResolveTimeout, r.o.Links[n.Finding.Account])
	}
	if watchdog {
		as = append(as, WatchdogAlert(now, r.o.WatchdogTimeout))
	}
	body, err := json.Marshal(as)
	if err != nil {
		return false, fmt.Errorf("encode alertmanager alerts: %w", err)
	}
	h := http.Header{}
	var hide []secret.Value
	if !r.o.BearerToken.IsZero() {
		h.Set("Authorization", "Bearer "+r.o.BearerToken.Reveal())
		hide = append(hide, r.o.BearerToken)
	}
	retries := make([]bool, len(r.o.URLs))
	errs := make([]error, len(r.o.URLs))
	var wg sync.WaitGroup
	for i, u := range r.o.URLs {
		service := "Alertmanager"
		if len(r.o.URLs) > 1 {
			// The URL is no secret: it holds no credentials or query
			// (Config.Validate).
			service = "Alertmanager at " + u
		}
		wg.Go(func() {
			_, retries[i], errs[i] = httpx.PostJSON(ctx, r.o.Client, httpx.JSONRequest{
				Service: service,
				URL:     u + "/api/v2/alerts",
				Header:  h.Clone(),
				Body:    body,
				Hide:    hide,
				Hint:    hint,
			})
		})
	}
	wg.Wait()
	retry := false
	for i, err := range errs {
		retry = retry || (err != nil && retries[i])
	}
	return retry, errors.Join(errs...)
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
