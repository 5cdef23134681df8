package openrouter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/poller/sourcetest"
	"github.com/guardd/guardd/internal/secret"
)

// The example in providers.md §4.2, verbatim.
const specCredits = `{ "data": { "total_credits": 100.5, "total_usage": 25.75 } }`

func TestDecodeCredits(t *testing.T) {
	total, usage, err := decodeCredits([]byte(specCredits))
	if err != nil || total.String() != "100.5" || usage.String() != "25.75" {
		t.Errorf("decodeCredits: got %s, %s, %v", total, usage, err)
	}
	tests := []struct{ body, want string }{
		{`{"data": {"total_credits": -1, "total_usage": 0}}`, "must not be negative"},
		{`{"data": {"total_credits": "NaN", "total_usage": 0}}`, "not a decimal amount"},
		{`{"data": {"total_usage": 0}}`, "total_credits is missing"},
		{`{"data": {"total_credits": 1, "total_usage": null}}`, "total_usage is missing"},
		{`{"credits": 1}`, `"data" is missing`},
		{`{"data": {"total_credits": true, "total_usage": 0}}`, "want a number"},
		{`<html>Cloudflare</html>`, "HTML"},
		{specCredits[:20], "cut short"},
	}
	for _, tc := range tests {
		if _, _, err := decodeCredits([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodeCredits(%s): got %v, want an error containing %q", tc.body, err, tc.want)
		}
	}
}

var now = time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)

func TestFetchInfersPurchases(t *testing.T) {
	f := pollertest.NewOpenRouter(t)
	opts, _ := sourcetest.HTTP()
	c, err := New(Options{BaseURL: f.URL(), ManagementKey: secret.New(f.Key), HTTP: opts})
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(at time.Time) billing.Observation {
		t.Helper()
		o, err := c.Fetch(context.Background(), at)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	o := fetch(now)
	b := o.Balance
	if b.Shown.Exact() != "74.75" || !b.HasSplit || !b.Granted.IsZero() || b.Paid.Exact() != "74.75" || b.Shown.Currency() != "USD" {
		t.Errorf("balance: got %+v, want 74.75 USD, all paid", b)
	}
	if !o.Has(billing.PartCharges) || len(o.Charges) != 0 {
		t.Errorf("first poll charges: got %+v, want read and none (nothing to compare with)", o.Charges)
	}

	f.Buy("20")
	f.Use("3")
	t1 := now.Add(time.Hour)
	o = fetch(t1)
	if len(o.Charges) != 1 {
		t.Fatalf("charges after a purchase: got %+v, want one", o.Charges)
	}
	ch := o.Charges[0]
	if ch.ID != "credits-rise:1791973800" || !ch.PaidAt.Equal(t1) || ch.Amount.Exact() != "20" ||
		ch.Origin != billing.ChargeInferred || ch.Trigger != billing.TriggerUnknown {
		t.Errorf("charge: got %+v", ch)
	}
	if o.Balance.Shown.Exact() != "91.75" {
		t.Errorf("balance: got %s, want 91.75", o.Balance.Shown.Exact())
	}

	// Usage alone infers nothing; the charge stays listed with its id.
	f.Use("1")
	o = fetch(now.Add(2 * time.Hour))
	if len(o.Charges) != 1 || o.Charges[0].ID != ch.ID {
		t.Errorf("charges after usage only: got %+v, want the earlier one again", o.Charges)
	}
	// After KeepCharges it is no longer listed.
	o = fetch(t1.Add(KeepCharges + time.Hour))
	if len(o.Charges) != 0 {
		t.Errorf("charges a week later: got %+v, want none", o.Charges)
	}
	if f.Count(pollertest.OpenRouterKeyPath) != 0 {
		t.Errorf("the key endpoint was read; it adds nothing")
	}
}

func TestFetchFailureKeepsBaseline(t *testing.T) {
	f := pollertest.NewOpenRouter(t)
	opts, _ := sourcetest.HTTP()
	c, _ := New(Options{BaseURL: f.URL(), ManagementKey: secret.New(f.Key), HTTP: opts})
	if _, err := c.Fetch(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	f.Buy("10")
	f.SetFault(pollertest.Garbage)
	if _, err := c.Fetch(context.Background(), now.Add(time.Hour)); err == nil {
		t.Fatal("Fetch of garbage: no error")
	}
	f.SetFault(pollertest.OK)
	o, err := c.Fetch(context.Background(), now.Add(2*time.Hour))
	if err != nil || len(o.Charges) != 1 || o.Charges[0].Amount.Exact() != "10" {
		t.Errorf("after the failed poll: got %+v, %v; want the 10 bought inferred", o.Charges, err)
	}
}

func FuzzDecodeCredits(f *testing.F) {
	f.Add([]byte(specCredits))
	f.Add([]byte(`{"data": {"total_credits": "1e2", "total_usage": 0.000001, "extra": [null]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		total, usage, err := decodeCredits(body)
		if err != nil {
			return
		}
		if total.IsNegative() || usage.IsNegative() {
			t.Fatalf("negative accepted: %s %s", total, usage)
		}
	})
}
