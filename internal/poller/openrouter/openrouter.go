// Package openrouter reads an OpenRouter account from GET /api/v1/credits (a
// management key): the credits ever bought and ever used. The balance is
// their difference, all of it paid credit. OpenRouter lists no purchases, so
// the client infers one whenever total_credits rises between two of its
// polls and reports it as an inferred charge.
//
// GET /api/v1/key is not read: it describes one key's spending limit, not
// the account's credit, and adds nothing guardd's rules use.
//
// Wire formats, auth and sources: ../../../docs/providers.md.
package openrouter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/guardd/guardd/internal/secret"
	"github.com/shopspring/decimal"
)

// Defaults and fixed settings.
const (
	DefaultBaseURL = "https://openrouter.ai"
	// BillingPage is where people see the balance and the auto-recharge
	// settings; alerts about the account link it.
	BillingPage = "https://openrouter.ai/settings/credits"
	CreditsPath = "/api/v1/credits"
	// KeepCharges is how long an inferred purchase stays listed in the
	// charges part of later observations.
	KeepCharges = 7 * 24 * time.Hour
)

// usd is the currency of every OpenRouter amount.
const usd billing.Currency = "USD"

// Options configure a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// ManagementKey reads the credits; required. (An ordinary key worked
	// once; the current docs ask for a management key.)
	ManagementKey secret.Value
	HTTP          httpx.Options
}

// Client reads one OpenRouter account. It remembers total_credits between
// its polls to infer purchases; a new process starts without that memory,
// so its first poll infers nothing.
type Client struct {
	http *httpx.Client
	key  secret.Value

	mu          sync.Mutex
	lastCredits decimal.Decimal
	haveLast    bool
	inferred    []billing.Charge
}

var _ poller.Source = (*Client)(nil)

// New returns a client.
func New(o Options) (*Client, error) {
	if o.ManagementKey.IsZero() {
		return nil, errors.New("openrouter: a management key is required")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	hc, err := httpx.New("openrouter", o.BaseURL, o.HTTP, o.ManagementKey)
	if err != nil {
		return nil, err
	}
	return &Client{http: hc, key: o.ManagementKey}, nil
}

// Fetch implements poller.Source. It reads the balance and the charges it
// infers from a rise in total_credits; both fail together.
func (c *Client) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	now = now.UTC()
	obs := provider.NewObservation(now, c.key)
	src := c.http.Source(CreditsPath)
	total, usage, err := c.credits(ctx, c.http.Budget())
	if err != nil {
		obs.Fail(billing.PartBalance, src, err)
		obs.Fail(billing.PartCharges, src, err)
		return obs.Result()
	}
	shown := billing.NewMoney(total.Sub(usage), usd)
	o := obs.Data()
	o.Balance = billing.Balance{Shown: shown, HasSplit: true, Granted: billing.NewMoney(decimal.Zero, usd), Paid: shown}
	o.Charges = c.infer(total, now)
	obs.Read(billing.PartBalance, src)
	obs.Read(billing.PartCharges, src)
	return obs.Result()
}

// infer records a purchase when total_credits rose since the last poll, and
// returns the purchases inferred within KeepCharges of now.
func (c *Client) infer(total decimal.Decimal, now time.Time) []billing.Charge {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.haveLast && total.GreaterThan(c.lastCredits) {
		c.inferred = append(c.inferred, billing.Charge{
			ID:      "credits-rise:" + strconv.FormatInt(now.Unix(), 10),
			PaidAt:  now,
			Amount:  billing.NewMoney(total.Sub(c.lastCredits), usd),
			Origin:  billing.ChargeInferred,
			Trigger: billing.TriggerUnknown,
		})
	}
	c.lastCredits, c.haveLast = total, true
	keep := c.inferred[:0]
	for _, ch := range c.inferred {
		if now.Sub(ch.PaidAt) <= KeepCharges {
			keep = append(keep, ch)
		}
	}
	c.inferred = keep
	return append([]billing.Charge{}, keep...)
}

func (c *Client) credits(ctx context.Context, b *httpx.Budget) (total, usage decimal.Decimal, err error) {
	h := http.Header{"Authorization": {"Bearer " + c.key.Reveal()}}
	body, err := c.http.Get(ctx, b, httpx.Request{Path: CreditsPath, Header: h,
		Refused: poller.Refused("management key", "management_key", managementKeyWhat)})
	if err != nil {
		return total, usage, err
	}
	if total, usage, err = decodeCredits(body); err != nil {
		return total, usage, fmt.Errorf("GET %s: %w: %w", CreditsPath, poller.ErrInvalid, err)
	}
	return total, usage, nil
}
