package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/shopspring/decimal"
)

var (
	t0        = lt.T0
	h         = time.Hour
	future    = t0.Add(365 * 24 * h)
	lastMonth = time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)
	paid      = billing.GrantPurchased
	promo     = billing.GrantPromotional
)

// history is a sequence of polls of one account, built step by step: each
// poll lists every grant so far, with the usage given.
type history struct {
	account billing.Account
	obs     []billing.Observation
	grants  []billing.Grant
	at      time.Time
}

func newHistory(a billing.Account, grants ...billing.Grant) *history {
	return &history{account: a, grants: grants, at: t0}
}

// poll records a poll at the current time, after setting used amounts
// (grant id → used) and adding grants; shown, when not empty, is the shown
// total.
func (hs *history) poll(shown string, used map[string]string, add ...billing.Grant) *history {
	for i := range hs.grants {
		if u, ok := used[hs.grants[i].ID]; ok {
			hs.grants[i].Used = lt.USD(u)
		}
	}
	hs.grants = append(hs.grants, add...)
	b := lt.At(hs.at).Grants(hs.grants...)
	if shown != "" {
		b.Shown(shown)
	}
	hs.obs = append(hs.obs, b.Build())
	hs.at = hs.at.Add(h)
	return hs
}

func (hs *history) wait(d time.Duration) *history { hs.at = hs.at.Add(d - h); return hs }

func (hs *history) ledger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l := ledger.New(hs.account, ledger.DefaultOptions())
	for i, o := range hs.obs {
		if err := l.Append(o); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return l
}

func (hs *history) last() time.Time { return hs.obs[len(hs.obs)-1].At }

func buy(id, amount string) billing.Grant {
	return lt.Grant(id, paid, amount, "0", lastMonth, future)
}

// evaluate runs one rule at the history's last poll.
func evaluate(t *testing.T, r rules.Rule, hs *history) []billing.Finding {
	t.Helper()
	l := hs.ledger(t)
	fs := r.Check(l, hs.last())
	for i := range fs {
		fs[i] = r.Explain(l, hs.last(), fs[i])
	}
	for _, f := range fs {
		if f.Summary == "" || f.Severity == "" || f.Entity == "" {
			t.Errorf("finding lacks summary, severity or entity: %+v", f)
		}
	}
	return fs
}

func params() rules.Params { return rules.DefaultParams() }

// rule returns the default rule called name, with the default burn window.
func rule(t *testing.T, name string) rules.Rule {
	t.Helper()
	r, ok := rules.New(params()).Rule(name)
	if !ok {
		t.Fatalf("no rule %s", name)
	}
	return r
}

// hourlyLoop: auto-recharge $10 below $5 fires every hour while the balance
// only grows, for n recharges.
func hourlyLoop(n int) *history {
	hs := newHistory(lt.Account("5", "10"), buy("g0", "10.00")).poll("", map[string]string{"g0": "9.00"})
	for i := 1; i <= n; i++ {
		hs.poll("", map[string]string{"g0": "9.10"}, buy("g"+string(rune('0'+i)), "10.00"))
	}
	return hs
}

func TestRechargeBurst(t *testing.T) {
	burst := rule(t, "recharge-burst")
	tests := []struct {
		name string
		hs   *history
		want int // evidence rows, 0 = must not fire
	}{
		{"three hourly recharges fire", hourlyLoop(3), 3},
		{"two recharges do not", hourlyLoop(2), 0},
		{"five recharges: all five are evidence", hourlyLoop(5), 5},
		{
			// Recharges at +1h, +4h and +7h: at +7h the window (1h, 7h] holds two.
			"three recharges spread over exactly six hours do not",
			newHistory(lt.Account("5", "10"), buy("g0", "10")).poll("", nil).
				poll("", nil, buy("g1", "10")).wait(3*h).
				poll("", nil, buy("g2", "10")).wait(3*h).
				poll("", nil, buy("g3", "10")),
			0,
		},
		{
			"manual purchases of another amount do not",
			newHistory(lt.Account("5", "10"), buy("g0", "10")).poll("", nil).
				poll("", nil, buy("m1", "50")).poll("", nil, buy("m2", "50")).poll("", nil, buy("m3", "50")),
			0,
		},
		{
			"grants that existed before guardd watched do not",
			newHistory(lt.Account("5", "10"), buy("g1", "10"), buy("g2", "10"), buy("g3", "10")).poll("", nil).poll("", nil),
			0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := evaluate(t, burst, tc.hs)
			if tc.want == 0 {
				if len(fs) != 0 {
					t.Fatalf("findings: got %d (%s), want none", len(fs), fs[0].Summary)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("findings: got %d, want 1", len(fs))
			}
			f := fs[0]
			if len(f.Evidence) != tc.want {
				t.Errorf("evidence: got %d rows, want %d", len(f.Evidence), tc.want)
			}
			if f.Severity != billing.SeverityCritical {
				t.Errorf("severity: got %s, want critical", f.Severity)
			}
			if !strings.Contains(f.Recommendation, "Disable auto-recharge") {
				t.Errorf("recommendation %q should say to disable auto-recharge", f.Recommendation)
			}
			if !strings.Contains(f.Summary, "piling up") {
				t.Errorf("summary %q should say the balance climbs", f.Summary)
			}
			for _, e := range f.Evidence {
				if e.Source == "" || e.At.IsZero() {
					t.Errorf("evidence without source or time: %+v", e)
				}
			}
		})
	}
}

func TestRechargeAboveThreshold(t *testing.T) {
	rule := rule(t, "recharge-above-threshold")
	// One poll with balance left in g0, then an auto-recharge of $10.
	recharge := func(a billing.Account, leftBefore, credit string) *history {
		used := decimal.RequireFromString("100").Sub(decimal.RequireFromString(leftBefore)).String()
		return newHistory(a, buy("g0", "100")).poll("", map[string]string{"g0": used}).
			poll("", nil, buy("g1", credit))
	}
	off := lt.Account("5", "10")
	off.AutoRecharge.Enabled = false
	tests := []struct {
		name string
		hs   *history
		fire bool
	}{
		{"recharged with $20 left", recharge(lt.Account("5", "10"), "20.00", "10.00"), true},
		{"recharged with $5.51 left: just above the tolerance", recharge(lt.Account("5", "10"), "5.51", "10.00"), true},
		{"recharged with $5.50 left: within the tolerance", recharge(lt.Account("5", "10"), "5.50", "10.00"), false},
		{"recharged with $4 left", recharge(lt.Account("5", "10"), "4.00", "10.00"), false},
		{"a manual purchase with $20 left", recharge(lt.Account("5", "10"), "20.00", "50.00"), false},
		{"auto-recharge disabled", recharge(off, "20.00", "10.00"), false},
		{"restore mode, restored from $9 to $50", recharge(lt.RestoreAccount("10", "50"), "9.00", "41.00"), false},
		{"restore mode, restored from $40 to $50", recharge(lt.RestoreAccount("10", "50"), "40.00", "10.00"), true},
		{
			"expired credit counted by the provider does not make a legit recharge look early",
			newHistory(lt.Account("5", "10"), buy("g0", "10"), lt.Grant("old", promo, "60", "0", t0.Add(-90*24*h), t0.Add(-h))).
				poll("63.00", map[string]string{"g0": "7.00"}).
				poll("73.00", nil, buy("g1", "10")),
			false,
		},
		{
			"a back-dated purchase is dated when first seen",
			newHistory(lt.Account("5", "10"), buy("g0", "100")).poll("", map[string]string{"g0": "70"}).
				poll("", nil, lt.Grant("g1", paid, "10", "0", t0.Add(-40*24*h), future)),
			true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := evaluate(t, rule, tc.hs)
			if got := len(fs) == 1; got != tc.fire {
				t.Fatalf("fired: got %v (%d findings), want %v", got, len(fs), tc.fire)
			}
			if tc.fire && len(fs[0].Evidence) != 1 {
				t.Errorf("evidence: got %d rows, want 1", len(fs[0].Evidence))
			}
		})
	}
}

func TestRechargeWhileGrantCredit(t *testing.T) {
	rule := rule(t, "recharge-while-grant-credit")
	withPromo := func(promoLeft string, expires time.Time, credit string) *history {
		used := decimal.RequireFromString("18").Sub(decimal.RequireFromString(promoLeft)).String()
		return newHistory(lt.Account("5", "10"), buy("g0", "10"), lt.Grant("promo", promo, "18.00", used, t0.Add(-30*24*h), expires)).
			poll("", map[string]string{"g0": "8.00"}).
			poll("", map[string]string{"g0": "10.00"}, buy("g1", credit))
	}
	tests := []struct {
		name string
		hs   *history
		fire bool
	}{
		{"$18 promo untouched while paid credit recharged", withPromo("18.00", future, "10.00"), true},
		{"exactly $1 of promo left fires", withPromo("1.00", future, "10.00"), true},
		{"$0.99 of promo left does not", withPromo("0.99", future, "10.00"), false},
		{"the promo expired before the recharge", withPromo("18.00", t0.Add(30*time.Minute), "10.00"), false},
		{"a manual purchase is not the provider's doing", withPromo("18.00", future, "50.00"), false},
		{"no promo grants at all", hourlyLoop(1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := evaluate(t, rule, tc.hs)
			if got := len(fs) == 1; got != tc.fire {
				t.Fatalf("fired: got %v (%d findings), want %v", got, len(fs), tc.fire)
			}
			if !tc.fire {
				return
			}
			var grantEvidence bool
			for _, e := range fs[0].Evidence {
				if e.What == "credit grant" && e.Ref == "promo" && strings.Contains(e.Note, "expires") {
					grantEvidence = true
				}
			}
			if !grantEvidence {
				t.Errorf("evidence should name the idle promo grant and its expiry: %+v", fs[0].Evidence)
			}
		})
	}

	t.Run("granted balance (CNY, grants-first) while paid rises", func(t *testing.T) {
		a := lt.Account("5", "100")
		a.Currency, a.Drawdown = "CNY", billing.DrawdownGrantsFirst
		l := ledger.New(a, ledger.DefaultOptions())
		for i, o := range []billing.Observation{
			lt.At(t0).Split("10.00", "6.00", "CNY").Build(),
			lt.At(t0.Add(h)).Split("10.00", "104.00", "CNY").Build(),
		} {
			if err := l.Append(o); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
		fs := rule.Check(l, t0.Add(h))
		if len(fs) != 1 {
			t.Fatalf("findings: got %d, want 1", len(fs))
		}
		fs[0] = rule.Explain(l, t0.Add(h), fs[0])
		if len(fs) != 1 {
			t.Fatalf("findings: got %d, want 1", len(fs))
		}
		if !strings.Contains(fs[0].Summary, "¥10.00") {
			t.Errorf("summary %q should give the idle granted balance in CNY", fs[0].Summary)
		}
	})
}

func TestPhantomBalance(t *testing.T) {
	rule := rule(t, "phantom-balance")
	expired := func(left string) billing.Grant {
		used := decimal.RequireFromString("50").Sub(decimal.RequireFromString(left)).String()
		return lt.Grant("old", promo, "50.00", used, t0.Add(-100*24*h), t0.Add(-24*h))
	}
	live := lt.Grant("live", paid, "5.00", "1.07", lastMonth, future)
	tests := []struct {
		name  string
		shown string
		gs    []billing.Grant
		fire  bool
	}{
		{"$69 shown, $3.93 real", "69.00", []billing.Grant{expired("65.07"), live}, true},
		{"a gap of exactly $1 fires", "4.93", []billing.Grant{expired("1.00"), live}, true},
		{"a gap of $0.99 does not", "4.92", []billing.Grant{expired("0.99"), live}, false},
		{"shown equals effective", "3.93", []billing.Grant{live}, false},
		{"a gap with no expired credit behind it is not this rule", "10.00", []billing.Grant{live}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHistory(lt.Account("5", "10"), tc.gs...).poll(tc.shown, nil)
			fs := evaluate(t, rule, hs)
			if got := len(fs) == 1; got != tc.fire {
				t.Fatalf("fired: got %v (%d findings), want %v", got, len(fs), tc.fire)
			}
			if tc.fire && !strings.Contains(fs[0].Summary, "only $3.93 is really spendable") {
				t.Errorf("summary %q should state the real balance $3.93", fs[0].Summary)
			}
		})
	}
}

func TestEngineFillsIdentityAndState(t *testing.T) {
	e := rules.New(params())
	hs := hourlyLoop(3)
	l := hs.ledger(t)
	now := hs.last()
	fs := e.Evaluate(l, now)
	if len(fs) == 0 {
		t.Fatal("no findings for an hourly loop")
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Account != "acme" || !f.At.Equal(now) || f.Rule == "" {
			t.Errorf("identity: got account %q at %s rule %q", f.Account, f.At, f.Rule)
		}
		if !f.State.EffectiveKnown || !f.State.ObservedAt.Equal(now) {
			t.Errorf("state: got %+v, want the effective balance at %s", f.State, now)
		}
		if fp := f.Fingerprint(); seen[fp] || fp != billing.Fingerprint(f.Rule, "acme", f.Entity) {
			t.Errorf("fingerprint %s not unique or not stable", fp)
		} else {
			seen[fp] = true
		}
	}
	// Evaluating again gives the same findings: rules are pure.
	again := e.Evaluate(l, now)
	if len(again) != len(fs) {
		t.Fatalf("second evaluation: got %d findings, want %d", len(again), len(fs))
	}
	for i := range fs {
		if again[i].Fingerprint() != fs[i].Fingerprint() || again[i].Summary != fs[i].Summary {
			t.Errorf("finding %d changed between evaluations", i)
		}
	}
}

// TestSourceBlindExplainsTheEndpoint: the finding for an endpoint that
// serves two parts names both, the endpoint, and each poll's reason once.
func TestSourceBlindExplainsTheEndpoint(t *testing.T) {
	f := endpointsFailing(false)
	l := ledger.New(f.Account, ledger.DefaultOptions())
	for i, o := range f.Observations {
		if err := l.Append(o); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	r := rule(t, "source-blind")
	at := f.Observations[len(f.Observations)-1].At
	fs := r.Check(l, at)
	if len(fs) != 1 {
		t.Fatalf("findings: got %+v, want one", fs)
	}
	got := r.Explain(l, at, fs[0])
	if want := "guardd could not read the balance and grants of account acme from openai:GET /dashboard/billing/credit_grants in the last 3 polls (since 2026-10-14 01:00 UTC); rules that need them cannot see. " +
		"The latest: balance and grants unavailable: GET /dashboard/billing/credit_grants: http 403 Forbidden: must be made with a session key"; got.Summary != want {
		t.Errorf("summary: got %q, want %q", got.Summary, want)
	}
	if len(got.Evidence) != 3 {
		t.Fatalf("evidence: got %+v, want the three polls", got.Evidence)
	}
	if want := "balance and grants unavailable: GET /dashboard/billing/credit_grants: http 403 Forbidden: must be made with a session key"; got.Evidence[0].Note != want {
		t.Errorf("evidence note: got %q, want %q", got.Evidence[0].Note, want)
	}
}

// A repeat says what was charged since the alert started firing; an alert
// firing for longer than the rules' history counts that history, and says
// so, since that is all a ledger keeps.
func TestRepeatCountsChargesSinceFiring(t *testing.T) {
	a, obs := lt.Year(24 * 60)
	l := ledger.New(a, ledger.DefaultOptions())
	for i, o := range obs {
		if err := l.Append(o); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	e := rules.New(rules.DefaultParams())
	now := obs[len(obs)-1].At
	fs := e.Check(l, now)
	var f billing.Finding
	for _, x := range fs {
		if x.Rule == "charge-without-credit" {
			f = x
		}
	}
	if f.Rule == "" {
		t.Fatalf("charge-without-credit does not hold (%v)", fs)
	}
	count := func(from time.Time) int {
		return l.CountRecharges(from, now, func(*ledger.Recharge) bool { return true })
	}
	history := e.History()
	for _, tc := range []struct {
		since time.Time
		want  string
	}{
		{now.Add(-10 * 24 * h), fmt.Sprintf(" Since it started firing at %s: %d recharges,",
			now.Add(-10*24*h).Format("2006-01-02 15:04 UTC"), count(now.Add(-10*24*h)))},
		{now.Add(-50 * 24 * h), fmt.Sprintf(" It started firing at %s; in the last %s: %d recharges,",
			now.Add(-50*24*h).Format("2006-01-02 15:04 UTC"), billing.Words(history), count(now.Add(-history)))},
	} {
		f.FiringSince = tc.since
		got := e.Explain(l, now, f, fs).Summary
		if !strings.Contains(got, tc.want) {
			t.Errorf("firing since %s: summary %q, want it to contain %q", tc.since, got, tc.want)
		}
	}
	if n, all := count(now.Add(-history)), count(now.Add(-50*24*h)); n >= all {
		t.Fatalf("the history holds %d recharges of the %d since firing: the case proves nothing", n, all)
	}
}
