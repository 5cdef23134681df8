package pollertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// AnthropicCostPath is the Admin API cost report.
const AnthropicCostPath = "/v1/organizations/cost_report"

// AnthropicVersion is the anthropic-version header the fake requires.
const AnthropicVersion = "2023-06-01"

// Anthropic fakes the Admin API cost report (x-api-key admin key).
type Anthropic struct {
	*server
	// AdminKey is the admin key accepted ("sk-ant-admin01-…").
	AdminKey string

	mu    sync.Mutex
	costs map[time.Time][]string
}

// NewAnthropic starts a fake Anthropic with no costs.
func NewAnthropic(t testing.TB) *Anthropic {
	f := &Anthropic{AdminKey: newKey("sk-ant-admin01-"), costs: make(map[time.Time][]string)}
	f.server = newServer(t, anthropicError, route{path: AnthropicCostPath, auth: f.auth, answer: f.answer})
	return f
}

func anthropicError(code int, msg string) string {
	typ := "invalid_request_error"
	switch {
	case code == http.StatusUnauthorized:
		typ = "authentication_error"
	case code == http.StatusForbidden:
		typ = "permission_error"
	case code == http.StatusNotFound:
		typ = "not_found_error"
	case code == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case code >= 500:
		typ = "api_error"
	}
	m, _ := json.Marshal(msg)
	return fmt.Sprintf(`{"type": "error", "error": {"type": %q, "message": %s}}`, typ, m)
}

func (f *Anthropic) auth(r *http.Request) (int, string) {
	switch {
	case r.Header.Get("x-api-key") != f.AdminKey:
		return http.StatusUnauthorized, "invalid x-api-key"
	case r.Header.Get("anthropic-version") != AnthropicVersion:
		return http.StatusBadRequest, "anthropic-version: header is required and must be a supported version"
	}
	return 0, ""
}

// SetCost sets the spend of the UTC day holding day, in cents as decimal
// text, one result per amount (as grouping by workspace lists them); none
// clears the day.
func (f *Anthropic) SetCost(day0 time.Time, cents ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(cents) == 0 {
		delete(f.costs, day(day0))
		return
	}
	f.costs[day(day0)] = cents
}

func (f *Anthropic) answer(r *http.Request) (int, string) {
	q := r.URL.Query()
	bad := func(msg string) (int, string) {
		return http.StatusBadRequest, anthropicError(http.StatusBadRequest, msg)
	}
	start, err := time.Parse(time.RFC3339, q.Get("starting_at"))
	if err != nil {
		return bad("starting_at: required, an RFC 3339 timestamp")
	}
	bound := f.now()
	if e := q.Get("ending_at"); e != "" {
		if bound, err = time.Parse(time.RFC3339, e); err != nil {
			return bad("ending_at: an RFC 3339 timestamp")
		}
	}
	if bw := q.Get("bucket_width"); bw != "" && bw != "1d" {
		return bad("bucket_width: only 1d is supported")
	}
	limit, err := limitParam(q.Get("limit"), 7, 31)
	if err != nil {
		return bad(err.Error())
	}
	days, next, err := daysPage(start, bound, limit, q.Get("page"))
	if err != nil {
		return bad(err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	b.WriteString(`{"data": [`)
	for i, d := range days {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"starting_at": %q, "ending_at": %q, "results": [`, d.Format(time.RFC3339), d.Add(24*time.Hour).Format(time.RFC3339))
		for j, c := range f.costs[d] {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, `{"currency": "USD", "amount": %q, "workspace_id": %s, "description": null, "cost_type": null, "context_window": null, "model": null, "service_tier": null, "token_type": null, "inference_geo": null}`,
				c, workspace(j))
		}
		b.WriteString("]}")
	}
	if next == "" {
		b.WriteString(`], "has_more": false, "next_page": null}`)
	} else {
		fmt.Fprintf(&b, `], "has_more": true, "next_page": %q}`, next)
	}
	return http.StatusOK, b.String()
}

func workspace(i int) string {
	if i == 0 {
		return "null"
	}
	return fmt.Sprintf(`"wrkspc_%02d"`, i)
}
