package openai

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/poller/sourcetest"
	"github.com/guardd/guardd/internal/secret"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The examples in providers.md §1.2 and §2.2, verbatim.
const (
	specCosts = `{
  "object": "page",
  "data": [
    {
      "object": "bucket",
      "start_time": 1730419200,
      "end_time": 1730505600,
      "results": [
        {
          "object": "organization.costs.result",
          "amount": { "value": 0.06, "currency": "usd" },
          "line_item": null,
          "project_id": null,
          "api_key_id": null,
          "quantity": null,
          "quantity_unit": null
        }
      ]
    }
  ],
  "has_more": false,
  "next_page": null
}`
	groupedCosts = `{
  "object": "page",
  "data": [
    { "object": "bucket", "start_time": 1735689600, "end_time": 1735776000,
      "results": [
        { "object": "organization.costs.result", "amount": {"value": 1.8342, "currency": "usd"},
          "line_item": "gpt-4o-2024-08-06, input", "project_id": "proj_abc", "api_key_id": null,
          "quantity": 733680, "quantity_unit": "tokens" },
        { "object": "organization.costs.result", "amount": {"value": 2.115, "currency": "usd"},
          "line_item": "gpt-4o-2024-08-06, output", "project_id": "proj_abc", "api_key_id": null,
          "quantity": 211500, "quantity_unit": "tokens" }
      ] },
    { "object": "bucket", "start_time": 1735776000, "end_time": 1735862400, "results": [] }
  ],
  "has_more": true,
  "next_page": "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="
}`
	specGrants = `{
  "object": "credit_summary",
  "total_granted": 18,
  "total_used": 1.850212,
  "total_available": 16.149788,
  "grants": {
    "object": "list",
    "data": [
      {
        "object": "credit_grant",
        "id": "f7855bd6-d87d-4ab6-8a6b-1c1b5b5b5b5b",
        "grant_amount": 18,
        "used_amount": 1.850212,
        "effective_at": 1670976000,
        "expires_at": 1680307200
      }
    ]
  }
}`
	emptyGrants = `{"object": "credit_summary", "total_granted": 0, "total_used": 0, "total_available": 0, "grants": {"object": "list", "data": []}}`
)

func TestDecodeCostsExamples(t *testing.T) {
	bs, next, _, err := decodeCosts([]byte(specCosts))
	if err != nil || next != "" || len(bs) != 1 {
		t.Fatalf("decodeCosts(spec): got %+v, %q, %v; want one bucket, last page", bs, next, err)
	}
	if b := bs[0]; !b.Start.Equal(time.Unix(1730419200, 0)) || !b.End.Equal(time.Unix(1730505600, 0)) ||
		b.Amount.Exact() != "0.06" || b.Amount.Currency() != "USD" {
		t.Errorf("bucket: got %+v, want 2024-11-01 0.06 USD", b)
	}

	bs, next, _, err = decodeCosts([]byte(groupedCosts))
	if err != nil || next != "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=" || len(bs) != 2 {
		t.Fatalf("decodeCosts(grouped): got %+v, %q, %v", bs, next, err)
	}
	if got := bs[0].Amount.Exact(); got != "3.9492" {
		t.Errorf("grouped bucket sum: got %s, want 3.9492 (1.8342 + 2.115, exact)", got)
	}
	if !bs[1].Amount.IsZero() {
		t.Errorf("empty bucket: got %s, want 0", bs[1].Amount.Exact())
	}
}

func TestDecodeCostsBad(t *testing.T) {
	bucket := func(result string) string {
		return `{"object": "page", "data": [{"start_time": 1730419200, "end_time": 1730505600, "results": [` + result + `]}], "has_more": false}`
	}
	tests := []struct{ name, body, want string }{
		{"html", "<html><body>Bad gateway</body></html>", "HTML"},
		{"truncated", specCosts[:len(specCosts)/2], "cut short"},
		{"no data", `{"object": "page", "has_more": false}`, `"data" is missing`},
		{"negative", bucket(`{"amount": {"value": -0.06, "currency": "usd"}}`), "must not be negative"},
		{"NaN string", bucket(`{"amount": {"value": "NaN", "currency": "usd"}}`), "not a decimal amount"},
		{"no currency", bucket(`{"amount": {"value": 1}}`), "currency is missing"},
		{"other currency", bucket(`{"amount": {"value": 1, "currency": "eur"}}`), "unexpected currency EUR"},
		{"bad currency", bucket(`{"amount": {"value": 1, "currency": "dollars"}}`), "invalid currency"},
		{"no value", bucket(`{"amount": {"currency": "usd"}}`), "value is missing"},
		{"value object", bucket(`{"amount": {"value": {}, "currency": "usd"}}`), "want a number"},
		{"end before start", `{"data": [{"start_time": 1730505600, "end_time": 1730419200, "results": []}]}`, "is not after start_time"},
		{"no results", `{"data": [{"start_time": 1730419200, "end_time": 1730505600}]}`, "results is missing"},
		{"has_more without cursor", `{"data": [], "has_more": true, "next_page": null}`, "next_page is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := decodeCosts([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeCosts: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Upper-case currency and unknown fields are fine.
	if _, _, _, err := decodeCosts([]byte(bucket(`{"amount": {"value": 1, "currency": "USD", "new_field": [1]}, "another": {}}`))); err != nil {
		t.Errorf("decodeCosts with USD and unknown fields: %v", err)
	}
}

// TestDecodeCostsSkipsResultWithoutAmount: a result without an amount
// (absent or null; the spec allows it) adds nothing and is listed, and the
// rest of the bucket is still summed.
func TestDecodeCostsSkipsResultWithoutAmount(t *testing.T) {
	body := strings.Replace(groupedCosts, `"results": [
        {`, `"results": [
        { "object": "organization.costs.result", "line_item": "gpt-4o-2024-08-06, cached", "quantity": 10, "quantity_unit": "tokens" },
        { "object": "organization.costs.result", "amount": null },
        {`, 1)
	if body == groupedCosts {
		t.Fatal("replacement not found")
	}
	bs, _, skipped, err := decodeCosts([]byte(body))
	if err != nil || len(bs) != 2 || bs[0].Amount.Exact() != "3.9492" {
		t.Fatalf("decodeCosts: got %+v, %v; want the bucket of 3.9492 without the two results", bs, err)
	}
	if want := []string{"data[0].results[0]", "data[0].results[1]"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped: got %q, want %q", skipped, want)
	}
}

func TestDecodeGrants(t *testing.T) {
	bal, gs, err := decodeGrants([]byte(specGrants))
	if err != nil {
		t.Fatal(err)
	}
	if bal.Shown.Exact() != "16.149788" || bal.HasSplit {
		t.Errorf("balance: got %+v, want shown 16.149788 with no split", bal)
	}
	if len(gs) != 1 {
		t.Fatalf("grants: got %d, want 1", len(gs))
	}
	g := gs[0]
	if g.ID != "f7855bd6-d87d-4ab6-8a6b-1c1b5b5b5b5b" || g.Amount.Exact() != "18" || g.Used.Exact() != "1.850212" ||
		!g.EffectiveAt.Equal(time.Unix(1670976000, 0)) || !g.ExpiresAt.Equal(time.Unix(1680307200, 0)) {
		t.Errorf("grant: got %+v", g)
	}
	// The $18 free trial: effective mid-December, expiring after 3 months.
	if g.Kind != billing.GrantPromotional || !strings.HasPrefix(g.KindGuess, "guessed: ") {
		t.Errorf("kind: got %s (%q), want a guessed promotional grant", g.Kind, g.KindGuess)
	}

	if bal, gs, err := decodeGrants([]byte(emptyGrants)); err != nil || len(gs) != 0 || !bal.Shown.IsZero() {
		t.Errorf("empty account: got %+v, %+v, %v", bal, gs, err)
	}

	float := strings.ReplaceAll(strings.ReplaceAll(specGrants, "1670976000", "1670976000.0"), "1680307200", "1680307200.5")
	if _, gs, err := decodeGrants([]byte(float)); err != nil || !gs[0].ExpiresAt.Equal(time.Unix(1680307200, 5e8)) {
		t.Errorf("float times: got %+v, %v", gs, err)
	}
	// A negative total_available is what OpenAI shows after overuse.
	neg := strings.Replace(specGrants, `"total_available": 16.149788`, `"total_available": -0.40`, 1)
	if bal, _, err := decodeGrants([]byte(neg)); err != nil || bal.Shown.Exact() != "-0.4" {
		t.Errorf("negative total_available: got %+v, %v", bal, err)
	}
	noExpiry := strings.Replace(specGrants, `"expires_at": 1680307200`, `"expires_at": null`, 1)
	if _, gs, err := decodeGrants([]byte(noExpiry)); err != nil || !gs[0].ExpiresAt.IsZero() {
		t.Errorf("null expires_at: got %+v, %v", gs, err)
	}
}

func TestDecodeGrantsBad(t *testing.T) {
	tests := []struct{ name, from, to, want string }{
		{"negative grant", `"grant_amount": 18`, `"grant_amount": -18`, "must not be negative"},
		{"NaN used", `"used_amount": 1.850212`, `"used_amount": "NaN"`, "not a decimal amount"},
		{"no id", `"id": "f7855bd6-d87d-4ab6-8a6b-1c1b5b5b5b5b",`, ``, "id is missing"},
		{"no effective_at", `"effective_at": 1670976000,`, ``, "effective_at is missing"},
		{"expiry before effect", `"expires_at": 1680307200`, `"expires_at": 1600000000`, "is not after effective_at"},
		{"no total", `"total_available": 16.149788,`, ``, "total_available is missing"},
		{"no grants", `"grants": {`, `"grunts": {`, "grants.data"},
		{"string time", `"effective_at": 1670976000`, `"effective_at": "yesterday"`, "not a decimal amount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(specGrants, tc.from, tc.to, 1)
			if body == specGrants {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, _, err := decodeGrants([]byte(body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeGrants: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	dup := strings.Replace(specGrants, `"data": [`, `"data": [{"id": "f7855bd6-d87d-4ab6-8a6b-1c1b5b5b5b5b", "grant_amount": 1, "used_amount": 0, "effective_at": 1670976000},`, 1)
	if _, _, err := decodeGrants([]byte(dup)); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate grant: got %v", err)
	}
}

func TestGuessKind(t *testing.T) {
	at := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, time.UTC)
	}
	tests := []struct {
		name     string
		eff, exp time.Time
		want     billing.GrantKind
	}{
		{"purchase back-dated to the month's last second", at(2026, 9, 30, 23, 59, 59), at(2027, 9, 30, 23, 59, 59), billing.GrantPurchased},
		{"purchase dated at the start of the month's last day", at(2026, 2, 28, 0, 0, 0), at(2027, 2, 28, 0, 0, 0), billing.GrantPurchased},
		{"purchase dated at midnight on the 1st", at(2026, 10, 1, 0, 0, 0), at(2027, 10, 1, 0, 0, 0), billing.GrantPurchased},
		{"leap year", at(2027, 2, 28, 12, 0, 0), at(2028, 2, 29, 12, 0, 0), billing.GrantPurchased},
		{"free trial, 3 months", at(2022, 12, 14, 0, 0, 0), at(2023, 3, 31, 0, 0, 0), billing.GrantPromotional},
		{"month-end but 6 months", at(2026, 9, 30, 23, 59, 59), at(2027, 3, 30, 23, 59, 59), billing.GrantPromotional},
		{"one year but mid-month", at(2026, 9, 15, 0, 0, 0), at(2027, 9, 15, 0, 0, 0), billing.GrantPromotional},
		{"never expires", at(2026, 9, 30, 23, 59, 59), time.Time{}, billing.GrantPromotional},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := GuessKind(billing.Grant{EffectiveAt: tc.eff, ExpiresAt: tc.exp})
			if got != tc.want {
				t.Errorf("GuessKind: got %s (%s), want %s", got, why, tc.want)
			}
			if !strings.HasPrefix(why, "guessed: ") || !strings.Contains(why, "OpenAI labels no grant") {
				t.Errorf("reason %q: want it to say it is a guess and why", why)
			}
		})
	}
}

var now = time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)

func newClient(t *testing.T, f *pollertest.OpenAI, session bool, lookback time.Duration) *Client {
	t.Helper()
	opts, _ := sourcetest.HTTP()
	o := Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), Lookback: lookback, HTTP: opts}
	if session {
		o.SessionKey = secret.New(f.SessionKey)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func day(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }

func TestCostsIncremental(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	clock := now
	f.SetClock(func() time.Time { return clock })
	for d := 1; d <= 14; d++ {
		f.SetCost(day(d), strconv.Itoa(d)+".10")
	}
	c := newClient(t, f, false, 0)

	o, err := c.Fetch(context.Background(), clock)
	if err != nil {
		t.Fatal(err)
	}
	// First poll: the 7-day lookback, from the 7th to today the 14th.
	if len(o.Costs) != 8 || !o.Costs[0].Start.Equal(day(7)) || !o.Costs[7].Start.Equal(day(14)) {
		t.Fatalf("first poll costs: got %d buckets from %v, want 8 from the 7th", len(o.Costs), o.Costs[0].Start)
	}
	for _, b := range o.Costs {
		// Settled once the bucket ended 24h before now: up to the 12th.
		if want := b.End.Before(day(14)); b.Settled != want {
			t.Errorf("bucket %s: settled %v, want %v", billing.Day(b.Start), b.Settled, want)
		}
	}
	if got := o.Costs[2].Amount; got.Exact() != "9.1" || got.Currency() != "USD" {
		t.Errorf("bucket of the 9th: got %s, want 9.10 USD", got)
	}
	if st := o.Parts[billing.PartCosts]; st.Source != "openai:GET /v1/organization/costs" || !st.AsOf.Equal(now) {
		t.Errorf("costs status: got %+v", st)
	}
	if _, ok := o.Parts[billing.PartCharges]; ok {
		t.Errorf("charges part: present, want not read (OpenAI has no charges endpoint)")
	}
	if _, ok := o.Parts[billing.PartGrants]; ok {
		t.Errorf("grants part: present without a session key")
	}

	// An hour later: only the days not yet settled (the 13th, the 14th).
	clock = now.Add(time.Hour)
	o, err = c.Fetch(context.Background(), clock)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Costs) != 2 || !o.Costs[0].Start.Equal(day(13)) {
		t.Errorf("second poll: got %d buckets from %v, want the 13th and 14th", len(o.Costs), o.Costs[0].Start)
	}
	// Next day: the 13th settles, so reads start at the 14th.
	clock = day(15).Add(time.Hour)
	if _, err := c.Fetch(context.Background(), clock); err != nil {
		t.Fatal(err)
	}
	clock = day(15).Add(2 * time.Hour)
	o, _ = c.Fetch(context.Background(), clock)
	if len(o.Costs) != 2 || !o.Costs[0].Start.Equal(day(14)) {
		t.Errorf("next day: got %d buckets from %v, want the 14th and 15th", len(o.Costs), o.Costs[0].Start)
	}

	var starts []string
	for _, r := range f.Requests() {
		starts = append(starts, r.Query.Get("start_time"))
	}
	want := []string{unix(day(7)), unix(day(13)), unix(day(13)), unix(day(14))}
	if strings.Join(starts, " ") != strings.Join(want, " ") {
		t.Errorf("start_time of each request: got %v, want %v", starts, want)
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestCostsPagination(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetClock(func() time.Time { return now })
	f.SetCost(now.AddDate(0, 0, -399), "0.5")
	f.SetCost(now, "0.25")
	c := newClient(t, f, false, 400*24*time.Hour)
	o, err := c.Fetch(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Count(CostsPath); got != 3 {
		t.Errorf("pages requested: got %d, want 3 (401 days at 180 a page)", got)
	}
	if len(o.Costs) != 401 {
		t.Fatalf("buckets: got %d, want 401", len(o.Costs))
	}
	if o.Costs[1].Amount.Exact() != "0.5" || o.Costs[400].Amount.Exact() != "0.25" {
		t.Errorf("amounts: got %s and %s", o.Costs[1].Amount.Exact(), o.Costs[400].Amount.Exact())
	}
	pages := f.Requests()
	if pages[1].Query.Get("page") == "" || pages[2].Query.Get("page") == pages[1].Query.Get("page") {
		t.Errorf("page cursors: got %q, %q", pages[1].Query.Get("page"), pages[2].Query.Get("page"))
	}
}

func TestGrantsAndBalance(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetClock(func() time.Time { return now })
	f.SetFloatTimes(true)
	expired := pollertest.OpenAIGrant{ID: "cg_old", Amount: "18", Used: "1.85", EffectiveAt: day(3).AddDate(-2, 0, 0), ExpiresAt: day(3).AddDate(-1, 0, 0)}
	bought := pollertest.PurchaseGrant("cg_new", "10.00", now)
	bought.Used = "2.5"
	f.SetGrants(expired, bought)
	c := newClient(t, f, true, 0)
	o, err := c.Fetch(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Has(billing.PartGrants) || !o.Has(billing.PartBalance) || !o.Has(billing.PartCosts) {
		t.Fatalf("parts: got %+v, want costs, grants and balance read", o.Parts)
	}
	// total_available still counts the expired grant's 16.15.
	if got := o.Balance.Shown.Exact(); got != "23.65" {
		t.Errorf("shown balance: got %s, want 23.65", got)
	}
	if len(o.Grants) != 2 || o.Grants[0].Kind != billing.GrantPromotional || o.Grants[1].Kind != billing.GrantPurchased {
		t.Errorf("grants: got %+v, want the old one promotional and the new one purchased", o.Grants)
	}
	if st := o.Parts[billing.PartGrants]; st.Source != "openai:GET /dashboard/billing/credit_grants" {
		t.Errorf("grants source: got %q", st.Source)
	}
	for _, r := range f.Requests() {
		if !r.Authorized {
			t.Errorf("request to %s not authorized", r.Path)
		}
	}
}

func TestSessionKeyRequired(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetClock(func() time.Time { return now })
	opts, _ := sourcetest.HTTP()
	// The user put an API key where the session key goes.
	c, err := New(Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), SessionKey: secret.New("sk-proj-abcdef0123456789"), HTTP: opts})
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Fetch(context.Background(), now)
	if err != nil {
		t.Fatalf("Fetch: got %v, want the costs read and the grants unavailable", err)
	}
	if !o.Has(billing.PartCosts) {
		t.Errorf("costs: not read")
	}
	for _, p := range []billing.Part{billing.PartGrants, billing.PartBalance} {
		st := o.Parts[p]
		if !strings.Contains(st.Unavailable, "configuration problem") || !strings.Contains(st.Unavailable, "sess-") ||
			!strings.Contains(st.Unavailable, "Fix:") {
			t.Errorf("%s: got %q, want a configuration problem with the fix", p, st.Unavailable)
		}
		if strings.Contains(st.Unavailable, "abcdef0123456789") {
			t.Errorf("%s reason shows the key: %q", p, st.Unavailable)
		}
	}
	if f.Count(GrantsPath) != 1 {
		t.Errorf("grants requests: got %d, want 1 (a 403 is not retried)", f.Count(GrantsPath))
	}

	// With the costs failing too, the error says both, and is the session
	// key error.
	f.SetFaultN(CostsPath, pollertest.ServerError, 0)
	_, err = c.Fetch(context.Background(), now)
	if !errors.Is(err, ErrSessionKeyRequired) || !errors.Is(err, poller.ErrUnavailable) {
		t.Errorf("Fetch with costs down: got %v, want ErrSessionKeyRequired among the causes", err)
	}
}

func TestPartialRead(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetClock(func() time.Time { return now })
	f.SetGrants(pollertest.PurchaseGrant("cg_1", "10", now))
	c := newClient(t, f, true, 0)
	f.SetFaultN(GrantsPath, pollertest.Truncated, 0)
	o, err := c.Fetch(context.Background(), now)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !o.Has(billing.PartCosts) || o.Has(billing.PartBalance) || o.Has(billing.PartGrants) {
		t.Fatalf("parts: got %+v, want costs read and balance/grants unavailable", o.Parts)
	}
	if !strings.Contains(o.Parts[billing.PartBalance].Unavailable, "invalid response: the JSON response is cut short") {
		t.Errorf("balance reason: got %q", o.Parts[billing.PartBalance].Unavailable)
	}
	if o.Grants != nil || !o.Balance.Shown.IsZero() {
		t.Errorf("unavailable parts carry data: %+v", o)
	}
}

func TestRechargeLoop(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	clock := now
	f.SetClock(func() time.Time { return clock })
	f.SetGrants(pollertest.OpenAIGrant{ID: "cg_trial", Amount: "5", Used: "1", EffectiveAt: day(1), ExpiresAt: day(1).AddDate(0, 3, 0)})
	f.RechargeLoop("10.00")
	c := newClient(t, f, true, 0)
	var counts []int
	for i := range 4 {
		clock = now.Add(time.Duration(i) * time.Hour)
		o, err := c.Fetch(context.Background(), clock)
		if err != nil {
			t.Fatal(err)
		}
		purchased := 0
		for _, g := range o.Grants {
			if g.Kind == billing.GrantPurchased {
				purchased++
			}
		}
		counts = append(counts, purchased)
	}
	if got := counts; got[0] != 0 || got[1] != 1 || got[2] != 2 || got[3] != 3 {
		t.Errorf("purchased grants per poll: got %v, want [0 1 2 3]", got)
	}
}

// TestFetchSkipsCostResultWithoutAmount: a cost result without an amount is
// logged and skipped; the costs part is still read.
func TestFetchSkipsCostResultWithoutAmount(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetClock(func() time.Time { return now })
	f.SetCost(now, "1.50")
	f.SetResultsWithoutAmount(now, 1)
	core, logs := observer.New(zap.DebugLevel)
	c := newClient(t, f, false, 0)
	c.SetLogger(zap.New(core))
	o, err := c.Fetch(context.Background(), now)
	if err != nil || !o.Has(billing.PartCosts) {
		t.Fatalf("Fetch: got %+v, %v; want the costs read", o.Parts, err)
	}
	if last := o.Costs[len(o.Costs)-1]; !last.Start.Equal(day(14)) || last.Amount.Exact() != "1.5" {
		t.Errorf("today's bucket: got %+v, want 1.50 USD", last)
	}
	skipped := logs.FilterMessage("openai cost result without amount skipped").All()
	if len(skipped) != 1 || skipped[0].Level != zap.WarnLevel {
		t.Fatalf("log: got %v, want one warning", logs.All())
	}
	if got := skipped[0].ContextMap()["results"]; !reflect.DeepEqual(got, []any{"data[7].results[1]"}) {
		t.Errorf("skipped results logged: got %v, want today's second result", got)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without an admin key: no error")
	}
	if _, err := New(Options{AdminKey: secret.New("sk-admin-x"), BaseURL: "not a url"}); err == nil {
		t.Error("New with a bad base URL: no error")
	}
	c, err := New(Options{AdminKey: secret.New("sk-admin-x")})
	if err != nil || c.http.Source(CostsPath) != "openai:GET /v1/organization/costs" {
		t.Errorf("New with defaults: got %v", err)
	}
}

func FuzzDecodeCosts(f *testing.F) {
	f.Add([]byte(specCosts))
	f.Add([]byte(groupedCosts))
	f.Add([]byte(`{"data": [{"start_time": 1730419200.5, "end_time": 1730505600, "results": [{"amount": {"value": "1e3", "currency": "USD"}}]}]}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		bs, next, skipped, err := decodeCosts(body)
		if err != nil {
			if bs != nil || next != "" || skipped != nil {
				t.Fatalf("error %v with results %+v %q", err, bs, next)
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

func FuzzDecodeGrants(f *testing.F) {
	f.Add([]byte(specGrants))
	f.Add([]byte(emptyGrants))
	f.Add([]byte(strings.ReplaceAll(specGrants, "1680307200", "1680307200.0")))
	f.Fuzz(func(t *testing.T, body []byte) {
		bal, gs, err := decodeGrants(body)
		if err != nil {
			if gs != nil || !bal.Shown.IsZero() {
				t.Fatalf("error %v with results %+v %+v", err, bal, gs)
			}
			return
		}
		if bal.Shown.Currency() != "USD" {
			t.Fatalf("balance currency: %q", bal.Shown.Currency())
		}
		ids := make(map[string]bool)
		for _, g := range gs {
			if g.ID == "" || ids[g.ID] || g.Amount.IsNegative() || g.Used.IsNegative() ||
				(!g.ExpiresAt.IsZero() && !g.ExpiresAt.After(g.EffectiveAt)) || g.KindGuess == "" {
				t.Fatalf("bad grant accepted: %+v", g)
			}
			if g.Amount.Amount().Cmp(decimal.Zero) < 0 {
				t.Fatalf("negative grant")
			}
			ids[g.ID] = true
		}
	})
}
