package ledgertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Shape is the kind of account a generated history is of.
type Shape int

// The shapes History builds: together they reach every part of the ledger
// (grants, split balances, charges paired with credit or not, receipts that
// come late, cost windows, a derived balance, suspect readings, failed
// polls).
const (
	// ShapeGrants is OpenAI-like: a grant list, auto-recharges that land as
	// purchased grants with invoices (some late, some never credited, some
	// credit without a charge), daily cost windows (one settled at zero while
	// credit was drawn), bursts of recharges, promotional credit left idle,
	// an empty grant list for one poll now and then, and a monthly cap.
	ShapeGrants Shape = iota
	// ShapeSplit is DeepSeek-like: a granted and a paid balance in CNY,
	// grants-first, auto-recharge off; granted credit idle for spells, paid
	// top-ups seen only as rises, a paid balance that reads zero for a poll.
	ShapeSplit
	// ShapeDerived has no balance at all: a balance anchor, daily costs and
	// receipts, from which the ledger derives the balance.
	ShapeDerived
	// ShapeRestore shows only a balance; auto-recharge restores it to a
	// target; invoices carry no trigger and some are listed days late.
	ShapeRestore
)

// Shapes lists every shape.
var Shapes = []Shape{ShapeGrants, ShapeSplit, ShapeDerived, ShapeRestore}

func (s Shape) String() string {
	switch s {
	case ShapeGrants:
		return "grants"
	case ShapeSplit:
		return "split"
	case ShapeDerived:
		return "derived"
	case ShapeRestore:
		return "restore"
	}
	return fmt.Sprintf("shape(%d)", int(s))
}

// Poll is one generated poll: an observation, or the error of a poll that
// read nothing.
type Poll struct {
	At  time.Time
	Obs billing.Observation
	Err error
}

// ErrPoll is the error of a generated failed poll.
var ErrPoll = errors.New("generated outage: connection refused")

// Ledger is what a poll is fed to: a ledger.Ledger.
type Ledger interface {
	Append(billing.Observation) error
	RecordFailure(at time.Time, err error)
}

// Feed gives l the poll as the guard's cycle does: the observation, or the
// failure.
func (p Poll) Feed(l Ledger) error {
	if p.Err != nil {
		l.RecordFailure(p.At, p.Err)
		return nil
	}
	if err := l.Append(p.Obs); err != nil {
		return fmt.Errorf("append the observation at %s: %w", p.At, err)
	}
	return nil
}

// Clone returns a copy of o that shares no slice or map with it, as a
// source's next fetch would be.
func Clone(o billing.Observation) billing.Observation {
	c := o
	c.Parts = make(map[billing.Part]billing.PartStatus, len(o.Parts))
	for k, v := range o.Parts {
		c.Parts[k] = v
	}
	c.Grants = append([]billing.Grant(nil), o.Grants...)
	c.Charges = append([]billing.Charge(nil), o.Charges...)
	c.Costs = append([]billing.CostBucket(nil), o.Costs...)
	if o.Derived != nil {
		d := *o.Derived
		c.Derived = &d
	}
	return c
}

// History builds n polls every `every` from T0 of an account of shape s,
// the same for the same arguments. Every observation lists only what a
// provider would (recent grants and charges, the open and the last settled
// cost day), so observations stay the same size however long the history.
func History(s Shape, every time.Duration, n int) (billing.Account, []Poll) {
	g := &gen{shape: s, every: every, rnd: rand.New(rand.NewPCG(uint64(s)+1, 42))}
	g.init()
	polls := make([]Poll, n)
	for i := range polls {
		polls[i] = g.poll(T0.Add(time.Duration(i) * every))
	}
	return g.account, polls
}

// Observations is History without the failed polls.
func Observations(s Shape, every time.Duration, n int) (billing.Account, []billing.Observation) {
	a, polls := History(s, every, n)
	obs := make([]billing.Observation, 0, len(polls))
	for _, p := range polls {
		if p.Err == nil {
			obs = append(obs, p.Obs)
		}
	}
	return a, obs
}

type listedGrant struct {
	billing.Grant
	gone time.Time // when the provider stops listing it; zero: listed
}

type gen struct {
	shape   Shape
	every   time.Duration
	rnd     *rand.Rand
	account billing.Account
	cur     billing.Currency

	grants    []listedGrant
	charges   []billing.Charge // listed while PaidAt is within listFor of now
	pending   []billing.Charge // charges to list later (late invoices)
	pendingAt []time.Time      // when each is listed
	nRecharge int
	listFor   time.Duration
	nGrant    int
	nCharge   int

	granted, paid, shown decimal.Decimal // split and shown balances
	spentDay             decimal.Decimal // cost of the current day so far
	lastDay              decimal.Decimal // cost of the previous day
	day                  time.Time
	glitch               int // polls until the next suspect reading
	outage               int // failed polls left in the current outage
}

func (g *gen) init() {
	g.cur = "USD"
	switch g.shape {
	case ShapeGrants:
		g.account = Account("20.00", "50.00")
		g.account.MonthlyCap, g.account.HasMonthlyCap = USD("400.00"), true
		g.addGrant(billing.GrantPromotional, "25.00", T0.Add(-24*time.Hour), T0.Add(40*24*time.Hour))
		g.addGrant(billing.GrantPromotional, "40.00", T0.Add(-24*time.Hour), T0.Add(200*24*time.Hour))
		g.addGrant(billing.GrantPurchased, "100.00", T0.Add(-48*time.Hour), T0.Add(365*24*time.Hour))
		g.listFor = 72 * time.Hour
	case ShapeSplit:
		g.cur = "CNY"
		g.account = billing.Account{Name: "acme", Provider: "deepseek", Currency: "CNY", Drawdown: billing.DrawdownGrantsFirst}
		g.granted, g.paid = decimal.NewFromInt(10), decimal.NewFromInt(200)
	case ShapeDerived:
		g.account = Account("20.00", "100.00")
		g.account.Provider = "anthropic"
		g.account.MonthlyCap, g.account.HasMonthlyCap = USD("150.00"), true
		g.account.Anchor = billing.BalanceAnchor{Amount: USD("80.00"), At: T0.Add(-6 * time.Hour)}
		g.account.HasAnchor = true
		g.shown = decimal.NewFromInt(80)
		g.listFor = 30 * 24 * time.Hour
	case ShapeRestore:
		g.account = RestoreAccount("10.00", "100.00")
		g.account.AutoRecharge.MonthlyLimit, g.account.AutoRecharge.HasMonthlyLimit = USD("300.00"), true
		g.account.MonthlyCap, g.account.HasMonthlyCap = USD("200.00"), true
		g.shown = decimal.NewFromInt(60)
		g.listFor = 7 * 24 * time.Hour
	}
	g.day = T0.Truncate(24 * time.Hour)
	g.glitch = 300 + g.rnd.IntN(400)
}

func (g *gen) money(d decimal.Decimal) billing.Money { return billing.NewMoney(d, g.cur) }

func (g *gen) addGrant(kind billing.GrantKind, amount string, eff, exp time.Time) string {
	g.nGrant++
	id := fmt.Sprintf("cg_%04d", g.nGrant)
	g.grants = append(g.grants, listedGrant{Grant: billing.Grant{ID: id, Kind: kind, Amount: g.money(decimal.RequireFromString(amount)),
		Used: g.money(decimal.Zero), EffectiveAt: eff, ExpiresAt: exp}})
	return id
}

func (g *gen) addCharge(paid time.Time, amount, tax string, trigger billing.ChargeTrigger, listAt time.Time) {
	g.nCharge++
	c := billing.Charge{ID: fmt.Sprintf("in_%05d", g.nCharge), PaidAt: paid, Amount: g.money(decimal.RequireFromString(amount)),
		Tax: g.money(decimal.RequireFromString(tax)), Origin: billing.ChargeInvoice, Trigger: trigger}
	if listAt.After(paid) {
		g.pending = append(g.pending, c)
		g.pendingAt = append(g.pendingAt, listAt)
		return
	}
	g.charges = append(g.charges, c)
}

// cents returns a random amount between lo and hi cents.
func (g *gen) cents(lo, hi int) decimal.Decimal {
	return decimal.New(int64(lo+g.rnd.IntN(hi-lo+1)), -2)
}

func (g *gen) poll(at time.Time) Poll {
	scale := decimal.NewFromInt(int64(g.every / time.Minute)).Div(decimal.NewFromInt(15))
	day := at.Truncate(24 * time.Hour)
	if day.After(g.day) {
		g.lastDay, g.spentDay, g.day = g.spentDay, decimal.Zero, day
	}
	hour := int(at.Sub(T0) / time.Hour)
	// Consumption: mostly steady, with a burst spell of heavy use.
	use := g.cents(5, 40).Mul(scale).Round(2)
	if d := hour / 24; d%90 == 60 && hour%24 < 12 {
		use = use.Mul(decimal.NewFromInt(25))
	}
	switch g.shape {
	case ShapeGrants:
		g.stepGrants(at, use, hour)
	case ShapeSplit:
		g.stepSplit(at, use, hour)
	case ShapeDerived, ShapeRestore:
		g.stepShown(at, use, hour)
	}
	// Outages: a few failed polls in a row now and then.
	if g.outage > 0 {
		g.outage--
		return Poll{At: at, Err: ErrPoll}
	}
	if g.rnd.IntN(700) == 0 {
		g.outage = 1 + g.rnd.IntN(4)
	}
	return Poll{At: at, Obs: g.observe(at, hour)}
}

func (g *gen) stepGrants(at time.Time, use decimal.Decimal, hour int) {
	// Promotional credit sits idle for a spell every 100 days: purchased
	// grants are drawn instead (the drawdown-order finding).
	idle := (hour/24)%100 >= 80 && (hour/24)%100 < 84
	if once(at, 100*24*time.Hour, 79*24*time.Hour) {
		// Promotional credit the idle spell leaves untouched while the
		// card is charged (recharge-while-grant-credit).
		g.addGrant(billing.GrantPromotional, "30.00", at, at.Add(60*24*time.Hour))
	}
	if (hour/24)%100 == 95 && (hour/24)%200 != 95 {
		// A settled day at zero while credit was drawn: the costs
		// report undercounts (spend-without-usage).
		g.spentDay = decimal.Zero
	} else {
		g.spentDay = g.spentDay.Add(use)
	}
	for need := use; need.IsPositive(); {
		next := -1
		for i := range g.grants {
			gr := &g.grants[i]
			if !gr.gone.IsZero() || gr.ExpiredAt(at) || !gr.Remaining().IsPositive() || (idle && gr.Kind == billing.GrantPromotional) {
				continue
			}
			if next < 0 || earlier(gr.Grant, g.grants[next].Grant) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		gr := &g.grants[next]
		take := decimal.Min(need, gr.Remaining().Amount())
		gr.Used = g.money(gr.Used.Amount().Add(take))
		need = need.Sub(take)
	}
	// Auto-recharge below the threshold: a purchased grant and its
	// invoice, in their many variants.
	if g.effective(at).LessThan(decimal.NewFromInt(20)) {
		eff := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
		paid := at.Add(-time.Duration(1+g.rnd.IntN(int(g.every/time.Minute))) * time.Minute)
		g.nRecharge++
		switch k := g.nRecharge % 13; {
		case k == 5: // a charge whose credit never comes; the next poll retries
			g.addCharge(paid, "54.00", "4.00", billing.TriggerAutoRecharge, time.Time{})
		case k == 9: // credit without any charge
			g.addGrant(billing.GrantPurchased, "50.00", eff, eff.AddDate(1, 0, 0))
		case k%4 == 1: // the invoice is listed an hour or two after the credit
			g.addGrant(billing.GrantPurchased, "50.00", eff, eff.AddDate(1, 0, 0))
			g.addCharge(paid, "54.00", "4.00", billing.TriggerAutoRecharge, at.Add(time.Duration(1+g.rnd.IntN(2))*time.Hour))
		default:
			g.addGrant(billing.GrantPurchased, "50.00", eff, eff.AddDate(1, 0, 0))
			g.addCharge(paid, "54.00", "4.00", billing.TriggerAutoRecharge, time.Time{})
		}
		if g.nRecharge%17 == 3 {
			// A manual top-up with a promotional bonus.
			g.addGrant(billing.GrantPromotional, "10.00", at, at.Add(30*24*time.Hour))
			g.addCharge(paid, "100.00", "0", billing.TriggerManual, time.Time{})
			g.addGrant(billing.GrantPurchased, "100.00", eff, eff.AddDate(1, 0, 0))
		}
	}
	// The provider stops listing grants a month after they run out or
	// expire.
	for i := range g.grants {
		gr := &g.grants[i]
		if gr.gone.IsZero() && (gr.ExpiredAt(at.Add(-30*24*time.Hour)) || (!gr.Remaining().IsPositive() && g.rnd.IntN(30*24) == 0)) {
			gr.gone = at
		}
	}
	live := g.grants[:0]
	for _, gr := range g.grants {
		if gr.gone.IsZero() {
			live = append(live, gr)
		}
	}
	g.grants = live
}

// once reports whether at is offset into a period (counted from T0).
func once(at time.Time, period, offset time.Duration) bool { return at.Sub(T0)%period == offset }

func earlier(a, b billing.Grant) bool {
	switch {
	case a.ExpiresAt.IsZero():
		return false
	case b.ExpiresAt.IsZero():
		return true
	}
	return a.ExpiresAt.Before(b.ExpiresAt)
}

func (g *gen) effective(at time.Time) decimal.Decimal {
	sum := decimal.Zero
	for _, gr := range g.grants {
		if !gr.ExpiredAt(at) {
			sum = sum.Add(gr.Remaining().Amount())
		}
	}
	return sum
}

func (g *gen) stepSplit(at time.Time, use decimal.Decimal, hour int) {
	g.spentDay = g.spentDay.Add(use)
	// Granted credit goes first, except in spells where the provider
	// draws paid credit while granted sits idle.
	idle := (hour/24)%50 >= 20 && (hour/24)%50 < 23
	if !idle && g.granted.IsPositive() {
		take := decimal.Min(use, g.granted)
		g.granted, use = g.granted.Sub(take), use.Sub(take)
	}
	g.paid = g.paid.Sub(use)
	if g.paid.LessThan(decimal.NewFromInt(30)) && g.rnd.IntN(8) == 0 {
		g.paid = g.paid.Add(decimal.NewFromInt(int64(100 + 50*g.rnd.IntN(3))))
	}
	if once(at, 45*24*time.Hour, 0) {
		g.granted = g.granted.Add(decimal.NewFromInt(10)) // a promotion
	}
}

func (g *gen) stepShown(at time.Time, use decimal.Decimal, hour int) {
	g.spentDay = g.spentDay.Add(use)
	g.shown = g.shown.Sub(use)
	switch g.shape {
	case ShapeDerived:
		if g.shown.LessThan(decimal.NewFromInt(20)) {
			paid := at.Add(-time.Duration(1+g.rnd.IntN(10)) * time.Minute)
			g.addCharge(paid, "100.00", "0", billing.TriggerAutoRecharge, time.Time{})
			g.shown = g.shown.Add(decimal.NewFromInt(100))
		}
	case ShapeRestore:
		if g.shown.LessThan(decimal.NewFromInt(10)) {
			add := decimal.NewFromInt(100).Sub(g.shown).Round(2)
			paid := at.Add(-time.Duration(1+g.rnd.IntN(10)) * time.Minute)
			listAt := time.Time{}
			if g.nCharge%5 == 2 {
				// Listed days late: placed against the balance back then.
				listAt = at.Add(time.Duration(1+g.rnd.IntN(5)) * 24 * time.Hour)
			}
			g.addCharge(paid, add.StringFixed(2), "0", billing.TriggerUnknown, listAt)
			g.shown = g.shown.Add(add)
		}
		if once(at, 23*24*time.Hour, 11*time.Hour) {
			// A manual top-up well above the target.
			paid := at.Add(-5 * time.Minute)
			g.addCharge(paid, "150.00", "0", billing.TriggerUnknown, time.Time{})
			g.shown = g.shown.Add(decimal.NewFromInt(150))
		}
	}
}

func (g *gen) observe(at time.Time, hour int) billing.Observation {
	b := At(at)
	b.o.Account = g.account.Name
	// Late invoices join the listing when their time comes.
	keep := g.pending[:0]
	keepAt := g.pendingAt[:0]
	for i, c := range g.pending {
		if !g.pendingAt[i].After(at) {
			g.charges = append(g.charges, c)
			continue
		}
		keep, keepAt = append(keep, c), append(keepAt, g.pendingAt[i])
	}
	g.pending, g.pendingAt = keep, keepAt
	listed := g.charges[:0]
	for _, c := range g.charges {
		if at.Sub(c.PaidAt) < g.listFor+7*24*time.Hour {
			listed = append(listed, c)
		}
	}
	g.charges = listed
	var recent []billing.Charge
	for _, c := range g.charges {
		if at.Sub(c.PaidAt) < g.listFor || g.shape == ShapeRestore {
			recent = append(recent, c)
		}
	}
	g.glitch--
	glitch := g.glitch == 0
	if glitch {
		g.glitch = 300 + g.rnd.IntN(400)
	}
	costs := []billing.CostBucket{
		{Start: g.day.Add(-24 * time.Hour), End: g.day, Amount: g.money(g.lastDay), Settled: true},
		{Start: g.day, End: g.day.Add(24 * time.Hour), Amount: g.money(g.spentDay)},
	}
	switch g.shape {
	case ShapeGrants:
		var gs []billing.Grant
		if !glitch {
			for _, gr := range g.grants {
				gs = append(gs, gr.Grant)
			}
		}
		b.Shown(g.effective(at).String())
		b.Grants(gs...).Charges(recent...).Costs(costs...)
		if hour%(24*61) >= 3 && hour%(24*61) < 6 {
			b.Unavailable(billing.PartCosts, "http 503 Service Unavailable")
			b.o.Costs = nil
		}
	case ShapeSplit:
		paid := g.paid
		if glitch {
			paid = decimal.Zero
		}
		b.Split(g.granted.String(), paid.String(), g.cur)
	case ShapeDerived:
		b.Costs(costs...).Charges(recent...)
	case ShapeRestore:
		b.Shown(g.shown.String()).Charges(recent...)
	}
	return b.Build()
}
