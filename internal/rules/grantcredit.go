package rules

import (
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

// RechargeWhileGrantCredit fires when, within Lookback, the card was charged
// while at least MinGrantCredit of unexpired free credit (promotional or
// unlabelled grants, or a provider's granted balance) was still unused: the
// provider drew paid credit and recharged instead of using the grants.
type RechargeWhileGrantCredit struct {
	// MinGrantCredit is the least unexpired grant credit that must have been
	// left at the recharge for it to count.
	MinGrantCredit setting.Amount `yaml:"min_grant_credit"`
	// Lookback is how long an offending recharge keeps the finding active.
	Lookback setting.Duration `yaml:"lookback"`
	burn
}

func defaultRechargeWhileGrantCredit() *RechargeWhileGrantCredit {
	return &RechargeWhileGrantCredit{MinGrantCredit: setting.AmountOf(decimal.NewFromInt(1)), Lookback: setting.DurationOf(24 * time.Hour)}
}

// History implements Rule.
func (r RechargeWhileGrantCredit) History() time.Duration { return r.Lookback.Duration }

// PointHistory implements Rule: it reads recharges (with the free credit
// noted when each was placed) and the balance at now.
func (RechargeWhileGrantCredit) PointHistory() time.Duration { return 0 }

// Name implements Rule.
func (RechargeWhileGrantCredit) Name() string { return "recharge-while-grant-credit" }

func (r RechargeWhileGrantCredit) offends(x *ledger.Recharge) bool {
	return countsAsAutoRecharge(x) && x.FreeBeforeKnown && ledger.Compare(x.FreeCreditBefore, r.MinGrantCredit.Decimal) >= 0
}

// Check implements Rule.
func (r RechargeWhileGrantCredit) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	if h.CountRecharges(now.Add(-r.Lookback.Duration), now, r.offends) == 0 {
		return nil
	}
	return []billing.Finding{{Severity: billing.SeverityWarning, Entity: "recharges"}}
}

// Explain implements Rule.
func (r RechargeWhileGrantCredit) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	from := now.Add(-r.Lookback.Duration)
	cur := h.Account().Currency
	var ev []billing.Evidence
	var rs []ledger.Recharge
	for _, x := range h.Recharges(from, now) {
		if r.offends(&x) {
			rs = append(rs, x)
			e := rechargeEvidence(x)
			e.Note = fmt.Sprintf("%s of grant credit unused at the time; %s",
				billing.NewMoney(x.FreeCreditBefore, cur).Display(), e.Note)
			ev = append(ev, e)
		}
	}
	last := rs[len(rs)-1]
	summary := fmt.Sprintf("%s in the last %s while unexpired grant credit sat unused (%s at the latest one, at least %s).",
		plural(len(rs), "recharge", "recharges"), billing.Words(r.Lookback.Duration),
		billing.NewMoney(last.FreeCreditBefore, cur).Display(), billing.NewMoney(r.MinGrantCredit.Decimal, cur).Display())
	ev = append(ev, freeCreditEvidence(h, now)...)
	f.Summary, f.Evidence, f.Recommendation = summary, ev, disableAdvice(h, now, r.burnWindow)
	return f
}

// freeCreditEvidence lists the free credit still left at the latest
// observation: each unexpired non-purchased grant with credit, or the
// granted balance.
func freeCreditEvidence(h *ledger.Ledger, now time.Time) []billing.Evidence {
	obs, _ := h.Current()
	if obs == nil || obs.At.After(now) {
		return nil
	}
	var ev []billing.Evidence
	if obs.Has(billing.PartGrants) {
		st := obs.Parts[billing.PartGrants]
		for _, g := range obs.Grants {
			if g.Kind == billing.GrantPurchased || g.ExpiredAt(obs.At) || !g.Remaining().IsPositive() {
				continue
			}
			note := fmt.Sprintf("%s grant, %s of %s left, untouched", g.Kind, g.Remaining().Display(), g.Amount.Display())
			if !g.Used.IsZero() {
				note = fmt.Sprintf("%s grant, %s of %s left", g.Kind, g.Remaining().Display(), g.Amount.Display())
			}
			if !g.ExpiresAt.IsZero() {
				note += ", expires " + billing.Day(g.ExpiresAt)
			}
			ev = append(ev, billing.Evidence{What: "credit grant", Ref: g.ID, At: g.FirstSeen, Amount: g.Remaining(),
				Note: note, Source: st.Source, AsOf: st.AsOf})
		}
		return ev
	}
	if obs.Has(billing.PartBalance) && obs.Balance.HasSplit {
		st := obs.Parts[billing.PartBalance]
		ev = append(ev, billing.Evidence{What: "granted balance", At: obs.At, Amount: obs.Balance.Granted,
			Note: "granted credit still unused", Source: st.Source, AsOf: st.AsOf})
	}
	return ev
}

// Sees implements Rule: recharges and free credit are visible (a grant list or a split balance).
func (RechargeWhileGrantCredit) Sees(s billing.Sight) bool {
	return s.Recharges && (s.Grants || s.Split)
}
