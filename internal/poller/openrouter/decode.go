package openrouter

import (
	"errors"

	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/shopspring/decimal"
)

// creditsDoc is GET /api/v1/credits. Unknown fields are ignored.
type creditsDoc struct {
	Data *struct {
		TotalCredits provider.Number `json:"total_credits"`
		TotalUsage   provider.Number `json:"total_usage"`
	} `json:"data"`
}

// decodeCredits reads the credits ever bought and ever used, in dollars,
// from their JSON text.
func decodeCredits(body []byte) (total, usage decimal.Decimal, err error) {
	var d creditsDoc
	if err := provider.DecodeJSON(body, &d); err != nil {
		return total, usage, err
	}
	if d.Data == nil {
		return total, usage, errors.New(`field "data" is missing`)
	}
	if total, err = d.Data.TotalCredits.NonNegative("data.total_credits"); err != nil {
		return total, usage, err
	}
	if usage, err = d.Data.TotalUsage.NonNegative("data.total_usage"); err != nil {
		return total, usage, err
	}
	return total, usage, nil
}
