package anthropic

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

// The example in providers.md §3.2, verbatim.
const specReport = `{
  "data": [
    {
      "starting_at": "2025-01-01T00:00:00Z",
      "ending_at": "2025-01-02T00:00:00Z",
      "results": [
        { "currency": "USD", "amount": "123.45", "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
          "description": "Claude Sonnet 4 Usage - Input Tokens", "cost_type": "tokens",
          "context_window": "0-200k", "model": "claude-sonnet-4-20250514",
          "service_tier": "standard", "token_type": "uncached_input_tokens", "inference_geo": null },
        { "currency": "USD", "amount": "40", "workspace_id": null,
          "description": "Web Search", "cost_type": "web_search", "context_window": null,
          "model": null, "service_tier": null, "token_type": null, "inference_geo": null }
      ]
    }
  ],
  "has_more": false,
  "next_page": null
}`

func TestDecodeCostReportExample(t *testing.T) {
	bs, next, err := decodeCostReport([]byte(specReport))
	if err != nil || next != "" || len(bs) != 1 {
		t.Fatalf("decodeCostReport: got %+v, %q, %v", bs, next, err)
	}
	b := bs[0]
	// 123.45 + 40 cents = $1.6345, exactly.
	if b.Amount.Exact() != "1.6345" || b.Amount.Currency() != "USD" ||
		!b.Start.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !b.End.Equal(time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("bucket: got %+v, want 2025-01-01 $1.6345", b)
	}
}

func TestDecodeCostReportBad(t *testing.T) {
	tests := []struct{ name, from, to, want string }{
		{"negative", `"amount": "40"`, `"amount": "-40"`, "must not be negative"},
		{"NaN", `"amount": "40"`, `"amount": "NaN"`, "not a decimal amount"},
		{"comma", `"amount": "40"`, `"amount": "1,00"`, "not a decimal amount"},
		{"no amount", `"amount": "40",`, ``, "amount is missing"},
		{"unknown currency", `"currency": "USD", "amount": "40"`, `"currency": "XX1", "amount": "40"`, "invalid currency"},
		{"other currency", `"currency": "USD", "amount": "40"`, `"currency": "EUR", "amount": "40"`, "unexpected currency EUR"},
		{"bad time", `"starting_at": "2025-01-01T00:00:00Z"`, `"starting_at": "2025-01-01"`, "not an RFC 3339 time"},
		{"no end", `"ending_at": "2025-01-02T00:00:00Z",`, ``, "ending_at is missing"},
		{"end before start", `"ending_at": "2025-01-02T00:00:00Z"`, `"ending_at": "2024-12-31T00:00:00Z"`, "is not after starting_at"},
		{"no data", `"data": [`, `"dota": [`, `"data" is missing`},
		{"has_more without cursor", `"has_more": false`, `"has_more": true`, "next_page is missing"},
		{"html", specReport, "<html>502 Bad Gateway</html>", "HTML"},
		{"truncated", specReport, specReport[:100], "cut short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(specReport, tc.from, tc.to, 1)
			if body == specReport {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, _, err := decodeCostReport([]byte(body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeCostReport: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	lower := strings.ReplaceAll(specReport, `"USD"`, `"usd"`)
	if _, _, err := decodeCostReport([]byte(lower)); err != nil {
		t.Errorf("lower-case currency: %v", err)
	}
}

var now = time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)

func day(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }

func TestFetchIncremental(t *testing.T) {
	f := pollertest.NewAnthropic(t)
	clock := now
	f.SetClock(func() time.Time { return clock })
	f.SetCost(day(12), "250", "12.5")
	opts, _ := sourcetest.HTTP()
	c, err := New(Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), Lookback: 3 * 24 * time.Hour, HTTP: opts})
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Fetch(context.Background(), clock)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Costs) != 4 || !o.Costs[0].Start.Equal(day(11)) {
		t.Fatalf("costs: got %+v, want 4 days from the 11th", o.Costs)
	}
	if got := o.Costs[1].Amount.Exact(); got != "2.625" {
		t.Errorf("the 12th: got %s, want 2.625 (262.5 cents)", got)
	}
	// Settled 6h after the day ends: the 11th, 12th and 13th (ended 9.5h ago).
	for i, want := range []bool{true, true, true, false} {
		if o.Costs[i].Settled != want {
			t.Errorf("bucket %d settled: got %v, want %v", i, o.Costs[i].Settled, want)
		}
	}
	for _, p := range []billing.Part{billing.PartBalance, billing.PartGrants, billing.PartCharges} {
		if _, ok := o.Parts[p]; ok {
			t.Errorf("part %s: present, want not read (Anthropic exposes no such API)", p)
		}
	}
	if st := o.Parts[billing.PartCosts]; st.Source != "anthropic:GET /v1/organizations/cost_report" {
		t.Errorf("source: got %q", st.Source)
	}
	clock = now.Add(time.Hour)
	if _, err := c.Fetch(context.Background(), clock); err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || reqs[0].Query.Get("starting_at") != "2026-10-11T00:00:00Z" || reqs[1].Query.Get("starting_at") != "2026-10-14T00:00:00Z" {
		t.Errorf("requests: got %+v, want the 11th then only today", reqs)
	}
	if q := reqs[0].Query; q.Get("bucket_width") != "1d" || q.Get("limit") != "4" {
		t.Errorf("query: got %v", q)
	}
}

func TestFetchPages(t *testing.T) {
	f := pollertest.NewAnthropic(t)
	f.SetClock(func() time.Time { return now })
	f.SetCost(now.AddDate(0, 0, -60), "100")
	opts, _ := sourcetest.HTTP()
	c, _ := New(Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), Lookback: 60 * 24 * time.Hour, HTTP: opts})
	o, err := c.Fetch(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Costs) != 61 || f.Count(CostReportPath) != 2 || o.Costs[0].Amount.Exact() != "1" {
		t.Errorf("got %d buckets in %d requests (first %s), want 61 in 2 (31 a page), first 1", len(o.Costs), f.Count(CostReportPath), o.Costs[0].Amount.Exact())
	}
}

func TestMissingVersionHeaderIsRefused(t *testing.T) {
	// The fake insists on the header, as the real API does: prove the client
	// sends it by checking every request was authorized.
	f := pollertest.NewAnthropic(t)
	opts, _ := sourcetest.HTTP()
	c, _ := New(Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), HTTP: opts})
	if _, err := c.Fetch(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Requests() {
		if !r.Authorized {
			t.Errorf("request %+v not authorized", r)
		}
	}
}

func FuzzDecodeCostReport(f *testing.F) {
	f.Add([]byte(specReport))
	f.Add([]byte(`{"data": [], "has_more": true, "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="}`))
	f.Add([]byte(`{"data": [{"starting_at": "2025-01-01T00:00:00+02:00", "ending_at": "2025-01-02T00:00:00Z", "results": [{"currency": "usd", "amount": 1e2}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		bs, next, err := decodeCostReport(body)
		if err != nil {
			if bs != nil || next != "" {
				t.Fatalf("error %v with results", err)
			}
			return
		}
		for _, b := range bs {
			if !b.End.After(b.Start) || b.Amount.IsNegative() || b.Amount.Currency() != "USD" {
				t.Fatalf("bad bucket accepted: %+v", b)
			}
		}
	})
}
