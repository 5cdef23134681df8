package openai

import (
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller/provider"
	"github.com/shopspring/decimal"
)

// usd is the currency of every OpenAI amount.
const usd billing.Currency = "USD"

// costsPage is one page of GET /v1/organization/costs. Only the fields
// guardd uses are declared; unknown fields are ignored.
type costsPage struct {
	Data *[]struct {
		StartTime provider.Number `json:"start_time"`
		EndTime   provider.Number `json:"end_time"`
		Results   *[]struct {
			Amount *struct {
				Value    provider.Number `json:"value"`
				Currency *string         `json:"currency"`
			} `json:"amount"`
		} `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// decodeCosts reads one costs page: the buckets in it (Settled not yet
// set), with the results of each bucket summed, and the next page's cursor
// ("" on the last page). Amounts are dollars read from their JSON text. A
// result without an amount (absent or null: the spec allows it) adds
// nothing and is listed in skipped, by its path, for the caller to log.
func decodeCosts(body []byte) (buckets []billing.CostBucket, next string, skipped []string, err error) {
	var p costsPage
	if err := provider.DecodeJSON(body, &p); err != nil {
		return nil, "", nil, err
	}
	if p.Data == nil {
		return nil, "", nil, errors.New(`field "data" is missing`)
	}
	for i, b := range *p.Data {
		at := fmt.Sprintf("data[%d]", i)
		start, err := b.StartTime.UnixTime(at + ".start_time")
		if err != nil {
			return nil, "", nil, err
		}
		end, err := b.EndTime.UnixTime(at + ".end_time")
		if err != nil {
			return nil, "", nil, err
		}
		if !end.After(start) {
			return nil, "", nil, fmt.Errorf("%s: end_time %d is not after start_time %d", at, end.Unix(), start.Unix())
		}
		if b.Results == nil {
			return nil, "", nil, fmt.Errorf("%s.results is missing", at)
		}
		sum := decimal.Zero
		for j, r := range *b.Results {
			rat := fmt.Sprintf("%s.results[%d].amount", at, j)
			if r.Amount == nil {
				skipped = append(skipped, fmt.Sprintf("%s.results[%d]", at, j))
				continue
			}
			if err := checkCurrency(r.Amount.Currency, rat+".currency"); err != nil {
				return nil, "", nil, err
			}
			v, err := r.Amount.Value.NonNegative(rat + ".value")
			if err != nil {
				return nil, "", nil, err
			}
			sum = sum.Add(v)
		}
		buckets = append(buckets, billing.CostBucket{Start: start, End: end, Amount: billing.NewMoney(sum, usd)})
	}
	if p.HasMore {
		if p.NextPage == nil || *p.NextPage == "" {
			return nil, "", nil, errors.New(`has_more is true but next_page is missing`)
		}
		next = *p.NextPage
	}
	return buckets, next, skipped, nil
}

// checkCurrency accepts a currency that is USD in any case.
func checkCurrency(s *string, field string) error {
	if s == nil {
		return fmt.Errorf("%s is missing", field)
	}
	c, err := billing.ParseCurrency(*s)
	if err != nil {
		return fmt.Errorf("%s: %v", field, err)
	}
	if c != usd {
		return fmt.Errorf("%s: unexpected currency %s (OpenAI bills in USD)", field, c)
	}
	return nil
}

// creditSummary is GET /dashboard/billing/credit_grants.
type creditSummary struct {
	TotalAvailable provider.Number `json:"total_available"`
	Grants         *struct {
		Data *[]struct {
			ID          *string         `json:"id"`
			GrantAmount provider.Number `json:"grant_amount"`
			UsedAmount  provider.Number `json:"used_amount"`
			EffectiveAt provider.Number `json:"effective_at"`
			ExpiresAt   provider.Number `json:"expires_at"`
		} `json:"data"`
	} `json:"grants"`
}

// decodeGrants reads the credit summary: the balance OpenAI shows
// (total_available, which may still count expired grants and may be
// negative) and every grant, expired ones included, each with its kind
// guessed.
func decodeGrants(body []byte) (billing.Balance, []billing.Grant, error) {
	var s creditSummary
	if err := provider.DecodeJSON(body, &s); err != nil {
		return billing.Balance{}, nil, err
	}
	shown, err := s.TotalAvailable.Amount("total_available")
	if err != nil {
		return billing.Balance{}, nil, err
	}
	if s.Grants == nil || s.Grants.Data == nil {
		return billing.Balance{}, nil, errors.New(`field "grants.data" is missing`)
	}
	grants := make([]billing.Grant, 0, len(*s.Grants.Data))
	seen := make(map[string]bool)
	for i, g := range *s.Grants.Data {
		at := fmt.Sprintf("grants.data[%d]", i)
		if g.ID == nil || *g.ID == "" {
			return billing.Balance{}, nil, fmt.Errorf("%s.id is missing", at)
		}
		if seen[*g.ID] {
			return billing.Balance{}, nil, fmt.Errorf("%s: grant %q is listed twice", at, *g.ID)
		}
		seen[*g.ID] = true
		amount, err := g.GrantAmount.NonNegative(at + ".grant_amount")
		if err != nil {
			return billing.Balance{}, nil, err
		}
		used, err := g.UsedAmount.NonNegative(at + ".used_amount")
		if err != nil {
			return billing.Balance{}, nil, err
		}
		eff, err := g.EffectiveAt.UnixTime(at + ".effective_at")
		if err != nil {
			return billing.Balance{}, nil, err
		}
		var exp time.Time
		// A missing, null or zero expires_at: the grant never expires.
		if g.ExpiresAt.Set {
			if exp, err = g.ExpiresAt.UnixTime(at + ".expires_at"); err != nil {
				return billing.Balance{}, nil, err
			}
			if exp.Equal(time.Unix(0, 0)) {
				exp = time.Time{}
			} else if !exp.After(eff) {
				return billing.Balance{}, nil, fmt.Errorf("%s: expires_at %s is not after effective_at %s",
					at, exp.Format(time.RFC3339), eff.Format(time.RFC3339))
			}
		}
		gr := billing.Grant{
			ID:          *g.ID,
			Amount:      billing.NewMoney(amount, usd),
			Used:        billing.NewMoney(used, usd),
			EffectiveAt: eff,
			ExpiresAt:   exp,
		}
		gr.Kind, gr.KindGuess = GuessKind(gr)
		grants = append(grants, gr)
	}
	return billing.Balance{Shown: billing.NewMoney(shown, usd)}, grants, nil
}

// GuessKind classifies a grant OpenAI did not label. A purchase of prepaid
// credit lands as a grant back-dated to the end of the previous month that
// expires one year later (providers.md §2.2 and §5.1); anything else is
// taken for promotional credit. It is a guess, and the reason says so.
func GuessKind(g billing.Grant) (billing.GrantKind, string) {
	if monthEnd(g.EffectiveAt) && oneYearAfter(g.EffectiveAt, g.ExpiresAt) {
		return billing.GrantPurchased, "guessed: expires one year after a month-end effective_at, like purchases (OpenAI labels no grant)"
	}
	why := "does not expire one year after its effective_at"
	if g.ExpiresAt.IsZero() {
		why = "never expires"
	} else if !monthEnd(g.EffectiveAt) {
		why = "its effective_at is not at a month's end"
	}
	return billing.GrantPromotional, "guessed: " + why + ", unlike purchases (OpenAI labels no grant)"
}

// monthEnd reports whether t falls on the last day of a month, or exactly at
// the midnight that starts one (UTC).
func monthEnd(t time.Time) bool {
	t = t.UTC()
	if t.Day() == 1 && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return true
	}
	return t.AddDate(0, 0, 1).Day() == 1
}

// oneYearAfter reports whether exp is a year after eff, give or take two
// days (leap years, time zones).
func oneYearAfter(eff, exp time.Time) bool {
	if exp.IsZero() {
		return false
	}
	d := exp.Sub(eff.AddDate(1, 0, 0))
	return d >= -48*time.Hour && d <= 48*time.Hour
}
