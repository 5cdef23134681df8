// Package evidence builds the refund pack of one account: each charge of a
// period with its time, amount, tax, receipt or invoice number and source,
// the credit it became or did not, the findings that cite it, and totals,
// written as Markdown or CSV to paste into a provider's support form.
//
// The findings are worked out again from the stored history, as guardd
// check would have judged each poll, because the findings log keeps only
// their summaries, not the charges they cite.
package evidence

import (
	"fmt"
	"slices"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/rules"
	"github.com/shopspring/decimal"
)

// Pack is the refund pack of one account over [Since, Until].
type Pack struct {
	Account      billing.Account
	Since, Until time.Time
	// Charges are the period's charges, oldest first: every one when the
	// pack was built with All, else those a finding cites (the suspect
	// ones).
	Charges []Charge
	// Findings are the findings that cite a listed charge, in the order
	// they first did.
	Findings []Citation
	Total    Total
	// GrantsSeen is false when the provider lists no grants: then whether
	// a charge became credit shows only in the balance.
	GrantsSeen bool
}

// Charge is one charge and what became of it.
type Charge struct {
	At time.Time
	// Ref is the invoice or receipt number; empty for a charge guardd
	// inferred from credit it saw land.
	Ref    string
	Origin billing.ChargeOrigin
	// Amount is what the card was charged, Tax the part of it that is tax
	// (zero when not known).
	Amount, Tax decimal.Decimal
	Source      string
	Basis       string
	// Credit is the credit it added (a lower bound when AtLeast), GrantID
	// the grant it became; NoCredit is set when the provider lists grants
	// and none matched it.
	Credit   decimal.Decimal
	AtLeast  bool
	GrantID  string
	NoCredit bool
	// Cited are the indexes in Pack.Findings of the findings citing it.
	Cited []int
}

// Citation is one finding (rule and entity) that cites charges of the
// pack: when it first did, at which severity, and what it said then.
type Citation struct {
	Rule, Entity string
	Severity     billing.Severity
	First        time.Time
	Summary      string
}

// Total sums the listed charges.
type Total struct {
	Charges             int
	Amount, Tax, Credit decimal.Decimal
	// TaxUnshown counts the charges whose tax is not known (inferred
	// ones): Tax sums the others.
	TaxUnshown int
	AtLeast    bool
	// NoCredit counts the charges that became no credit, and NoCreditPaid
	// what they cost.
	NoCredit     int
	NoCreditPaid decimal.Decimal
}

// Options choose what a pack holds.
type Options struct {
	Params rules.Params
	Ledger ledger.Options
	// All lists every charge of the period, cited or not.
	All bool
}

// HistoryBefore is how much history before the period Build needs, so that
// the rules judge its first polls as check did.
func HistoryBefore(p rules.Params) time.Duration { return rules.New(p).History() }

// Build plays obs (the account's stored observations, oldest first, from
// HistoryBefore before since) through the ledger and the rules, and lists
// the charges paid in [since, until].
func Build(account billing.Account, obs []billing.Observation, since, until time.Time, o Options) (Pack, error) {
	p := Pack{Account: account, Since: since, Until: until}
	engine := rules.New(o.Params)
	l := ledger.New(account, o.Ledger)
	cites := make(map[citeKey][]int)
	index := make(map[string]int) // rule and entity → Pack.Findings
	for i, ob := range obs {
		if ob.At.After(until) {
			break
		}
		if err := l.Append(ob); err != nil {
			return Pack{}, fmt.Errorf("history of %s: stored observation %d (%s): %w", account.Name, i, ob.At.UTC().Format(time.RFC3339), err)
		}
		if _, held := l.Held(); held || ob.At.Before(since) {
			continue
		}
		holding := engine.Check(l, ob.At)
		for _, f := range holding {
			f = engine.Explain(l, ob.At, f, holding)
			for _, e := range f.Evidence {
				if len(e.What) < len("recharge") || e.What[:len("recharge")] != "recharge" {
					continue
				}
				id := f.Rule + "\x00" + f.Entity
				n, ok := index[id]
				if !ok {
					n = len(p.Findings)
					index[id] = n
					p.Findings = append(p.Findings, Citation{Rule: f.Rule, Entity: f.Entity, Severity: f.Severity, First: ob.At, Summary: f.Summary})
				}
				if f.Severity.Rank() > p.Findings[n].Severity.Rank() {
					p.Findings[n].Severity = f.Severity
				}
				k := citeKey{at: e.At.UnixNano(), ref: e.Ref}
				if !slices.Contains(cites[k], n) {
					cites[k] = append(cites[k], n)
				}
			}
		}
	}
	if cur, _ := l.Current(); cur != nil && cur.Has(billing.PartGrants) {
		p.GrantsSeen = true
	}
	p.Total = Total{Amount: decimal.Zero, Tax: decimal.Zero, Credit: decimal.Zero, NoCreditPaid: decimal.Zero}
	used := make(map[int]bool)
	for _, r := range l.Recharges(since.Add(-time.Nanosecond), until) {
		c := Charge{At: r.At, Origin: r.Charge.Origin, Amount: r.Charge.Amount.Amount(), Source: r.Source, Basis: r.Basis,
			Credit: r.Credit, AtLeast: r.AtLeast, GrantID: r.GrantID}
		if r.Charge.Origin != billing.ChargeInferred {
			c.Ref, c.Tax = r.Charge.ID, r.Charge.Tax.Amount()
			c.NoCredit = p.GrantsSeen && r.GrantID == ""
		}
		for _, ref := range []string{r.Charge.ID, r.GrantID} {
			for _, n := range cites[citeKey{at: r.At.UnixNano(), ref: ref}] {
				if !slices.Contains(c.Cited, n) {
					c.Cited = append(c.Cited, n)
				}
			}
		}
		slices.Sort(c.Cited)
		if len(c.Cited) == 0 && !o.All {
			continue
		}
		for _, n := range c.Cited {
			used[n] = true
		}
		p.Charges = append(p.Charges, c)
		t := &p.Total
		t.Charges++
		t.Amount, t.Tax = t.Amount.Add(c.Amount), t.Tax.Add(c.Tax)
		if c.Origin == billing.ChargeInferred {
			t.TaxUnshown++
		}
		if c.NoCredit {
			t.NoCredit++
			t.NoCreditPaid = t.NoCreditPaid.Add(c.Amount)
		} else {
			t.Credit = t.Credit.Add(c.Credit)
			t.AtLeast = t.AtLeast || c.AtLeast
		}
	}
	p.dropUncited(used)
	return p, nil
}

// citeKey identifies a charge as a finding's evidence names it: its time
// and its charge or grant id.
type citeKey struct {
	at  int64
	ref string
}

// dropUncited keeps only the findings that cite a listed charge,
// renumbering the charges' citations.
func (p *Pack) dropUncited(used map[int]bool) {
	renum := make(map[int]int)
	var kept []Citation
	for i, f := range p.Findings {
		if used[i] {
			renum[i] = len(kept)
			kept = append(kept, f)
		}
	}
	p.Findings = kept
	for i := range p.Charges {
		for j, n := range p.Charges[i].Cited {
			p.Charges[i].Cited[j] = renum[n]
		}
	}
}

// Became says in words what a charge's money became.
func (c Charge) Became(cur billing.Currency, grantsSeen bool) string {
	credit := billing.NewMoney(c.Credit, cur).Display()
	if c.AtLeast {
		credit = "at least " + credit
	}
	switch {
	case c.NoCredit:
		return "no credit: no grant of " + billing.NewMoney(c.Amount.Sub(c.Tax), cur).Display() + " appeared"
	case c.GrantID != "":
		return credit + " of credit, grant " + c.GrantID
	case !grantsSeen:
		return credit + " of credit (the balance; the provider lists no grants)"
	}
	return credit + " of credit"
}
