// Package heartbeat pings a dead-man's switch after each cycle of guardd
// check and guardd run, so that a guard which stopped, hung or keeps
// failing is noticed by a service that expects to hear from it
// (healthchecks.io, Dead Man's Snitch, Cronitor and their kind): they
// alert when the pings stop.
//
// It follows the healthchecks.io convention, which the others take in
// part: the URL itself on a cycle that completed, <url>/fail with a short
// reason on one that failed, and, optionally, <url>/start as a cycle begins
// (so the service measures how long cycles take). Each ping is one POST of
// a short plain-text body, bounded by a timeout and never retried: the
// next cycle pings again, and the service has a grace time. A ping that
// fails is logged and never fails the cycle. The URL is a credential: no
// log line or error shows it.
package heartbeat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
)

// DefaultTimeout bounds a ping when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// MaxBody bounds a ping's body, in characters: the services keep a few
// kilobytes of it and show it in the check's log.
const MaxBody = 500

// Options configure a Pinger.
type Options struct {
	// URL is the check's ping URL, such as https://hc-ping.com/<uuid>.
	URL secret.Value
	// Timeout bounds each ping; zero means DefaultTimeout.
	Timeout time.Duration
	// Start pings <url>/start as each cycle begins.
	Start bool
	// PartialFails pings <url>/fail for a cycle that read every account
	// but some only in part; false pings the URL (success).
	PartialFails bool
	// Client makes the requests; nil means a plain one. Each ping's context
	// carries the timeout, and redirects are never followed.
	Client *http.Client
	// Log receives a debug line per ping and a warning per ping that
	// failed; nil discards them.
	Log *zap.Logger
}

// Pinger pings one dead-man's switch. A nil *Pinger pings nothing, so
// callers need not ask whether one is configured.
type Pinger struct {
	o    Options
	hide []secret.Value
	log  *zap.Logger
}

// New returns a Pinger.
func New(o Options) *Pinger {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Pinger{o: o, hide: httpx.URLSecrets(o.URL), log: log}
}

// Cycle is how a cycle ended, as its ping reports it.
type Cycle struct {
	// Err is why the cycle failed (an account not read at all, a
	// notification not delivered, the state not written); nil when it
	// completed.
	Err error
	// Partial says which accounts were read only in part; nil when every
	// account was read in full.
	Partial error
	// Summary says what the cycle did, for the success ping's body:
	// "2 of 2 accounts read; findings: 1; notifications delivered: 1".
	Summary string
}

// Start pings <url>/start when Options.Start asks for it; call it as a
// cycle begins.
func (p *Pinger) Start(ctx context.Context) {
	if p == nil || !p.o.Start {
		return
	}
	p.ping(ctx, "start", "")
}

// Done pings the outcome of a cycle: <url>/fail with the reason when it
// failed (or was read only in part and PartialFails), the URL with its
// summary otherwise. A cycle cut short because ctx ended (guardd stopping)
// pings nothing: stopping is not failing, and if guardd stays down the
// missing pings are what the service alerts on.
func (p *Pinger) Done(ctx context.Context, c Cycle) {
	if p == nil {
		return
	}
	if ctx.Err() != nil {
		p.log.Debug("heartbeat not sent: the cycle was stopped")
		return
	}
	switch {
	case c.Err != nil:
		p.ping(ctx, "fail", "cycle failed: "+c.Err.Error())
	case c.Partial != nil && p.o.PartialFails:
		p.ping(ctx, "fail", "cycle read accounts only in part: "+c.Partial.Error())
	case c.Partial != nil:
		p.ping(ctx, "success", joinBody(c.Summary, "read only in part: "+c.Partial.Error()))
	default:
		p.ping(ctx, "success", c.Summary)
	}
}

func joinBody(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// ping POSTs body to the URL, or to <url>/<kind> for start and fail, and
// logs how it went.
func (p *Pinger) ping(ctx context.Context, kind, body string) {
	u := p.o.URL.Reveal()
	if kind != "success" {
		var err error
		if u, err = subURL(u, kind); err != nil {
			p.log.Warn("heartbeat not sent: the URL is not valid", zap.String("ping", kind))
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	// What a cycle's error says is already free of the secrets guardd
	// holds; the ping's own URL is scrubbed too, and the body bounded.
	body = httpx.Excerpt(secret.Scrub(body, p.hide...), MaxBody)
	resp, _, err := httpx.PostJSON(ctx, p.o.Client, httpx.JSONRequest{
		Service: "the dead-man's switch",
		URL:     u,
		Header:  http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:    []byte(body),
		Hide:    p.hide,
		Hint:    hint,
	})
	if err != nil {
		fields := []zap.Field{zap.String("ping", kind), zap.Error(err)}
		if se, ok := errors.AsType[*httpx.StatusError](err); ok {
			fields = append(fields, zap.Int("status", se.Code))
		}
		p.log.Warn("heartbeat ping failed", fields...)
		return
	}
	p.log.Debug("heartbeat sent", zap.String("ping", kind), zap.Int("status", resp.Code))
}

// subURL is u with /kind added to its path, its query kept
// (https://hc-ping.com/<uuid>/fail).
func subURL(u, kind string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	pu.Path = strings.TrimSuffix(pu.Path, "/") + "/" + kind
	if pu.RawPath != "" {
		pu.RawPath = strings.TrimSuffix(pu.RawPath, "/") + "/" + kind
	}
	return pu.String(), nil
}

func hint(code int) string {
	switch code {
	case http.StatusNotFound:
		return "check the ping URL (heartbeat.url_env or url_file); a service that knows no /start or /fail answers those with 404"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "check the ping URL (heartbeat.url_env or url_file)"
	}
	return "the service refused the ping"
}
