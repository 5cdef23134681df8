package deepseek

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/poller/sourcetest"
	"github.com/guardd/guardd/internal/secret"
)

// The example in providers.md §4.1, verbatim.
const specBalance = `{
  "is_available": true,
  "balance_infos": [
    { "currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00", "topped_up_balance": "100.00" }
  ]
}`

func TestDecodeBalanceExample(t *testing.T) {
	b, err := decodeBalance([]byte(specBalance), "CNY")
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasSplit || b.Shown.Exact() != "110" || b.Granted.Exact() != "10" || b.Paid.Exact() != "100" || b.Paid.Currency() != "CNY" {
		t.Errorf("balance: got %+v, want 110 CNY split 10 granted, 100 paid", b)
	}
}

func TestDecodeBalancePicksCurrency(t *testing.T) {
	two := `{"is_available": true, "balance_infos": [
	  {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00", "topped_up_balance": "100.00"},
	  {"currency": "usd", "total_balance": "5.5", "granted_balance": "0", "topped_up_balance": "5.5", "new": 1}]}`
	b, err := decodeBalance([]byte(two), "USD")
	if err != nil || b.Shown.Exact() != "5.5" || b.Shown.Currency() != "USD" {
		t.Errorf("USD entry: got %+v, %v", b, err)
	}
	_, err = decodeBalance([]byte(specBalance), "USD")
	var ce *currencyMissingError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no balance in USD, only in CNY") {
		t.Errorf("missing currency: got %v, want one naming USD and the CNY seen", err)
	}
	_, err = decodeBalance([]byte(`{"is_available": false, "balance_infos": []}`), "CNY")
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "balance_infos is empty") {
		t.Errorf("no entries: got %v", err)
	}
}

func TestDecodeBalanceBad(t *testing.T) {
	tests := []struct{ name, from, to, want string }{
		{"negative", `"granted_balance": "10.00"`, `"granted_balance": "-10.00"`, "must not be negative"},
		{"NaN", `"total_balance": "110.00"`, `"total_balance": "NaN"`, "not a decimal amount"},
		{"missing topped up", `, "topped_up_balance": "100.00"`, ``, "topped_up_balance is missing"},
		{"unknown currency", `"currency": "CNY"`, `"currency": "yuan"`, "invalid currency"},
		{"no currency", `"currency": "CNY", `, ``, "currency is missing"},
		{"no infos", `"balance_infos"`, `"balances"`, `"balance_infos" is missing`},
		{"infos not a list", specBalance, `{"balance_infos": {"currency": "CNY"}}`, "field balance_infos: want a list, got a JSON object"},
		{"html", specBalance, `<html><body>504 Gateway Time-out</body></html>`, "HTML"},
		{"truncated", specBalance, specBalance[:60], "cut short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(specBalance, tc.from, tc.to, 1)
			if body == specBalance {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := decodeBalance([]byte(body), "CNY")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeBalance: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

var now = time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)

func TestFetch(t *testing.T) {
	f := pollertest.NewDeepSeek(t)
	f.RechargeLoop("CNY", "50.00")
	opts, _ := sourcetest.HTTP()
	c, err := New(Options{BaseURL: f.URL(), APIKey: secret.New(f.APIKey), Currency: "CNY", HTTP: opts})
	if err != nil {
		t.Fatal(err)
	}
	var paid []string
	for i := range 3 {
		o, err := c.Fetch(context.Background(), now.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		paid = append(paid, o.Balance.Paid.Exact())
		if st := o.Parts[billing.PartBalance]; st.Source != "deepseek:GET /user/balance" || !st.AsOf.Equal(o.At) {
			t.Errorf("balance status: got %+v", st)
		}
		if len(o.Parts) != 1 {
			t.Errorf("parts: got %v, want only the balance", o.Parts)
		}
	}
	if strings.Join(paid, " ") != "100 150 200" {
		t.Errorf("topped-up balance per poll: got %v, want 100 150 200", paid)
	}
}

// blindFetch fetches from f once as an account in currency and checks that
// the poll read nothing and is unavailable (blind), not invalid, with want
// in its error.
func blindFetch(t *testing.T, f *pollertest.DeepSeek, currency billing.Currency, want string) *Client {
	t.Helper()
	opts, _ := sourcetest.HTTP()
	c, _ := New(Options{BaseURL: f.URL(), APIKey: secret.New(f.APIKey), Currency: currency, HTTP: opts})
	o, err := c.Fetch(context.Background(), now)
	if !errors.Is(err, poller.ErrUnavailable) || errors.Is(err, poller.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("Fetch: got %v, want an unavailable poll with %q", err, want)
	}
	if len(o.Parts) != 0 {
		t.Errorf("observation with the error: %+v", o)
	}
	return c
}

func TestFetchWrongCurrency(t *testing.T) {
	// An unavailable configuration problem naming CNY.
	blindFetch(t, pollertest.NewDeepSeek(t), "USD", "only in CNY")
}

func FuzzDecodeBalance(f *testing.F) {
	f.Add([]byte(specBalance), "CNY")
	f.Add([]byte(`{"balance_infos": [{"currency": "USD", "total_balance": 1e1, "granted_balance": "0", "topped_up_balance": "10"}]}`), "USD")
	f.Fuzz(func(t *testing.T, body []byte, cur string) {
		c, err := billing.ParseCurrency(cur)
		if err != nil {
			return
		}
		b, err := decodeBalance(body, c)
		if err != nil {
			if b.HasSplit || !b.Shown.IsZero() {
				t.Fatalf("error %v with a balance %+v", err, b)
			}
			return
		}
		if !b.HasSplit || b.Shown.Currency() != c || b.Shown.IsNegative() || b.Granted.IsNegative() || b.Paid.IsNegative() {
			t.Fatalf("bad balance accepted: %+v", b)
		}
	})
}

// TestFetchNotAvailable: is_available: false makes the balance part
// unavailable with that reason (blind, never the figures listed beside it).
func TestFetchNotAvailable(t *testing.T) {
	f := pollertest.NewDeepSeek(t)
	f.SetAvailable(false)
	c := blindFetch(t, f, "CNY", "balance: GET /user/balance: data unavailable: is_available is false: DeepSeek says the account has no balance available for API calls")
	f.SetAvailable(true)
	if o, err := c.Fetch(context.Background(), now.Add(time.Hour)); err != nil || !o.Has(billing.PartBalance) {
		t.Errorf("Fetch once available again: got %+v, %v; want the balance read", o, err)
	}
}
