package pollertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// OpenAI's paths.
const (
	OpenAICostsPath  = "/v1/organization/costs"
	OpenAIGrantsPath = "/dashboard/billing/credit_grants"
)

// OpenAISessionKeyMessage is the 403 OpenAI gives when the credit grants
// endpoint is called with a secret key (verbatim from providers.md §2.1).
const OpenAISessionKeyMessage = `{"error": {"message": "Your request to GET /dashboard/billing/credit_grants must be made with a session key (that is, it can only be made from the browser). You made it with the following key type: secret.", "type": "server_error", "param": null, "code": null}}`

// OpenAI fakes the official Costs API (admin key) and the dashboard credit
// grants endpoint (browser session key).
type OpenAI struct {
	*server
	// AdminKey is the admin key the costs API accepts ("sk-admin-…").
	AdminKey string
	// SessionKey is the session key the credit grants endpoint accepts
	// ("sess-…"); any "sk-" key gets the session-key 403.
	SessionKey string

	mu             sync.Mutex
	costs          map[time.Time]string
	noAmount       map[time.Time]int
	grants         []OpenAIGrant
	totalAvailable string
	floatTimes     bool
}

// OpenAIGrant is one credit grant. Amounts are dollars as decimal text.
type OpenAIGrant struct {
	ID          string
	Amount      string
	Used        string
	EffectiveAt time.Time
	// ExpiresAt zero is written as null.
	ExpiresAt time.Time
}

// PurchaseGrant returns a grant as OpenAI lists a purchase of amount made at
// boughtAt: back-dated to the last second of the previous month, expiring a
// year later, unused.
func PurchaseGrant(id, amount string, boughtAt time.Time) OpenAIGrant {
	y, m, _ := boughtAt.UTC().Date()
	eff := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
	return OpenAIGrant{ID: id, Amount: amount, Used: "0", EffectiveAt: eff, ExpiresAt: eff.AddDate(1, 0, 0)}
}

// NewOpenAI starts a fake OpenAI with no costs and no grants.
func NewOpenAI(t testing.TB) *OpenAI {
	f := &OpenAI{
		AdminKey:   newKey("sk-admin-"),
		SessionKey: newKey("sess-"),
		costs:      make(map[time.Time]string),
		noAmount:   make(map[time.Time]int),
	}
	f.server = newServer(t, openAIError,
		route{path: OpenAICostsPath, auth: f.adminAuth, answer: f.answerCosts},
		route{path: OpenAIGrantsPath, auth: f.sessionAuth, answer: f.answerGrants, forbidden: OpenAISessionKeyMessage},
	)
	return f
}

func openAIError(code int, msg string) string {
	typ, c := "invalid_request_error", "null"
	switch {
	case code == http.StatusUnauthorized:
		c = `"invalid_api_key"`
	case code == http.StatusTooManyRequests:
		typ, c = "rate_limit_exceeded", `"rate_limit_exceeded"`
	case code >= 500:
		typ = "server_error"
	}
	m, _ := json.Marshal(msg)
	return fmt.Sprintf(`{"error": {"message": %s, "type": %q, "param": null, "code": %s}}`, m, typ, c)
}

func (f *OpenAI) adminAuth(r *http.Request) (int, string) {
	switch k := bearer(r); {
	case k == f.AdminKey:
		return 0, ""
	case k == "":
		return http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	default:
		return http.StatusUnauthorized, "Incorrect API key provided: " + masked(k) + ". You can find your API key at https://platform.openai.com/account/api-keys."
	}
}

func (f *OpenAI) sessionAuth(r *http.Request) (int, string) {
	switch k := bearer(r); {
	case k == f.SessionKey:
		return 0, ""
	case strings.HasPrefix(k, "sk-"):
		return http.StatusForbidden, ""
	default:
		return http.StatusUnauthorized, "Invalid authorization header"
	}
}

// SetCost sets the dollars spent on the UTC day holding day ("0" or ""
// for none).
func (f *OpenAI) SetCost(day0 time.Time, dollars string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dollars == "" {
		delete(f.costs, day(day0))
		return
	}
	f.costs[day(day0)] = dollars
}

// SetResultsWithoutAmount lists n more results on the UTC day holding day
// with no amount (a line item and quantity only), as the spec allows.
func (f *OpenAI) SetResultsWithoutAmount(day0 time.Time, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noAmount[day(day0)] = n
}

// SetGrants replaces the grants.
func (f *OpenAI) SetGrants(gs ...OpenAIGrant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = append([]OpenAIGrant(nil), gs...)
}

// AddGrant appends a grant.
func (f *OpenAI) AddGrant(g OpenAIGrant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = append(f.grants, g)
}

// Grants returns the grants.
func (f *OpenAI) Grants() []OpenAIGrant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]OpenAIGrant(nil), f.grants...)
}

// SetTotalAvailable fixes total_available; "" (the default) computes it as
// OpenAI does, counting expired grants' remaining credit too.
func (f *OpenAI) SetTotalAvailable(dollars string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.totalAvailable = dollars
}

// SetFloatTimes writes effective_at and expires_at as floats
// (1800000000.0), as some captures show.
func (f *OpenAI) SetFloatTimes(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.floatTimes = on
}

// RechargeLoop makes auto-recharge fire at every poll: each credit grants
// request after the first adds a purchased grant of amount, as a hourly
// recharge loop looks when polled hourly.
func (f *OpenAI) RechargeLoop(amount string) {
	f.OnRequest(OpenAIGrantsPath, func(n int) {
		if n > 1 {
			f.AddGrant(PurchaseGrant(fmt.Sprintf("cg_loop_%02d", n-1), amount, f.now()))
		}
	})
}

func (f *OpenAI) answerCosts(r *http.Request) (int, string) {
	q := r.URL.Query()
	bad := func(param, msg string) (int, string) {
		return http.StatusBadRequest, fmt.Sprintf(`{"error": {"message": %q, "type": "invalid_request_error", "param": %q, "code": null}}`, msg, param)
	}
	st := q.Get("start_time")
	if st == "" {
		return bad("start_time", "Missing required parameter: 'start_time'.")
	}
	startUnix, err := strconv.ParseInt(st, 10, 64)
	if err != nil {
		return bad("start_time", "Invalid 'start_time': expected an integer.")
	}
	bound := f.now()
	if et := q.Get("end_time"); et != "" {
		endUnix, err := strconv.ParseInt(et, 10, 64)
		if err != nil {
			return bad("end_time", "Invalid 'end_time': expected an integer.")
		}
		bound = time.Unix(endUnix, 0).UTC()
	}
	if bw := q.Get("bucket_width"); bw != "" && bw != "1d" {
		return bad("bucket_width", "Invalid 'bucket_width': only 1d is supported.")
	}
	limit, err := limitParam(q.Get("limit"), 7, 180)
	if err != nil {
		return bad("limit", err.Error())
	}
	days, next, err := daysPage(time.Unix(startUnix, 0), bound, limit, q.Get("page"))
	if err != nil {
		return bad("page", err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	b.WriteString(`{"object": "page", "data": [`)
	for i, d := range days {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"object": "bucket", "start_time": %d, "end_time": %d, "results": [`, d.Unix(), d.Add(24*time.Hour).Unix())
		var results []string
		if amt, ok := f.costs[d]; ok {
			results = append(results, fmt.Sprintf(`{"object": "organization.costs.result", "amount": {"value": %s, "currency": "usd"}, "line_item": null, "project_id": null, "api_key_id": null, "quantity": null, "quantity_unit": null}`, amt))
		}
		for range f.noAmount[d] {
			results = append(results, `{"object": "organization.costs.result", "line_item": "gpt-4o-2024-08-06, input", "project_id": null, "api_key_id": null, "quantity": 1000, "quantity_unit": "tokens"}`)
		}
		b.WriteString(strings.Join(results, ", "))
		b.WriteString("]}")
	}
	if next == "" {
		b.WriteString(`], "has_more": false, "next_page": null}`)
	} else {
		fmt.Fprintf(&b, `], "has_more": true, "next_page": %q}`, next)
	}
	return http.StatusOK, b.String()
}

func (f *OpenAI) answerGrants(*http.Request) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	granted, used := decimal.Zero, decimal.Zero
	var items []string
	for _, g := range f.grants {
		granted = granted.Add(decimal.RequireFromString(g.Amount))
		used = used.Add(decimal.RequireFromString(g.Used))
		exp := "null"
		if !g.ExpiresAt.IsZero() {
			exp = f.unix(g.ExpiresAt)
		}
		items = append(items, fmt.Sprintf(`{"object": "credit_grant", "id": %q, "grant_amount": %s, "used_amount": %s, "effective_at": %s, "expires_at": %s}`,
			g.ID, g.Amount, g.Used, f.unix(g.EffectiveAt), exp))
	}
	avail := granted.Sub(used).String()
	if f.totalAvailable != "" {
		avail = f.totalAvailable
	}
	return http.StatusOK, fmt.Sprintf(`{"object": "credit_summary", "total_granted": %s, "total_used": %s, "total_available": %s, "grants": {"object": "list", "data": [%s]}}`,
		granted.String(), used.String(), avail, strings.Join(items, ", "))
}

func (f *OpenAI) unix(t time.Time) string {
	if f.floatTimes {
		return strconv.FormatInt(t.Unix(), 10) + ".0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}
