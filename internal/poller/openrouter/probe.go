package openrouter

import (
	"context"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/probe"
)

// Probe implements poller.Prober: the management key reads the credits, in
// one request, never retried.
func (c *Config) Probe(ctx context.Context, _ billing.Account, _ time.Time) []probe.Result {
	return poller.Probe("management key", c.client, func(cl *Client) []probe.Result { return []probe.Result{cl.Probe(ctx)} })
}

// Probe tries the management key once on the credits. It does not touch
// what Fetch remembers between polls.
func (c *Client) Probe(ctx context.Context) probe.Result {
	total, usage, err := c.credits(ctx, c.http.Budget())
	r := poller.ProbeResult("management key", err)
	if r.Outcome == probe.OK {
		r.Reads = "the credits: " + billing.NewMoney(total.Sub(usage), usd).Display() + " left"
	}
	return r
}
