package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// GrantExpiringUnused fires for a grant that expires within Horizon and, at
// the recent burn, will leave more than MinLoss unused. The projection walks
// the unexpired grants in the account's drawdown order, spending the burn on
// each until it is used up or expires. With less than an hour of history the
// burn is unknown and the rule stays silent.
type GrantExpiringUnused struct {
	// Horizon: grants expiring within it are examined.
	Horizon setting.Duration `yaml:"horizon"`
	// MinLoss is the least credit projected to expire unused.
	MinLoss setting.Amount `yaml:"min_loss"`
	burn
}

func defaultGrantExpiringUnused() *GrantExpiringUnused {
	return &GrantExpiringUnused{Horizon: setting.DurationOf(14 * 24 * time.Hour), MinLoss: setting.AmountOf(decimal.NewFromInt(1))}
}

// History implements Rule: it reads the latest grants and the burn.
func (r GrantExpiringUnused) History() time.Duration { return 0 }

// Name implements Rule.
func (GrantExpiringUnused) Name() string { return "grant-expiring-unused" }

type projectedLoss struct {
	grant billing.Grant
	lost  decimal.Decimal
}

// project returns, for each grant expiring within the horizon, the credit
// projected to expire unused.
func (r GrantExpiringUnused) project(h *ledger.Ledger, now time.Time) ([]projectedLoss, billing.Runway) {
	obs, _ := h.Current()
	if obs == nil || !obs.Has(billing.PartGrants) {
		return nil, billing.Runway{}
	}
	// Most polls have no grant with enough credit expiring soon: skip the
	// projection then.
	horizon := now.Add(r.Horizon.Duration)
	soon := false
	for i := range obs.Grants {
		g := &obs.Grants[i]
		if !g.ExpiresAt.IsZero() && !g.ExpiredAt(now) && !g.ExpiresAt.After(horizon) &&
			ledger.Compare(g.Remaining().Amount(), r.MinLoss.Decimal) >= 0 {
			soon = true
			break
		}
	}
	rw := h.Runway(now, r.burnWindow)
	if !soon || !rw.Known {
		return nil, rw
	}
	gs := make([]billing.Grant, 0, len(obs.Grants))
	for i := range obs.Grants {
		if g := &obs.Grants[i]; !g.ExpiredAt(now) && g.Remaining().IsPositive() {
			gs = append(gs, *g)
		}
	}
	policy := h.Account().Drawdown
	slices.SortStableFunc(gs, func(a, b billing.Grant) int {
		switch {
		case ledger.GoesFirst(policy, a, b):
			return -1
		case ledger.GoesFirst(policy, b, a):
			return 1
		}
		return 0
	})
	// Only a grant expiring within the horizon can be a loss: the walk
	// stops after the last of them in drawdown order.
	last := -1
	for i := range gs {
		if e := gs[i].ExpiresAt; !e.IsZero() && !e.After(horizon) {
			last = i
		}
	}
	perSec := rw.BurnPerDay.Amount().Div(decimal.NewFromInt(86400))
	var out []projectedLoss
	t := now
	for _, g := range gs[:last+1] {
		rem := g.Remaining().Amount()
		used := rem
		if !g.ExpiresAt.IsZero() {
			avail := decimal.Zero
			if g.ExpiresAt.After(t) {
				avail = perSec.Mul(decimal.NewFromInt(int64(g.ExpiresAt.Sub(t) / time.Second)))
			}
			used = decimal.Min(rem, avail)
		}
		if lost := rem.Sub(used); lost.IsPositive() {
			if !g.ExpiresAt.After(horizon) && ledger.Compare(lost, r.MinLoss.Decimal) >= 0 {
				out = append(out, projectedLoss{grant: g, lost: lost})
			}
			if g.ExpiresAt.After(t) {
				t = g.ExpiresAt
			}
			continue
		}
		if perSec.IsPositive() {
			t = t.Add(time.Duration(used.Div(perSec).IntPart()) * time.Second)
		}
	}
	return out, rw
}

// Check implements Rule.
func (r GrantExpiringUnused) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	losses, _ := r.project(h, now)
	out := make([]billing.Finding, 0, len(losses))
	for _, l := range losses {
		out = append(out, billing.Finding{Severity: billing.SeverityWarning, Entity: "grant:" + l.grant.ID})
	}
	return out
}

// Explain implements Rule.
func (r GrantExpiringUnused) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	losses, rw := r.project(h, now)
	obs, _ := h.Current()
	c := h.Account().Currency
	for _, l := range losses {
		if "grant:"+l.grant.ID != f.Entity {
			continue
		}
		g := l.grant
		lost := billing.NewMoney(l.lost, c)
		burn := "nothing consumed recently"
		if !rw.Endless {
			burn = "the recent burn of " + rw.BurnPerDay.Display() + "/day"
		}
		f.Summary = fmt.Sprintf("Grant %s expires on %s with %s left; at %s about %s of it will expire unused.",
			g.ID, billing.Day(g.ExpiresAt), g.Remaining().Display(), burn, lost.Display())
		st := obs.Parts[billing.PartGrants]
		f.Evidence = []billing.Evidence{{What: "credit grant", Ref: g.ID, At: g.ExpiresAt, Amount: g.Remaining(),
			Note:   fmt.Sprintf("%s grant of %s, %s left, expires %s, projected loss %s", g.Kind, g.Amount.Display(), g.Remaining().Display(), billing.Day(g.ExpiresAt), lost.Display()),
			Source: st.Source, AsOf: st.AsOf}}
		f.Recommendation = fmt.Sprintf("Use the grant before %s (move usage onto this account), or ask the provider whether it can be extended; providers rarely extend grants.",
			billing.Day(g.ExpiresAt))
	}
	return f
}

// Sees implements Rule: the provider lists its grants.
func (GrantExpiringUnused) Sees(s billing.Sight) bool { return s.Grants }
