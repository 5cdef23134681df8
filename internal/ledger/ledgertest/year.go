package ledgertest

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Year builds an hourly history of n observations of a busy account for
// benchmarks: 20 grants listed in every poll (some expiring during the
// year) and consumed in expiry order, and charges paid every 4h23m (2,000
// over a year), each listed by every poll of the following day as an
// invoice endpoint would. The charges never become grants, so
// charge-without-credit holds throughout: a steady state that is the same
// after a month as after a year.
func Year(n int) (billing.Account, []billing.Observation) {
	a := Account("20.00", "50.00")
	const grants = 20
	every := 4*time.Hour + 23*time.Minute
	gs := make([]billing.Grant, grants)
	for i := range gs {
		kind := billing.GrantPurchased
		if i%4 == 0 {
			kind = billing.GrantPromotional
		}
		eff := T0.Add(-time.Duration(i) * 24 * time.Hour)
		gs[i] = billing.Grant{
			ID: fmt.Sprintf("cg_%02d", i), Kind: kind,
			Amount: USD("500.00"), Used: USD("0"),
			EffectiveAt: eff, ExpiresAt: eff.Add(time.Duration(60+30*i) * 24 * time.Hour),
		}
	}
	perHour := decimal.New(137, -2) // $1.37 an hour, spread over the grants
	var charges []billing.Charge
	obs := make([]billing.Observation, n)
	for h := 0; h < n; h++ {
		at := T0.Add(time.Duration(h) * time.Hour)
		// Consume, as the provider documents, from the unexpired grants with
		// credit left in order of expiry.
		for need := perHour; need.IsPositive(); {
			next := -1
			for i := range gs {
				if gs[i].ExpiredAt(at) || !gs[i].Remaining().IsPositive() {
					continue
				}
				if next < 0 || gs[i].ExpiresAt.Before(gs[next].ExpiresAt) {
					next = i
				}
			}
			if next < 0 {
				break
			}
			take := decimal.Min(need, gs[next].Remaining().Amount())
			gs[next].Used = billing.NewMoney(gs[next].Used.Amount().Add(take), "USD")
			need = need.Sub(take)
		}
		for next := len(charges); T0.Add(time.Duration(next+1) * every).Before(at.Add(time.Nanosecond)); next++ {
			charges = append(charges, Invoice(fmt.Sprintf("in_%05d", next), T0.Add(time.Duration(next+1)*every),
				"54.00", "4.00", billing.TriggerAutoRecharge))
		}
		var recent []billing.Charge
		for i := len(charges) - 1; i >= 0 && at.Sub(charges[i].PaidAt) < 24*time.Hour; i-- {
			recent = append(recent, charges[i])
		}
		b := At(at).Shown(sumRemaining(gs).String()).Grants(gs...).Charges(recent...)
		obs[h] = b.Build()
	}
	return a, obs
}

func sumRemaining(gs []billing.Grant) decimal.Decimal {
	s := decimal.Zero
	for _, g := range gs {
		s = s.Add(g.Remaining().Amount())
	}
	return s
}
