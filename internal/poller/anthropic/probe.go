package anthropic

import (
	"context"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/guardd/guardd/internal/probe"
)

// Probe implements poller.Prober: the admin key reads today's cost report,
// in one request, never retried.
func (c *Config) Probe(ctx context.Context, _ billing.Account, now time.Time) []probe.Result {
	return poller.Probe("admin key", c.client, func(cl *Client) []probe.Result { return []probe.Result{cl.Probe(ctx, now)} })
}

// Probe tries the admin key once on the cost report, with a window of
// today.
func (c *Client) Probe(ctx context.Context, now time.Time) probe.Result {
	err := provider.ProbeCosts(ctx, c.http, c.http.Budget(), c.costsRequest(now.UTC().Truncate(24*time.Hour), 1), decodeCostReport)
	r := poller.ProbeResult("admin key", err)
	if r.Outcome == probe.OK {
		r.Reads = "the daily cost report"
	}
	return r
}
