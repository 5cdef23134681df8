package pollertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
)

// OpenRouter's paths.
const (
	OpenRouterCreditsPath = "/api/v1/credits"
	OpenRouterKeyPath     = "/api/v1/key"
)

// OpenRouter fakes GET /api/v1/credits (management key) and GET
// /api/v1/key.
type OpenRouter struct {
	*server
	// Key is the management key accepted ("sk-or-v1-…").
	Key string

	mu           sync.Mutex
	totalCredits decimal.Decimal
	totalUsage   decimal.Decimal
}

// NewOpenRouter starts a fake OpenRouter holding the documentation's
// example: 100.5 credits bought, 25.75 used.
func NewOpenRouter(t testing.TB) *OpenRouter {
	f := &OpenRouter{
		Key:          newKey("sk-or-v1-"),
		totalCredits: decimal.RequireFromString("100.5"),
		totalUsage:   decimal.RequireFromString("25.75"),
	}
	f.server = newServer(t, openRouterError,
		route{path: OpenRouterCreditsPath, auth: f.auth, answer: f.answerCredits},
		route{path: OpenRouterKeyPath, auth: f.auth, answer: f.answerKey},
	)
	return f
}

func openRouterError(code int, msg string) string {
	m, _ := json.Marshal(msg)
	return fmt.Sprintf(`{"error": {"message": %s, "code": %d}}`, m, code)
}

func (f *OpenRouter) auth(r *http.Request) (int, string) {
	if bearer(r) != f.Key {
		return http.StatusUnauthorized, "No auth credentials found"
	}
	return 0, ""
}

// SetCredits sets total_credits and total_usage (decimal text).
func (f *OpenRouter) SetCredits(total, usage string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totalCredits = decimal.RequireFromString(total)
	f.totalUsage = decimal.RequireFromString(usage)
}

// Buy adds amount to total_credits, as a purchase does.
func (f *OpenRouter) Buy(amount string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totalCredits = f.totalCredits.Add(decimal.RequireFromString(amount))
}

// Use adds amount to total_usage.
func (f *OpenRouter) Use(amount string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totalUsage = f.totalUsage.Add(decimal.RequireFromString(amount))
}

// RechargeLoop buys amount before every credits request after the first.
func (f *OpenRouter) RechargeLoop(amount string) {
	f.OnRequest(OpenRouterCreditsPath, func(n int) {
		if n > 1 {
			f.Buy(amount)
		}
	})
}

func (f *OpenRouter) answerCredits(*http.Request) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return http.StatusOK, fmt.Sprintf(`{"data": {"total_credits": %s, "total_usage": %s}}`, f.totalCredits, f.totalUsage)
}

func (f *OpenRouter) answerKey(*http.Request) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return http.StatusOK, fmt.Sprintf(`{"data": {"label": %q, "limit": null, "limit_remaining": null, "limit_reset": null, "include_byok_in_limit": false, "usage": %s, "usage_daily": 0, "usage_weekly": 0, "usage_monthly": 0, "byok_usage": 0, "is_free_tier": false, "is_management_key": true, "is_provisioning_key": false, "expires_at": null}}`,
		masked(f.Key), f.totalUsage)
}
