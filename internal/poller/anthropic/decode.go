package anthropic

import (
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/shopspring/decimal"
)

// usd is the currency of every Anthropic amount.
const usd billing.Currency = "USD"

// reportPage is one page of GET /v1/organizations/cost_report. Only the
// fields guardd uses are declared; unknown fields are ignored.
type reportPage struct {
	Data *[]struct {
		StartingAt *string `json:"starting_at"`
		EndingAt   *string `json:"ending_at"`
		Results    *[]struct {
			Currency *string         `json:"currency"`
			Amount   provider.Number `json:"amount"`
		} `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// decodeCostReport reads one cost report page: its buckets (Settled not yet
// set) with the results of each summed, and the next page's cursor ("" on
// the last page). Amounts are decimal strings in cents ("123.45" is $1.2345),
// divided by 100 exactly.
func decodeCostReport(body []byte) (buckets []billing.CostBucket, next string, err error) {
	var p reportPage
	if err := provider.DecodeJSON(body, &p); err != nil {
		return nil, "", err
	}
	if p.Data == nil {
		return nil, "", errors.New(`field "data" is missing`)
	}
	for i, b := range *p.Data {
		at := fmt.Sprintf("data[%d]", i)
		start, err := rfc3339(b.StartingAt, at+".starting_at")
		if err != nil {
			return nil, "", err
		}
		end, err := rfc3339(b.EndingAt, at+".ending_at")
		if err != nil {
			return nil, "", err
		}
		if !end.After(start) {
			return nil, "", fmt.Errorf("%s: ending_at %s is not after starting_at %s", at, *b.EndingAt, *b.StartingAt)
		}
		if b.Results == nil {
			return nil, "", fmt.Errorf("%s.results is missing", at)
		}
		sum := decimal.Zero
		for j, r := range *b.Results {
			rat := fmt.Sprintf("%s.results[%d]", at, j)
			if r.Currency == nil {
				return nil, "", fmt.Errorf("%s.currency is missing", rat)
			}
			c, err := billing.ParseCurrency(*r.Currency)
			if err != nil {
				return nil, "", fmt.Errorf("%s.currency: %v", rat, err)
			}
			if c != usd {
				return nil, "", fmt.Errorf("%s.currency: unexpected currency %s (Anthropic reports USD)", rat, c)
			}
			cents, err := r.Amount.NonNegative(rat + ".amount")
			if err != nil {
				return nil, "", err
			}
			sum = sum.Add(cents)
		}
		buckets = append(buckets, billing.CostBucket{Start: start, End: end, Amount: billing.NewMoney(sum.Shift(-2), usd)})
	}
	if p.HasMore {
		if p.NextPage == nil || *p.NextPage == "" {
			return nil, "", errors.New("has_more is true but next_page is missing")
		}
		next = *p.NextPage
	}
	return buckets, next, nil
}

func rfc3339(s *string, field string) (time.Time, error) {
	if s == nil {
		return time.Time{}, fmt.Errorf("%s is missing", field)
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil || t.UTC().Year() > 9999 {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time", field, truncate(*s))
	}
	return t.UTC(), nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
