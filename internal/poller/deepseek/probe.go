package deepseek

import (
	"context"
	"errors"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/probe"
)

// Probe implements poller.Prober: the API key reads the balance in account
// a's currency, in one request, never retried.
func (c *Config) Probe(ctx context.Context, a billing.Account, _ time.Time) []probe.Result {
	open := func(o httpx.Options) (*Client, error) { return c.client(a, o) }
	return poller.Probe("api key", open, func(cl *Client) []probe.Result { return []probe.Result{cl.Probe(ctx)} })
}

// Probe tries the API key once on the balance.
func (c *Client) Probe(ctx context.Context) probe.Result {
	bal, err := c.balance(ctx, c.http.Budget())
	r := poller.ProbeResult("api key", err)
	var missing *currencyMissingError
	switch {
	case r.Outcome == probe.OK:
		r.Reads = "the balance, granted and topped up: " + bal.Shown.Display()
	case errors.As(err, &missing):
		// The key works; the account is in the wrong currency.
		r.Outcome, r.Detail, r.Fix = probe.Rejected, "the key works, but "+missing.Error(), ""
	}
	return r
}
