package billing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

func usd(s string) billing.Money { return billing.NewMoney(decimal.RequireFromString(s), "USD") }
func cny(s string) billing.Money { return billing.NewMoney(decimal.RequireFromString(s), "CNY") }

func TestMoneyArithmeticKeepsCurrencies(t *testing.T) {
	sum, err := usd("0.1").Add(usd("0.2"))
	if err != nil || !sum.Amount().Equal(decimal.RequireFromString("0.3")) {
		t.Errorf("0.1 + 0.2: got %s, %v; want exactly 0.3", sum.Exact(), err)
	}
	if _, err := usd("1").Add(cny("1")); !errors.Is(err, billing.ErrCurrencyMismatch) {
		t.Errorf("USD + CNY: got %v, want ErrCurrencyMismatch", err)
	}
	if _, err := usd("1").Sub(cny("1")); !errors.Is(err, billing.ErrCurrencyMismatch) {
		t.Errorf("USD - CNY: got %v, want ErrCurrencyMismatch", err)
	}
	if _, err := usd("1").Cmp(cny("1")); !errors.Is(err, billing.ErrCurrencyMismatch) {
		t.Errorf("compare USD with CNY: got %v, want ErrCurrencyMismatch", err)
	}
	// The zero value adds to any currency.
	if got, err := (billing.Money{}).Add(cny("2")); err != nil || got.Currency() != "CNY" {
		t.Errorf("zero + CNY: got %v, %v; want 2 CNY", got, err)
	}
}

func TestMoneyParsingAndDisplay(t *testing.T) {
	tests := []struct {
		in, display, exact string
		cur                billing.Currency
	}{
		{"12345678901234567.891", "$12345678901234567.89", "12345678901234567.891", "USD"},
		{"-0.4", "-$0.40", "-0.4", "USD"},
		{"110", "¥110.00", "110", "CNY"},
		{"2.345", "2.35 EUR", "2.345", "EUR"}, // rounded only when displayed
	}
	for _, tc := range tests {
		m, err := billing.ParseMoney(tc.in, tc.cur)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if m.Display() != tc.display || m.Exact() != tc.exact {
			t.Errorf("%s: got display %q exact %q, want %q %q", tc.in, m.Display(), m.Exact(), tc.display, tc.exact)
		}
	}
	for _, bad := range []string{"", " ", "1,00", "NaN", "abc", "1e"} {
		if _, err := billing.ParseMoney(bad, "USD"); err == nil {
			t.Errorf("ParseMoney(%q): got no error", bad)
		}
	}
	for in, want := range map[string]billing.Currency{"usd": "USD", " CNY ": "CNY"} {
		if got, err := billing.ParseCurrency(in); err != nil || got != want {
			t.Errorf("ParseCurrency(%q): got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"US", "DOLLAR", "12$", ""} {
		if _, err := billing.ParseCurrency(bad); err == nil {
			t.Errorf("ParseCurrency(%q): got no error", bad)
		}
	}
}

func TestGrantAndCharge(t *testing.T) {
	exp := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	g := billing.Grant{Amount: usd("10"), Used: usd("10.40"), ExpiresAt: exp}
	if !g.Remaining().Amount().Equal(decimal.RequireFromString("-0.40")) {
		t.Errorf("over-drawn remaining: got %s, want -0.40", g.Remaining().Exact())
	}
	// Remaining is Amount.Sub(Used), exponent included, the untouched
	// grants it returns without subtracting too.
	for _, tc := range [][2]string{{"500.00", "0"}, {"500.00", "0.00"}, {"500", "0.000"}, {"5E2", "0"}, {"500.00", "123.4"}, {"0", "0"}} {
		g := billing.Grant{Amount: usd(tc[0]), Used: usd(tc[1])}
		want := decimal.RequireFromString(tc[0]).Sub(decimal.RequireFromString(tc[1]))
		if got := g.Remaining(); !got.Amount().Equal(want) || got.Amount().Exponent() != want.Exponent() || got.Currency() != "USD" {
			t.Errorf("%s - %s: got %s (exponent %d, %s), want %s (exponent %d, USD)", tc[0], tc[1], got.Amount(),
				got.Amount().Exponent(), got.Currency(), want, want.Exponent())
		}
	}
	if g.ExpiredAt(exp.Add(-time.Second)) || !g.ExpiredAt(exp) {
		t.Error("a grant expires exactly at expires_at")
	}
	if (billing.Grant{}).ExpiredAt(exp.AddDate(100, 0, 0)) {
		t.Error("a grant without expiry never expires")
	}
	c := billing.Charge{Amount: usd("10.80"), Tax: usd("0.80")}
	if !c.Credit().Amount().Equal(decimal.RequireFromString("10")) {
		t.Errorf("credit: got %s, want 10 (tax never becomes credit)", c.Credit().Exact())
	}
}

func TestAccountValidate(t *testing.T) {
	a := billing.Account{Name: "a", Provider: "openai", Currency: "usd", Drawdown: "oldest-first",
		AutoRecharge: billing.AutoRecharge{Enabled: true, Threshold: usd("-1"), Mode: billing.RechargeRestore, Target: usd("-2"), Amount: usd("5")},
		MonthlyCap:   usd("0"), HasMonthlyCap: true}
	var got []string
	for _, e := range a.Validate() {
		got = append(got, e.Error())
	}
	want := []string{
		`currency: invalid currency "usd": want a three-letter ISO 4217 code`,
		`drawdown: unknown drawdown policy "oldest-first": want expiring-first or grants-first`,
		"monthly_cap: must be greater than 0 (got 0)",
		"auto_recharge.threshold: must not be negative (got -1)",
		"auto_recharge.target: must be greater than the threshold -1 in restore mode (got -2)",
		"auto_recharge.amount: only applies in add mode (got 5 with mode restore)",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\ngot  %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestFingerprintIsStable(t *testing.T) {
	a := billing.Fingerprint("recharge-burst", "acme", "recharges")
	if a != billing.Fingerprint("recharge-burst", "acme", "recharges") || len(a) != 16 {
		t.Errorf("fingerprint %q: not stable or not 16 hex digits", a)
	}
	// The stored alerts and payloads hold it: it never changes.
	if want := "c7ec2e12ec4faa2c"; a != want {
		t.Errorf("got %s, want %s", a, want)
	}
	// The separator keeps "ab"+"c" apart from "a"+"bc".
	if billing.Fingerprint("ab", "c", "") == billing.Fingerprint("a", "bc", "") {
		t.Error("fingerprints of different fields collide")
	}
	long := strings.Repeat("x", 200) // longer than the stack buffer
	for _, tc := range []struct {
		fp, rule, account, entity string
		want                      bool
	}{
		{a, "recharge-burst", "acme", "recharges", true},
		{a, "recharge-burst", "acme", "charges", false},
		{"", "recharge-burst", "acme", "recharges", false},
		{"5ef323095104432c", long, long, long, true},
	} {
		if got := billing.IsFingerprint(tc.fp, tc.rule, tc.account, tc.entity); got != tc.want {
			t.Errorf("IsFingerprint(%q, %q, %q, %q): got %v, want %v", tc.fp, tc.rule, tc.account, tc.entity, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	long := strings.Repeat("é", 100) // 2 bytes each: the cut is at a rune
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"usd", `"usd"`},
		{"a\"b\n", `"a\"b\n"`},
		{strings.Repeat("x", billing.MaxQuoted), `"` + strings.Repeat("x", billing.MaxQuoted) + `"`},
		{strings.Repeat("x", billing.MaxQuoted+1), `"` + strings.Repeat("x", billing.MaxQuoted) + `"… (81 bytes)`},
		{long, `"` + strings.Repeat("é", billing.MaxQuoted) + `"… (200 bytes)`},
	} {
		if got := billing.Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%.20q…): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseAmountBoundsItsText: a number of a million digits is refused at
// once, its text cut in the error (parsing it would take time quadratic in
// its length).
func TestParseAmountBoundsItsText(t *testing.T) {
	huge := strings.Repeat("9", 1<<20)
	_, err := billing.ParseAmount(huge)
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "… (1048576 bytes): longer than 100 characters") {
		t.Errorf("ParseAmount of a million digits: got %.300v, want a short error", err)
	}
	if _, err := billing.ParseAmount("0." + strings.Repeat("1", 98)); err != nil {
		t.Errorf("ParseAmount of 100 characters: %v", err)
	}
}
