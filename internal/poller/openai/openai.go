// Package openai reads an OpenAI organization: daily costs from the official
// Costs API (an admin key) and, when the user supplies a browser session key,
// the credit grants and the balance OpenAI shows from the dashboard's
// undocumented credit grants endpoint. OpenAI offers no endpoint for charges
// or invoices, so the charges part is never read.
//
// Wire formats, auth and sources: ../../../docs/providers.md.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/guardd/guardd/internal/secret"
	"go.uber.org/zap"
)

// Defaults and fixed settings.
const (
	DefaultBaseURL = "https://api.openai.com"
	// BillingPage is where people see the balance and the auto-recharge
	// settings; alerts about the account link it.
	BillingPage     = "https://platform.openai.com/settings/organization/billing/overview"
	DefaultLookback = provider.DefaultCostLookback
	// SettleLag: OpenAI does not document how late costs arrive, so a day's
	// bucket is taken as final only 24 hours after the day ends. Until then
	// each poll reads it again.
	SettleLag = 24 * time.Hour

	CostsPath  = "/v1/organization/costs"
	GrantsPath = "/dashboard/billing/credit_grants"

	// maxLimit is the most buckets the Costs API returns per page.
	maxLimit = 180
)

// ErrSessionKeyRequired is the credit grants endpoint refusing the
// configured session key because it is a secret (sk-…) key: a configuration
// problem, not an outage. It wraps poller.ErrUnavailable and
// poller.ErrKeyRefused.
var ErrSessionKeyRequired = poller.KeyRefused("configuration problem: the credit grants endpoint only accepts a browser session key (sess-…), " +
	"and the configured session key (session_key) is an API key (Fix: sign in at platform.openai.com, copy the value after " +
	"\"Authorization: Bearer\" (it starts with sess-) from a request in the browser's network tab into the " +
	"session key variable or file, or remove session_key to read costs only)")

// Options configure a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// AdminKey reads the Costs API (sk-admin-…); required.
	AdminKey secret.Value
	// SessionKey, if set, reads the credit grants and the balance (sess-…).
	SessionKey secret.Value
	// Lookback is how far back the first poll reads costs; 0 means
	// DefaultLookback.
	Lookback time.Duration
	// Cursor remembers which cost days are settled; nil keeps it in memory.
	Cursor provider.CostCursor
	HTTP   httpx.Options
	// Log records what a poll passes over (a cost result without an
	// amount); nil logs nothing until SetLogger.
	Log *zap.Logger
}

// Client reads one OpenAI organization.
type Client struct {
	http    *httpx.Client
	admin   secret.Value
	session secret.Value
	window  provider.CostWindow
	log     *zap.Logger
}

var (
	_ poller.Source    = (*Client)(nil)
	_ poller.LogSetter = (*Client)(nil)
)

// New returns a client.
func New(o Options) (*Client, error) {
	if o.AdminKey.IsZero() {
		return nil, errors.New("openai: an admin key is required")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	hc, err := httpx.New("openai", o.BaseURL, o.HTTP, o.AdminKey, o.SessionKey)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Client{
		http:    hc,
		admin:   o.AdminKey,
		session: o.SessionKey,
		window:  provider.NewCostWindow(o.Cursor, o.Lookback, SettleLag),
		log:     o.Log,
	}, nil
}

// SetLogger implements poller.LogSetter.
func (c *Client) SetLogger(l *zap.Logger) { c.log = l }

// Fetch implements poller.Source. It reads the costs and, with a session
// key, the grants and balance; a part that fails is marked Unavailable and
// the others are still returned.
func (c *Client) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	now = now.UTC()
	obs := provider.NewObservation(now, c.admin, c.session)
	budget := c.http.Budget()

	src := c.http.Source(CostsPath)
	if costs, err := c.costs(ctx, budget, now); err != nil {
		obs.Fail(billing.PartCosts, src, err)
	} else {
		obs.Data().Costs = costs
		obs.Read(billing.PartCosts, src)
	}

	if !c.session.IsZero() {
		src := c.http.Source(GrantsPath)
		if bal, grants, err := c.grants(ctx, budget); err != nil {
			obs.Fail(billing.PartBalance, src, err)
			obs.Fail(billing.PartGrants, src, err)
		} else {
			obs.Data().Balance, obs.Data().Grants = bal, grants
			obs.Read(billing.PartBalance, src)
			obs.Read(billing.PartGrants, src)
		}
	}
	return obs.Result()
}

// costs reads the daily buckets that are new or not yet settled.
func (c *Client) costs(ctx context.Context, b *httpx.Budget, now time.Time) ([]billing.CostBucket, error) {
	start := c.window.Start(now)
	days := int(now.Sub(start)/(24*time.Hour)) + 1
	return c.window.ReadCosts(ctx, c.http, b, c.costsRequest(start, days), start, now, c.decodeCosts)
}

// costsRequest asks for the daily buckets of days days from start.
func (c *Client) costsRequest(start time.Time, days int) httpx.Request {
	q := url.Values{
		"start_time":   {strconv.FormatInt(start.Unix(), 10)},
		"bucket_width": {"1d"},
		"limit":        {strconv.Itoa(min(max(days, 1), maxLimit))},
	}
	h := http.Header{"Authorization": {"Bearer " + c.admin.Reveal()}}
	return httpx.Request{Path: CostsPath, Query: q, Header: h, Refused: poller.Refused("admin key", "admin_key", adminKeyWhat)}
}

// decodeCosts is decodeCosts, logging the results it skipped.
func (c *Client) decodeCosts(body []byte) ([]billing.CostBucket, string, error) {
	buckets, next, skipped, err := decodeCosts(body)
	if err == nil && len(skipped) > 0 {
		c.log.Warn("openai cost result without amount skipped", zap.Strings("results", skipped))
	}
	return buckets, next, err
}

// grants reads the credit grants and the balance OpenAI shows.
func (c *Client) grants(ctx context.Context, b *httpx.Budget) (billing.Balance, []billing.Grant, error) {
	h := http.Header{"Authorization": {"Bearer " + c.session.Reveal()}}
	body, err := c.http.Get(ctx, b, httpx.Request{Path: GrantsPath, Header: h,
		Refused: poller.Refused("session key", "session_key", sessionKeyWhat) +
			"; a session key stops working when its browser session ends (signing out of platform.openai.com ends it)"})
	if err != nil {
		if se, ok := errors.AsType[*httpx.StatusError](err); ok && se.Code == http.StatusForbidden &&
			strings.Contains(se.Detail, "session key") {
			return billing.Balance{}, nil, fmt.Errorf("GET %s: %w", GrantsPath, ErrSessionKeyRequired)
		}
		return billing.Balance{}, nil, err
	}
	bal, grants, err := decodeGrants(body)
	if err != nil {
		return billing.Balance{}, nil, fmt.Errorf("GET %s: %w: %w", GrantsPath, poller.ErrInvalid, err)
	}
	return bal, grants, nil
}

// ResumeCosts tells the client that every cost day up to t was read settled
// (the guard finds it in the stored history), so the first poll after a
// restart asks only for newer days.
func (c *Client) ResumeCosts(t time.Time) { c.window.Resume(t) }
