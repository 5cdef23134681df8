package guard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/shopspring/decimal"
)

// glitchHistory is twelve days of hourly polls of a healthy account whose
// provider answers one poll wrongly (at glitchAt) as glitch says. At
// DeepSeek ¥1.20 a day is drawn from ¥10 granted, then ¥500 topped up; at
// OpenAI $1.20 a day from a $500 purchased grant. Nothing is wrong with
// either account.
func glitchHistory(provider, glitch string, autoRecharge bool, glitchAt int) (billing.Account, []billing.Observation) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	perHour := decimal.New(5, -2) // 1.20 a day
	var a billing.Account
	if provider == "deepseek" {
		a = billing.Account{Name: "acme-deepseek", Provider: "deepseek", Currency: "CNY", Drawdown: billing.DrawdownGrantsFirst}
	} else {
		a = lt.Account("5", "10")
		a.Name, a.Provider = "acme-openai", "openai"
	}
	a.AutoRecharge.Enabled = autoRecharge
	if autoRecharge {
		a.AutoRecharge.Threshold = billing.NewMoney(decimal.NewFromInt(20), a.Currency)
		a.AutoRecharge.Mode, a.AutoRecharge.Amount = billing.RechargeAdd, billing.NewMoney(decimal.NewFromInt(100), a.Currency)
	}
	var obs []billing.Observation
	for n := 0; n <= 12*24; n++ {
		at := t0.Add(time.Duration(n) * time.Hour)
		used := perHour.Mul(decimal.NewFromInt(int64(n)))
		var o billing.Observation
		if provider == "deepseek" {
			// Granted credit goes first (DeepSeek's documented order).
			granted := decimal.Max(decimal.NewFromInt(10).Sub(used), decimal.Zero)
			paid := decimal.NewFromInt(500).Sub(decimal.Max(used.Sub(decimal.NewFromInt(10)), decimal.Zero))
			if n == glitchAt {
				switch glitch {
				case "total-zero":
					granted, paid = decimal.Zero, decimal.Zero
				case "paid-zero":
					paid = decimal.Zero
				}
			}
			o = lt.At(at).Split(granted.String(), paid.String(), "CNY").Build()
		} else {
			g := lt.Grant("cg_1", billing.GrantPurchased, "500.00", used.String(), t0.AddDate(0, 0, -2), t0.AddDate(1, 0, 0))
			if n == glitchAt {
				// The grants endpoint answers an empty list and a total of 0.
				o = lt.At(at).Grants().Build()
			} else {
				o = lt.At(at).Grants(g).Build()
			}
		}
		obs = append(obs, o)
	}
	return a, obs
}

// TestGlitchesPageNobody: a provider answering one poll with a balance of
// 0, a paid part of 0 or an empty grant list (maintenance, a cache miss)
// raises no finding, with auto-recharge on or off; after it, the burn and
// the runway are those of the history without the glitch, within a poll.
func TestGlitchesPageNobody(t *testing.T) {
	const glitchAt = 5*24 + 7
	for _, tc := range []struct{ provider, glitch string }{
		{"deepseek", "total-zero"}, {"deepseek", "paid-zero"}, {"openai", "empty-grants"},
	} {
		for _, auto := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/%s/auto-recharge=%v", tc.provider, tc.glitch, auto), func(t *testing.T) {
				states := func(glitch string) []billing.AccountState {
					a, obs := glitchHistory(tc.provider, glitch, auto, glitchAt)
					out := make([]billing.AccountState, len(obs))
					err := guard.Replay(context.Background(), a, "glitch", obs, guard.Options{Params: rules.DefaultParams()},
						func(i int, rep guard.Report) error {
							for _, f := range rep.Holding[a.Name] {
								t.Errorf("poll %d (%s): %s %s fired", i, obs[i].At.Format("Jan 2 15:04"), f.Severity, f.Rule)
							}
							out[i] = rep.States[a.Name]
							return nil
						})
					if err != nil {
						t.Fatal(err)
					}
					return out
				}
				clean, glitched := states("none"), states(tc.glitch)
				for i := glitchAt + 1; i < len(clean); i++ {
					c, g := clean[i].Runway, glitched[i].Runway
					if !c.Known || !g.Known {
						t.Fatalf("poll %d: runway known %v (clean) %v (glitch)", i, c.Known, g.Known)
					}
					if !c.BurnPerDay.Round(2).Amount().Equal(g.BurnPerDay.Round(2).Amount()) {
						t.Errorf("poll %d: burn %s with the glitch, %s without", i, g.BurnPerDay.Display(), c.BurnPerDay.Display())
					}
					if d := c.Lasts - g.Lasts; d > time.Hour || d < -time.Hour {
						t.Errorf("poll %d: runway %s with the glitch, %s without", i, g.Lasts, c.Lasts)
					}
					if !clean[i].Effective.Amount().Equal(glitched[i].Effective.Amount()) {
						t.Errorf("poll %d: effective %s with the glitch, %s without", i, glitched[i].Effective.Display(), clean[i].Effective.Display())
					}
				}
			})
		}
	}
}
