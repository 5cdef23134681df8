package pollertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
)

// DeepSeekBalancePath is DeepSeek's balance endpoint.
const DeepSeekBalancePath = "/user/balance"

// DeepSeek fakes GET /user/balance (Bearer API key).
type DeepSeek struct {
	*server
	// APIKey is the key accepted ("sk-…").
	APIKey string

	mu        sync.Mutex
	available bool
	infos     []DeepSeekBalance
}

// DeepSeekBalance is one currency's balance, as decimal text.
type DeepSeekBalance struct {
	Currency string
	Granted  string
	ToppedUp string
	// Total, when empty, is Granted+ToppedUp.
	Total string
}

// NewDeepSeek starts a fake DeepSeek holding the documentation's example:
// CNY 110.00, 10.00 of it granted and 100.00 topped up.
func NewDeepSeek(t testing.TB) *DeepSeek {
	f := &DeepSeek{
		APIKey:    newKey("sk-"),
		available: true,
		infos:     []DeepSeekBalance{{Currency: "CNY", Granted: "10.00", ToppedUp: "100.00"}},
	}
	f.server = newServer(t, deepSeekError, route{path: DeepSeekBalancePath, auth: f.auth, answer: f.answer})
	return f
}

func deepSeekError(code int, msg string) string {
	typ := "invalid_request_error"
	switch {
	case code == http.StatusUnauthorized:
		typ = "authentication_error"
	case code == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case code >= 500:
		typ = "server_error"
	}
	m, _ := json.Marshal(msg)
	return fmt.Sprintf(`{"error": {"message": %s, "type": %q, "param": null, "code": "invalid_request_error"}}`, m, typ)
}

func (f *DeepSeek) auth(r *http.Request) (int, string) {
	if bearer(r) != f.APIKey {
		return http.StatusUnauthorized, "Authentication Fails, Your api key: " + masked(bearer(r)) + " is invalid"
	}
	return 0, ""
}

// SetBalances replaces the balances.
func (f *DeepSeek) SetBalances(bs ...DeepSeekBalance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.infos = append([]DeepSeekBalance(nil), bs...)
}

// SetAvailable sets is_available: false is what DeepSeek answers for an
// account with no balance available for API calls.
func (f *DeepSeek) SetAvailable(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.available = on
}

// TopUp adds amount to currency's topped-up balance (and its total).
func (f *DeepSeek) TopUp(currency, amount string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.infos {
		b := &f.infos[i]
		if b.Currency == currency {
			b.ToppedUp = add(b.ToppedUp, amount)
			if b.Total != "" {
				b.Total = add(b.Total, amount)
			}
		}
	}
}

// RechargeLoop tops up amount of currency before every balance request
// after the first: auto-recharge firing at every poll.
func (f *DeepSeek) RechargeLoop(currency, amount string) {
	f.OnRequest(DeepSeekBalancePath, func(n int) {
		if n > 1 {
			f.TopUp(currency, amount)
		}
	})
}

func add(a, b string) string {
	return decimal.RequireFromString(a).Add(decimal.RequireFromString(b)).StringFixed(2)
}

func (f *DeepSeek) answer(*http.Request) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var items []string
	for _, b := range f.infos {
		total := b.Total
		if total == "" {
			total = add(b.Granted, b.ToppedUp)
		}
		items = append(items, fmt.Sprintf(`{"currency": %q, "total_balance": %q, "granted_balance": %q, "topped_up_balance": %q}`,
			b.Currency, total, b.Granted, b.ToppedUp))
	}
	return http.StatusOK, fmt.Sprintf(`{"is_available": %t, "balance_infos": [%s]}`, f.available, strings.Join(items, ", "))
}
