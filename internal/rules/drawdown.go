package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// DrawdownOrder fires when credit the account's drawdown policy says goes
// first sat idle while other credit was drawn: per-grant used amounts that
// did not move (OpenAI, expiring-first) or a granted balance that stayed put
// while the paid balance fell (DeepSeek, grants-first). One poll is not
// enough: providers update grants at different moments, so the pattern must
// hold over MinPolls polls.
type DrawdownOrder struct {
	// MinIdleCredit is the least credit the idle grant must hold.
	MinIdleCredit setting.Amount `yaml:"min_idle_credit"`
	// MinDrawn is the least credit drawn from elsewhere meanwhile.
	MinDrawn setting.Amount `yaml:"min_drawn"`
	// MinPolls is how many polls must show others drawn instead: one poll
	// can catch a provider updating grants at different moments.
	MinPolls setting.Count `yaml:"min_polls" min:"1"`
	burn
}

func defaultDrawdownOrder() *DrawdownOrder {
	return &DrawdownOrder{MinIdleCredit: setting.AmountOf(decimal.NewFromInt(1)), MinDrawn: setting.AmountOf(decimal.NewFromInt(1)),
		MinPolls: setting.CountOf(2)}
}

// History implements Rule: it compares grants over the ledger's recent
// polls.
func (r DrawdownOrder) History() time.Duration { return 0 }

// Name implements Rule.
func (DrawdownOrder) Name() string { return "drawdown-order" }

func (r DrawdownOrder) offends(c ledger.IdleCredit) bool {
	return c.Intervals >= r.MinPolls.N && ledger.Compare(c.Remaining, r.MinIdleCredit.Decimal) >= 0 && ledger.Compare(c.Drawn, r.MinDrawn.Decimal) >= 0
}

func idleEntity(c ledger.IdleCredit) string {
	if c.GrantID == "" {
		return "granted-balance"
	}
	return "grant:" + c.GrantID
}

// Check implements Rule.
func (r DrawdownOrder) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	var out []billing.Finding
	for _, c := range h.IdleCredits() {
		if r.offends(c) {
			out = append(out, billing.Finding{Severity: billing.SeverityWarning, Entity: idleEntity(c)})
		}
	}
	return out
}

// Explain implements Rule.
func (r DrawdownOrder) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	a := h.Account()
	cur := a.Currency
	var c ledger.IdleCredit
	for _, x := range h.IdleCredits() {
		if idleEntity(x) == f.Entity {
			c = x
		}
	}
	policy := "expiring-first policy (OpenAI: credit that expires first is used first)"
	if a.Drawdown == billing.DrawdownGrantsFirst {
		policy = "grants-first policy (DeepSeek: granted credit is used before paid credit)"
	}
	ids := make([]string, 0, len(c.DrawnFrom))
	for id := range c.DrawnFrom {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	remaining, drawn := billing.NewMoney(c.Remaining, cur), billing.NewMoney(c.Drawn, cur)
	var ev []billing.Evidence
	if c.GrantID != "" {
		g := c.Grant
		what := fmt.Sprintf("%s credit grant %s", g.Kind, g.ID)
		if g.KindGuess != "" {
			what = fmt.Sprintf("credit grant %s (%s, guessed)", g.ID, g.Kind)
		}
		expiry := "never expires"
		if !g.ExpiresAt.IsZero() {
			expiry = "expires " + billing.Day(g.ExpiresAt)
		}
		f.Summary = fmt.Sprintf("The %s has %s left and %s, but has not moved since %s while %s was drawn from %s instead; the account's %s says it goes first.",
			what, remaining.Display(), expiry, c.IdleSince.UTC().Format("2006-01-02 15:04 UTC"), drawn.Display(),
			strings.Join(ids, ", "), policy)
		ev = append(ev, billing.Evidence{What: "idle grant", Ref: g.ID, At: c.IdleSince, Amount: remaining,
			Note:   fmt.Sprintf("%s of %s left, %s, used amount unchanged over %d polls", remaining.Display(), g.Amount.Display(), expiry, c.Intervals),
			Source: c.Source, AsOf: c.AsOf})
	} else {
		f.Summary = fmt.Sprintf("The granted balance of %s has not moved since %s while %s of paid balance was drawn instead; the account's %s says granted credit goes first.",
			remaining.Display(), c.IdleSince.UTC().Format("2006-01-02 15:04 UTC"), drawn.Display(), policy)
		ev = append(ev, billing.Evidence{What: "granted balance", At: c.IdleSince, Amount: remaining,
			Note: fmt.Sprintf("unchanged over %d polls", c.Intervals), Source: c.Source, AsOf: c.AsOf})
	}
	for _, id := range ids {
		ev = append(ev, billing.Evidence{What: "drawn instead", Ref: id, At: now, Amount: billing.NewMoney(c.DrawnFrom[id], cur),
			Note: "consumed while the idle credit should have been", Source: c.Source, AsOf: c.AsOf})
	}
	f.Evidence = ev
	if a.AutoRecharge.Enabled {
		f.Recommendation = disableAdvice(h, now, r.burnWindow) + " Ask the provider's support why the grant is not being drawn."
	} else {
		f.Recommendation = "Ask the provider's support why the grant is not being drawn before it expires; send them this evidence."
	}
	return f
}

// Sees implements Rule: the provider shows which credit is drawn (grants, or a split balance).
func (DrawdownOrder) Sees(s billing.Sight) bool { return s.Grants || s.Split }
