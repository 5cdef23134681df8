package openai

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/guardd/guardd/internal/probe"
)

// Probe implements poller.Prober: the admin key reads today's costs, the
// session key, if any, the credit grants; one request each, never retried.
func (c *Config) Probe(ctx context.Context, _ billing.Account, now time.Time) []probe.Result {
	return poller.Probe("admin key", c.client, func(cl *Client) []probe.Result { return cl.Probe(ctx, now) })
}

// Probe tries each key once: the admin key on the Costs API with a window
// of today, the session key on the credit grants.
func (c *Client) Probe(ctx context.Context, now time.Time) []probe.Result {
	b := c.http.Budget()
	err := provider.ProbeCosts(ctx, c.http, b, c.costsRequest(now.UTC().Truncate(24*time.Hour), 1), c.decodeCosts)
	admin := poller.ProbeResult("admin key", err)
	if admin.Outcome == probe.OK {
		admin.Reads = "the daily costs"
	}
	out := []probe.Result{admin}
	if c.session.IsZero() {
		return append(out, probe.Result{Credential: "session key", Outcome: probe.Skipped,
			Detail: "none configured, so no credit grants and no balance"})
	}
	_, grants, err := c.grants(ctx, b)
	session := poller.ProbeResult("session key", err)
	switch {
	case session.Outcome == probe.OK:
		session.Reads = fmt.Sprintf("the credit grants (%d) and the balance", len(grants))
	case errors.Is(err, ErrSessionKeyRequired):
		session.Outcome = probe.Rejected
		session.Detail = "HTTP 403 'must be made with a session key': the key is an API key (sk-…)"
		session.Fix = sessionHowTo + ", or remove session_key_env/session_key_file to read costs only"
	}
	return append(out, session)
}
