// Package deepseek reads a DeepSeek account's balance from GET /user/balance
// (an API key): the total, and its split into granted (free) and topped-up
// (paid) credit, per currency. DeepSeek documents that granted credit is
// spent first. It offers no grants list, no charges and no cost history, so
// those parts are never read; the ledger infers recharges from rises in the
// topped-up balance.
//
// Wire formats, auth and sources: ../../../docs/providers.md.
package deepseek

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/guardd/guardd/internal/secret"
)

// Defaults.
const (
	DefaultBaseURL = "https://api.deepseek.com"
	// BillingPage is where people see the balance and the auto-recharge
	// settings; alerts about the account link it.
	BillingPage = "https://platform.deepseek.com/top_up"
	BalancePath = "/user/balance"
)

// Options configure a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// APIKey is an ordinary DeepSeek API key; required.
	APIKey secret.Value
	// Currency picks the balance entry (CNY or USD); required.
	Currency billing.Currency
	HTTP     httpx.Options
}

// Client reads one DeepSeek account.
type Client struct {
	http *httpx.Client
	key  secret.Value
	cur  billing.Currency
}

var _ poller.Source = (*Client)(nil)

// New returns a client.
func New(o Options) (*Client, error) {
	if o.APIKey.IsZero() {
		return nil, errors.New("deepseek: an API key is required")
	}
	if o.Currency == "" {
		return nil, errors.New("deepseek: the account currency is required")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	hc, err := httpx.New("deepseek", o.BaseURL, o.HTTP, o.APIKey)
	if err != nil {
		return nil, err
	}
	return &Client{http: hc, key: o.APIKey, cur: o.Currency}, nil
}

// Fetch implements poller.Source: it reads the balance part only.
func (c *Client) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	obs := provider.NewObservation(now, c.key)
	src := c.http.Source(BalancePath)
	if bal, err := c.balance(ctx, c.http.Budget()); err != nil {
		obs.Fail(billing.PartBalance, src, err)
	} else {
		obs.Data().Balance = bal
		obs.Read(billing.PartBalance, src)
	}
	return obs.Result()
}

func (c *Client) balance(ctx context.Context, b *httpx.Budget) (billing.Balance, error) {
	h := http.Header{"Authorization": {"Bearer " + c.key.Reveal()}}
	body, err := c.http.Get(ctx, b, httpx.Request{Path: BalancePath, Header: h, Refused: poller.Refused("API key", "api_key", apiKeyWhat)})
	if err != nil {
		return billing.Balance{}, err
	}
	bal, err := decodeBalance(body, c.cur)
	if _, ok := errors.AsType[*currencyMissingError](err); ok || errors.Is(err, errNotAvailable) {
		return billing.Balance{}, fmt.Errorf("GET %s: %w: %w", BalancePath, poller.ErrUnavailable, err)
	}
	if err != nil {
		return billing.Balance{}, fmt.Errorf("GET %s: %w: %w", BalancePath, poller.ErrInvalid, err)
	}
	return bal, nil
}
