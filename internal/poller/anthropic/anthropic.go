// Package anthropic reads an Anthropic organization's daily costs from the
// Admin API cost report (an admin key). Anthropic exposes no balance, no
// credit grants, no charges and no auto-reload settings through any API, so
// those parts are never read: guardd works from the costs, plus whatever
// charges the user's other sources show.
//
// Wire formats, auth and sources: ../../../docs/providers.md.
package anthropic

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/guardd/guardd/internal/secret"
)

// Defaults and fixed settings.
const (
	DefaultBaseURL = "https://api.anthropic.com"
	// BillingPage is where people see the balance and the auto-recharge
	// settings; alerts about the account link it.
	BillingPage     = "https://console.anthropic.com/settings/billing"
	DefaultLookback = provider.DefaultCostLookback
	// SettleLag: Anthropic documents that cost data "typically appears
	// within 5 minutes"; a day's bucket is taken as final 6 hours after the
	// day ends, leaving room for the untypical.
	SettleLag = 6 * time.Hour
	// Version is the anthropic-version header sent.
	Version = "2023-06-01"

	CostReportPath = "/v1/organizations/cost_report"

	// maxLimit is the most buckets the cost report returns per page.
	maxLimit = 31
)

// Options configure a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// AdminKey reads the cost report (sk-ant-admin…); required.
	AdminKey secret.Value
	// Lookback is how far back the first poll reads costs; 0 means
	// DefaultLookback.
	Lookback time.Duration
	// Cursor remembers which cost days are settled; nil keeps it in memory.
	Cursor provider.CostCursor
	HTTP   httpx.Options
}

// Client reads one Anthropic organization.
type Client struct {
	http   *httpx.Client
	admin  secret.Value
	window provider.CostWindow
}

var _ poller.Source = (*Client)(nil)

// New returns a client.
func New(o Options) (*Client, error) {
	if o.AdminKey.IsZero() {
		return nil, errors.New("anthropic: an admin key is required")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	hc, err := httpx.New("anthropic", o.BaseURL, o.HTTP, o.AdminKey)
	if err != nil {
		return nil, err
	}
	return &Client{
		http:   hc,
		admin:  o.AdminKey,
		window: provider.NewCostWindow(o.Cursor, o.Lookback, SettleLag),
	}, nil
}

// Fetch implements poller.Source: it reads the costs part only.
func (c *Client) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	now = now.UTC()
	obs := provider.NewObservation(now, c.admin)
	src := c.http.Source(CostReportPath)
	if costs, err := c.costs(ctx, c.http.Budget(), now); err != nil {
		obs.Fail(billing.PartCosts, src, err)
	} else {
		obs.Data().Costs = costs
		obs.Read(billing.PartCosts, src)
	}
	return obs.Result()
}

// costs reads the daily buckets that are new or not yet settled.
func (c *Client) costs(ctx context.Context, b *httpx.Budget, now time.Time) ([]billing.CostBucket, error) {
	start := c.window.Start(now)
	days := int(now.Sub(start)/(24*time.Hour)) + 1
	return c.window.ReadCosts(ctx, c.http, b, c.costsRequest(start, days), start, now, decodeCostReport)
}

// costsRequest asks for the daily buckets of days days from start.
func (c *Client) costsRequest(start time.Time, days int) httpx.Request {
	q := url.Values{
		"starting_at":  {start.Format(time.RFC3339)},
		"bucket_width": {"1d"},
		"limit":        {strconv.Itoa(min(max(days, 1), maxLimit))},
	}
	h := http.Header{"X-Api-Key": {c.admin.Reveal()}, "Anthropic-Version": {Version}}
	return httpx.Request{Path: CostReportPath, Query: q, Header: h, Refused: poller.Refused("admin key", "admin_key", adminKeyWhat)}
}

// ResumeCosts tells the client that every cost day up to t was read settled
// (the guard finds it in the stored history), so the first poll after a
// restart asks only for newer days.
func (c *Client) ResumeCosts(t time.Time) { c.window.Resume(t) }
