package ledger_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/shopspring/decimal"
)

var (
	t0     = lt.T0
	h      = time.Hour
	future = t0.Add(365 * 24 * h)
	// lastMonth is the back-dated effective_at OpenAI gives purchases.
	lastMonth = time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)
)

func build(t *testing.T, a billing.Account, obs ...billing.Observation) *ledger.Ledger {
	t.Helper()
	l := ledger.New(a, ledger.DefaultOptions())
	lt.Fill(t, l, obs...)
	return l
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func wantDec(t *testing.T, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(dec(want)) {
		t.Errorf("%s: got %s, want %s", what, got, want)
	}
}

func TestEffectiveBalance(t *testing.T) {
	promo := billing.GrantPromotional
	paid := billing.GrantPurchased
	tests := []struct {
		name               string
		obs                billing.Observation
		wantKnown          bool
		effective, expired string
		free               string
		wantShown          bool
		wantBasisContains  string
	}{
		{
			name: "expired grants still counted in the shown total",
			obs: lt.At(t0).Shown("69.00").Grants(
				lt.Grant("g-old1", promo, "50.00", "0.00", t0.Add(-200*24*h), t0.Add(-10*24*h)),
				lt.Grant("g-old2", paid, "20.00", "4.93", t0.Add(-400*24*h), t0.Add(-30*24*h)),
				lt.Grant("g-live", paid, "5.00", "1.07", lastMonth, future),
			).Build(),
			wantKnown: true, effective: "3.93", expired: "65.07", free: "0", wantShown: true,
			wantBasisContains: "unexpired grants",
		},
		{
			name: "a grant expiring exactly now is expired",
			obs: lt.At(t0).Grants(
				lt.Grant("g1", promo, "10.00", "2.00", t0.Add(-24*h), t0),
				lt.Grant("g2", paid, "10.00", "0", t0.Add(-24*h), time.Time{}),
			).Build(),
			wantKnown: true, effective: "10.00", expired: "8.00", free: "0",
		},
		{
			name:      "split balance: granted plus paid",
			obs:       lt.At(t0).Split("10.00", "100.00", "CNY").Build(),
			wantKnown: true, effective: "110.00", expired: "0", free: "10.00", wantShown: true,
			wantBasisContains: "granted plus paid",
		},
		{
			name:      "only a shown balance",
			obs:       lt.At(t0).Shown("42.50").Build(),
			wantKnown: true, effective: "42.50", expired: "0", wantShown: true,
			wantBasisContains: "shown balance",
		},
		{
			name:      "grants and balance unavailable: unknown, never zero",
			obs:       lt.At(t0).Unavailable(billing.PartGrants, "HTTP 500").Unavailable(billing.PartBalance, "HTTP 500").Build(),
			wantKnown: false,
		},
		{
			name: "over-drawn grant makes the balance negative",
			obs: lt.At(t0).Grants(
				lt.Grant("g1", paid, "10.00", "10.40", t0.Add(-24*h), future),
			).Build(),
			wantKnown: true, effective: "-0.40", expired: "0", free: "0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := lt.Account("5", "10")
			if tc.obs.Balance.HasSplit {
				a.Currency = "CNY"
			}
			l := build(t, a, tc.obs)
			pt, ok := l.Latest(t0)
			if !ok {
				t.Fatal("no point")
			}
			if pt.EffectiveKnown != tc.wantKnown {
				t.Fatalf("EffectiveKnown: got %v, want %v", pt.EffectiveKnown, tc.wantKnown)
			}
			if pt.ShownKnown != tc.wantShown {
				t.Errorf("ShownKnown: got %v, want %v", pt.ShownKnown, tc.wantShown)
			}
			if !tc.wantKnown {
				return
			}
			wantDec(t, "effective", pt.Effective, tc.effective)
			wantDec(t, "expired remaining", pt.ExpiredRemaining, tc.expired)
			if tc.free != "" {
				wantDec(t, "free credit", pt.FreeCredit, tc.free)
			}
			if !strings.Contains(pt.EffectiveBasis, tc.wantBasisContains) {
				t.Errorf("basis: got %q, want it to contain %q", pt.EffectiveBasis, tc.wantBasisContains)
			}
		})
	}
}

func TestRechargeFromBackDatedGrantIsDatedWhenFirstSeen(t *testing.T) {
	a := lt.Account("5", "10")
	p := billing.GrantPurchased
	l := build(t, a,
		lt.At(t0).Grants(lt.Grant("g1", p, "10.00", "6.00", lastMonth, future)).Build(),
		lt.At(t0.Add(h)).Grants(
			lt.Grant("g1", p, "10.00", "9.50", lastMonth, future),
			lt.Grant("g2", p, "10.00", "0.00", lastMonth, future), // back-dated purchase
		).Build(),
	)
	rs := l.Recharges(t0.Add(-400*24*h), t0.Add(2*h))
	if len(rs) != 1 {
		t.Fatalf("recharges: got %d, want 1", len(rs))
	}
	r := rs[0]
	if !r.At.Equal(t0.Add(h)) {
		t.Errorf("At: got %s, want first-seen %s (not the back-dated effective_at)", r.At, t0.Add(h))
	}
	if r.Charge.Origin != billing.ChargeInferred || r.GrantID != "g2" {
		t.Errorf("origin/grant: got %s/%s, want inferred/g2", r.Charge.Origin, r.GrantID)
	}
	if r.Trigger != billing.TriggerAutoRecharge || !r.TriggerGuessed {
		t.Errorf("trigger: got %s guessed=%v, want auto-recharge guessed", r.Trigger, r.TriggerGuessed)
	}
	if !strings.Contains(r.Basis, "back-dated") {
		t.Errorf("basis %q should say the grant is back-dated", r.Basis)
	}
	// Balance just before: after (0.50 + 10.00) minus the 10.00 added.
	if !r.BeforeKnown {
		t.Fatal("BeforeKnown: got false, want true")
	}
	wantDec(t, "balance before", r.BalanceBefore, "0.50")
	// The grant's first-seen time is filled in on the observation.
	cur, _ := l.Current()
	for _, g := range cur.Grants {
		want := t0
		if g.ID == "g2" {
			want = t0.Add(h)
		}
		if !g.FirstSeen.Equal(want) {
			t.Errorf("grant %s FirstSeen: got %s, want %s", g.ID, g.FirstSeen, want)
		}
	}
}

func TestPreexistingGrantsAreNotRecharges(t *testing.T) {
	p := billing.GrantPurchased
	l := build(t, lt.Account("5", "10"),
		lt.At(t0).Grants(lt.Grant("g1", p, "10.00", "0", lastMonth, future), lt.Grant("g2", p, "10.00", "0", lastMonth, future)).Build(),
		lt.At(t0.Add(h)).Grants(lt.Grant("g1", p, "10.00", "1", lastMonth, future), lt.Grant("g2", p, "10.00", "0", lastMonth, future)).Build(),
	)
	if n := len(l.Recharges(t0.Add(-1000*h), t0.Add(h))); n != 0 {
		t.Errorf("recharges: got %d, want 0 (grants bought before guardd watched have no known time)", n)
	}
}

func TestChargeAndGrantAreOneRecharge(t *testing.T) {
	p := billing.GrantPurchased
	first := lt.At(t0).Grants(lt.Grant("g1", p, "10.00", "9.00", lastMonth, future)).Charges().Build()
	tests := []struct {
		name string
		obs  []billing.Observation
	}{
		{
			name: "charge and grant in the same poll, tax excluded from the match",
			obs: []billing.Observation{first,
				lt.At(t0.Add(h)).
					Grants(lt.Grant("g1", p, "10.00", "9.50", lastMonth, future), lt.Grant("g2", p, "10.00", "0", lastMonth, future)).
					Charges(lt.Invoice("in_1", t0.Add(30*time.Minute), "10.80", "0.80", billing.TriggerAutoRecharge)).Build(),
			},
		},
		{
			name: "grant first, invoice one poll later",
			obs: []billing.Observation{first,
				lt.At(t0.Add(h)).
					Grants(lt.Grant("g1", p, "10.00", "9.50", lastMonth, future), lt.Grant("g2", p, "10.00", "0", lastMonth, future)).
					Charges().Build(),
				lt.At(t0.Add(2*h)).
					Grants(lt.Grant("g1", p, "10.00", "9.90", lastMonth, future), lt.Grant("g2", p, "10.00", "0.10", lastMonth, future)).
					Charges(lt.Invoice("in_1", t0.Add(30*time.Minute), "10.80", "0.80", billing.TriggerAutoRecharge)).Build(),
			},
		},
		{
			name: "invoice first, grant one poll later, amounts differ by rounding",
			obs: []billing.Observation{first,
				lt.At(t0.Add(h)).
					Grants(lt.Grant("g1", p, "10.00", "9.50", lastMonth, future)).
					Charges(lt.Invoice("in_1", t0.Add(50*time.Minute), "10.80", "0.80", billing.TriggerAutoRecharge)).Build(),
				lt.At(t0.Add(2*h)).
					Grants(lt.Grant("g1", p, "10.00", "9.90", lastMonth, future), lt.Grant("g2", p, "9.999", "0", lastMonth, future)).
					Charges(lt.Invoice("in_1", t0.Add(50*time.Minute), "10.80", "0.80", billing.TriggerAutoRecharge)).Build(),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := build(t, lt.Account("5", "10"), tc.obs...)
			rs := l.Recharges(t0.Add(-h), t0.Add(3*h))
			if len(rs) != 1 {
				t.Fatalf("recharges: got %d, want 1: %+v", len(rs), rs)
			}
			r := rs[0]
			if r.Charge.ID != "in_1" || r.GrantID != "g2" {
				t.Errorf("charge/grant: got %s/%s, want in_1/g2", r.Charge.ID, r.GrantID)
			}
			if !r.At.Equal(r.Charge.PaidAt) {
				t.Errorf("At: got %s, want the payment time %s", r.At, r.Charge.PaidAt)
			}
			wantDec(t, "credit", r.Credit, "10.00")
			if r.Trigger != billing.TriggerAutoRecharge || r.TriggerGuessed {
				t.Errorf("trigger: got %s guessed=%v, want auto-recharge as the invoice says", r.Trigger, r.TriggerGuessed)
			}
		})
	}
}

func TestPaidBalanceRise(t *testing.T) {
	a := lt.Account("5", "100")
	a.Currency, a.Drawdown = "CNY", billing.DrawdownGrantsFirst
	cny := func(s string) billing.Money { return lt.Money(s, "CNY") }
	t.Run("unexplained rise is an inferred recharge", func(t *testing.T) {
		l := build(t, a,
			lt.At(t0).Split("0", "4.00", "CNY").Build(),
			lt.At(t0.Add(h)).Split("0", "103.50", "CNY").Build(),
		)
		rs := l.Recharges(t0, t0.Add(h))
		if len(rs) != 1 {
			t.Fatalf("recharges: got %d, want 1", len(rs))
		}
		wantDec(t, "credit", rs[0].Credit, "99.50")
		if rs[0].Charge.Origin != billing.ChargeInferred {
			t.Errorf("origin: got %s, want inferred", rs[0].Charge.Origin)
		}
		if !strings.Contains(rs[0].Basis, "paid balance rose") {
			t.Errorf("basis %q should explain the rise", rs[0].Basis)
		}
	})
	t.Run("a visible charge explains the rise", func(t *testing.T) {
		charge := billing.Charge{ID: "r1", PaidAt: t0.Add(30 * time.Minute), Amount: cny("100.00"), Tax: cny("0"),
			Origin: billing.ChargeReceipt, Trigger: billing.TriggerManual}
		l := build(t, a,
			lt.At(t0).Split("0", "4.00", "CNY").Charges().Build(),
			lt.At(t0.Add(h)).Split("0", "103.50", "CNY").Charges(charge).Build(),
		)
		rs := l.Recharges(t0, t0.Add(h))
		if len(rs) != 1 || rs[0].Charge.ID != "r1" {
			t.Fatalf("recharges: got %+v, want only the receipt r1", rs)
		}
	})
}

func TestBurnAndRunway(t *testing.T) {
	p := billing.GrantPurchased
	a := lt.Account("5", "10")
	var obs []billing.Observation
	// $1 consumed per hour for 24 hours from a $100 grant.
	for i := 0; i <= 24; i++ {
		obs = append(obs, lt.At(t0.Add(time.Duration(i)*h)).
			Grants(lt.Grant("g1", p, "100.00", decimal.NewFromInt(int64(i)).String(), lastMonth, future)).Build())
	}
	l := build(t, a, obs...)
	now := t0.Add(24 * h)
	spent, covered := l.Consumption(now.Add(-7*24*h), now)
	wantDec(t, "spent", spent, "24")
	if covered != 24*h {
		t.Errorf("covered: got %s, want 24h", covered)
	}
	rw := l.Runway(now, 7*24*h)
	if !rw.Known || rw.Endless {
		t.Fatalf("runway: got known=%v endless=%v, want known and finite", rw.Known, rw.Endless)
	}
	wantDec(t, "burn per day", rw.BurnPerDay.Amount(), "24")
	// 76 left at 24/day lasts 76 hours.
	if rw.Lasts != 76*h {
		t.Errorf("lasts: got %s, want 76h", rw.Lasts)
	}
	if !rw.Until.Equal(now.Add(76 * h)) {
		t.Errorf("until: got %s, want %s", rw.Until, now.Add(76*h))
	}
	// A window of one hour measures only the last hour.
	if rw := l.Runway(now, h); !rw.Known || !rw.BurnPerDay.Amount().Equal(dec("24")) {
		t.Errorf("1h runway: got %+v, want burn 24/day", rw)
	}
	// Too little history: unknown, not a guess.
	short := build(t, a, obs[0], lt.At(t0.Add(30*time.Minute)).Grants(lt.Grant("g1", p, "100.00", "0.5", lastMonth, future)).Build())
	if rw := short.Runway(t0.Add(30*time.Minute), 7*24*h); rw.Known {
		t.Errorf("runway after 30 minutes: got known, want unknown")
	}
	// Nothing consumed: endless.
	idle := build(t, a, obs[0], lt.At(t0.Add(2*h)).Grants(lt.Grant("g1", p, "100.00", "0", lastMonth, future)).Build())
	if rw := idle.Runway(t0.Add(2*h), 7*24*h); !rw.Known || !rw.Endless {
		t.Errorf("idle runway: got %+v, want known and endless", rw)
	}
}

func TestAppendRejectsBadObservations(t *testing.T) {
	p := billing.GrantPurchased
	a := lt.Account("5", "10")
	good := lt.At(t0.Add(h)).Grants(lt.Grant("g1", p, "10", "0", lastMonth, future)).Build()
	eur := lt.At(t0.Add(2 * h)).Grants(lt.Grant("g1", p, "10", "0", lastMonth, future)).Build()
	eur.Grants[0].Amount = lt.Money("10", "EUR")
	dup := lt.At(t0.Add(2*h)).Grants(lt.Grant("g1", p, "10", "0", lastMonth, future), lt.Grant("g1", p, "5", "0", lastMonth, future)).Build()
	tests := []struct {
		name string
		obs  billing.Observation
		want string
	}{
		{"same time", lt.At(t0.Add(h)).Shown("1").Build(), "is not after the previous one"},
		{"earlier time", lt.At(t0).Shown("1").Build(), "is not after the previous one"},
		{"another currency", eur, `grant g1 is in EUR, account "acme" is in USD`},
		{"duplicate grant", dup, `grant "g1" listed twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := build(t, a, good)
			err := l.Append(tc.obs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: got %v, want one containing %q", err, tc.want)
			}
			if l.Len() != 1 {
				t.Errorf("ledger length after a rejected append: got %d, want 1", l.Len())
			}
		})
	}
}

func TestClassifyInferredRecharges(t *testing.T) {
	p := billing.GrantPurchased
	tests := []struct {
		name        string
		account     billing.Account
		before, add string
		want        billing.ChargeTrigger
	}{
		{"add mode, configured amount", lt.Account("5", "10"), "4.00", "10.00", billing.TriggerAutoRecharge},
		{"add mode, other amount is manual", lt.Account("5", "10"), "4.00", "50.00", billing.TriggerManual},
		{"restore mode, restored to the target", lt.RestoreAccount("10", "50"), "9.00", "41.00", billing.TriggerAutoRecharge},
		{"restore mode, past the target is manual", lt.RestoreAccount("10", "50"), "30.00", "40.00", billing.TriggerManual},
		// Never an auto-recharge when guardd is told auto-recharge is off
		// (issue 12: no "disable auto-recharge" advice on such an account).
		{"auto-recharge off: manual", billing.Account{Name: "acme", Currency: "USD"}, "4.00", "10.00", billing.TriggerManual},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := build(t, tc.account,
				lt.At(t0).Grants(lt.Grant("g1", p, tc.before, "0", lastMonth, future)).Build(),
				lt.At(t0.Add(h)).Grants(lt.Grant("g1", p, tc.before, "0", lastMonth, future), lt.Grant("g2", p, tc.add, "0", lastMonth, future)).Build(),
			)
			rs := l.Recharges(t0, t0.Add(h))
			if len(rs) != 1 {
				t.Fatalf("recharges: got %d, want 1", len(rs))
			}
			if rs[0].Trigger != tc.want {
				t.Errorf("trigger: got %s, want %s (basis: %s)", rs[0].Trigger, tc.want, rs[0].Basis)
			}
		})
	}
}

// TestReceiptAfterItsCredit: the grant shows at a poll five hours after the
// payment, and the receipt only at the next poll (mail lags). They are one
// recharge, dated when it was paid, judged against the balance before it.
func TestReceiptAfterItsCredit(t *testing.T) {
	a := lt.Account("5", "10")
	paidAt := t0.Add(h)
	rc := lt.Invoice("rc_1", paidAt, "10.80", "0.80", billing.TriggerAutoRecharge)
	g0 := func(used string) billing.Grant {
		return lt.Grant("g0", billing.GrantPurchased, "10.00", used, lastMonth, future)
	}
	g1 := lt.Grant("g1", billing.GrantPurchased, "10.00", "0", lastMonth, future)
	l := build(t, a,
		lt.At(t0).Grants(g0("5.50")).Charges().Build(),
		lt.At(t0.Add(6*h)).Grants(g0("7.00"), g1).Charges().Build(),
		lt.At(t0.Add(7*h)).Grants(g0("7.50"), g1).Charges(rc).Build(),
	)
	rs := l.Recharges(t0, t0.Add(8*h))
	if len(rs) != 1 {
		t.Fatalf("got %d recharges, want 1: %+v", len(rs), rs)
	}
	r := rs[0]
	if !r.At.Equal(paidAt) || r.GrantID != "g1" || r.Charge.ID != "rc_1" || r.Trigger != billing.TriggerAutoRecharge || r.TriggerGuessed {
		t.Errorf("recharge: got at %s grant %q charge %q trigger %s (guessed %v), want at %s grant g1 charge rc_1 auto-recharge",
			r.At, r.GrantID, r.Charge.ID, r.Trigger, r.TriggerGuessed, paidAt)
	}
	wantDec(t, "credit", r.Credit, "10.00")
	if !r.BeforeKnown {
		t.Fatal("balance before: unknown")
	}
	wantDec(t, "balance before (lower bound)", r.BalanceBefore, "3.00")
}

// TestDerivedBalance: a provider that shows no balance (costs and receipts
// only). From the anchor the user read off the console, the balance is the
// anchor plus receipts' credit minus costs since; a ledger rebuilt from
// stored observations continues it.
func TestDerivedBalance(t *testing.T) {
	a := lt.Account("5", "10")
	a.Provider = "anthropic"
	// $50.00 shown at 01:30; the day's costs run $1.00 an hour from 00:00.
	a.Anchor, a.HasAnchor = billing.BalanceAnchor{Amount: lt.USD("50.00"), At: t0.Add(90 * time.Minute)}, true
	day := func(n int) billing.CostBucket {
		return billing.CostBucket{Start: t0, End: t0.Add(24 * h), Amount: lt.USD(decimal.NewFromInt(int64(n)).StringFixed(2))}
	}
	rc := lt.Invoice("rc_1", t0.Add(150*time.Minute), "10.80", "0.80", billing.TriggerAutoRecharge)
	var obs []billing.Observation
	for n := 1; n <= 5; n++ {
		b := lt.At(t0.Add(time.Duration(n) * h)).Costs(day(n))
		if n >= 3 {
			b.Charges(rc)
		} else {
			b.Charges()
		}
		obs = append(obs, b.Build())
	}
	l := build(t, a, obs...)
	// 01:00 is before the anchor: nothing is derived.
	if pt, _ := l.Latest(t0.Add(h)); pt.EffectiveKnown {
		t.Errorf("01:00: got a derived balance %s before the anchor", pt.Effective)
	}
	// At 05:00 the day's costs stand at $5.00; $1.00 had been reported at
	// 01:00, the last report before the anchor: $50 + $10 - $4.00.
	pt, _ := l.Latest(t0.Add(5 * h))
	if !pt.EffectiveKnown || !strings.HasPrefix(pt.EffectiveBasis, "derived") {
		t.Fatalf("05:00: got %+v, want a derived balance", pt)
	}
	wantDec(t, "05:00 derived balance", pt.Effective, "56")
	// Consumption between derived points is the costs reported meanwhile.
	wantDec(t, "05:00 consumed", pt.Consumed, "1")
	cur, _ := l.Current()
	if cur.Derived == nil || !cur.Derived.Effective.Amount().Equal(pt.Effective) {
		t.Fatalf("the observation does not keep the derived balance: %+v", cur.Derived)
	}
	rw := l.Runway(t0.Add(5*h), 7*24*h)
	if !rw.Known {
		t.Errorf("runway: unknown from a derived balance")
	}

	// Rebuilt from the last two stored observations (the anchor, the
	// receipt and the report before the anchor are outside them): the
	// balance continues from what was stored.
	full := build(t, a, obs[:4]...)
	stored, _ := full.Current()
	l2 := build(t, a, *stored, obs[4])
	pt2, _ := l2.Latest(t0.Add(5 * h))
	if !pt2.EffectiveKnown {
		t.Fatal("rebuilt: no derived balance")
	}
	wantDec(t, "rebuilt 05:00 derived balance", pt2.Effective, "56")
}

// TestSuspectReadingsWait: a balance that falls to exactly zero is held
// until the next poll: confirmed, it is taken (a poll late); contradicted,
// it is taken without its balance, marked unavailable with why.
func TestSuspectReadingsWait(t *testing.T) {
	a := lt.Account("5", "10")
	bal := func(n int, shown string) billing.Observation {
		return lt.At(t0.Add(time.Duration(n) * h)).Shown(shown).Build()
	}

	l := build(t, a, bal(0, "40.00"), bal(1, "0"))
	if why, held := l.Held(); !held || !strings.Contains(why, "the balance read $0.00 after $40.00") {
		t.Fatalf("a drop to zero: got held %v (%q), want it held", held, why)
	}
	if pt, _ := l.Latest(t0.Add(time.Hour)); !pt.At.Equal(t0) {
		t.Errorf("a held reading is not taken yet: latest point at %s, want %s", pt.At, t0)
	}
	if err := l.Append(bal(2, "0")); err != nil {
		t.Fatal(err)
	}
	if _, held := l.Held(); held {
		t.Errorf("confirmed: still held")
	}
	if pt, _ := l.Latest(t0.Add(time.Hour)); !pt.At.Equal(t0.Add(time.Hour)) || !pt.EffectiveKnown || !pt.Effective.IsZero() {
		t.Errorf("confirmed: the held zero at 01:00 must be taken; got %+v", pt)
	}

	l = build(t, a, bal(0, "40.00"), bal(1, "0"), bal(2, "39.90"))
	if _, held := l.Held(); held {
		t.Errorf("contradicted: still held")
	}
	glitch, _ := l.Latest(t0.Add(time.Hour))
	if !glitch.At.Equal(t0.Add(time.Hour)) || glitch.EffectiveKnown {
		t.Errorf("contradicted: the 01:00 point must be there without a balance; got %+v", glitch)
	}
	polls := l.RecentPolls(3)
	if len(polls) != 3 || !strings.Contains(fmt.Sprint(polls[1].Unavailable), "suspect reading, not confirmed by the next poll") {
		t.Errorf("the glitch's poll must say why its balance was dropped; got %+v", polls)
	}
	if rs := l.Recharges(t0, t0.Add(3*h)); len(rs) != 0 {
		t.Errorf("a round trip through zero is no recharge; got %+v", rs)
	}
}

// Right after the first poll, guardd's own history measures no burn; the
// settled cost days the provider reported do, and the runway says so.
func TestRunwayFromCostsWhenHistoryIsShort(t *testing.T) {
	day := 24 * h
	build := func(settled bool, days int) billing.Runway {
		o := lt.At(t0).Shown("30.00").Build()
		o.Parts[billing.PartCosts] = billing.PartStatus{Source: "test:costs", AsOf: t0}
		for i := range days {
			start := t0.Truncate(day).Add(-time.Duration(days-i) * day)
			o.Costs = append(o.Costs, billing.CostBucket{Start: start, End: start.Add(day), Amount: lt.USD("2.50"), Settled: settled})
		}
		l := ledger.New(lt.Account("5", "10"), ledger.DefaultOptions())
		if err := l.Append(o); err != nil {
			t.Fatal(err)
		}
		return l.Runway(t0, 7*day)
	}
	rw := build(true, 7)
	if !rw.Known || !rw.FromCosts || rw.BurnPerDay.Display() != "$2.50" || rw.Window != 7*day || rw.Lasts != 12*day {
		t.Errorf("seven settled cost days: got %+v, want a burn of $2.50/day from costs over 7 days, lasting 12 days", rw)
	}
	if rw := build(false, 7); rw.Known {
		t.Errorf("unsettled cost days: got %+v, want the runway unknown", rw)
	}
	if rw := build(true, 0); rw.Known {
		t.Errorf("no cost days: got %+v, want the runway unknown", rw)
	}
}

// A poll listing the grants of the one before, in the same order, skips
// the check for ids listed twice; one listing as many grants but another
// twice is still caught.
func TestAppendCatchesDuplicateAfterSameCount(t *testing.T) {
	p := billing.GrantPurchased
	a := lt.Account("5", "10")
	g1, g2 := lt.Grant("g1", p, "10", "0", lastMonth, future), lt.Grant("g2", p, "10", "0", lastMonth, future)
	l := build(t, a, lt.At(t0.Add(h)).Grants(g1, g2).Build())
	if err := l.Append(lt.At(t0.Add(2*h)).Grants(g1, g2).Build()); err != nil {
		t.Fatalf("the same grants again: got %v", err)
	}
	err := l.Append(lt.At(t0.Add(3*h)).Grants(g2, g2).Build())
	if err == nil || !strings.Contains(err.Error(), `grant "g2" listed twice`) {
		t.Fatalf("error: got %v, want one containing %q", err, `grant "g2" listed twice`)
	}
}

// ReplacePollsAfter keeps the poll log up to a time and takes the polls
// after it as given, the newest MaxPolls in all; from the zero time it
// takes them all.
func TestReplacePollsAfter(t *testing.T) {
	l := ledger.New(lt.Account("5", "10"), ledger.DefaultOptions())
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	for i := range 70 {
		l.RecordFailure(at(i), fmt.Errorf("poll %d", i))
	}
	log := func() (first, last string, n int) {
		ps := l.RecentPolls(ledger.MaxPolls)
		return ps[len(ps)-1].Err, ps[0].Err, len(ps)
	}
	if first, last, n := log(); first != "poll 6" || last != "poll 69" || n != ledger.MaxPolls {
		t.Fatalf("logged: %s to %s, %d polls; want poll 6 to poll 69, %d", first, last, n, ledger.MaxPolls)
	}
	l.ReplacePollsAfter(at(65), []ledger.PollRecord{{At: at(66), Err: "stored 66"}, {At: at(80), Err: "stored 80"}})
	if first, last, n := log(); first != "poll 6" || last != "stored 80" || n != 62 {
		t.Errorf("after 65: %s to %s, %d polls; want poll 6 to stored 80, 62", first, last, n)
	}
	var ten []ledger.PollRecord
	for i := range 10 {
		ten = append(ten, ledger.PollRecord{At: at(90 + i), Err: fmt.Sprintf("stored %d", 90+i)})
	}
	l.ReplacePollsAfter(at(65), ten)
	if first, last, n := log(); first != "poll 12" || last != "stored 99" || n != ledger.MaxPolls {
		t.Errorf("after 65, ten stored: %s to %s, %d polls; want poll 12 to stored 99, %d", first, last, n, ledger.MaxPolls)
	}
	l.ReplacePollsAfter(time.Time{}, []ledger.PollRecord{{At: at(100), Err: "stored 100"}})
	if first, last, n := log(); first != "stored 100" || last != "stored 100" || n != 1 {
		t.Errorf("from the zero time: %s to %s, %d polls; want stored 100 alone", first, last, n)
	}
}
