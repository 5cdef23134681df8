package openai

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/probe"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// probeConfig is an openai source at the fake with these keys, as the
// config would build it.
func probeConfig(f *pollertest.OpenAI, admin, session string) *Config {
	c := Defaults()
	c.BaseURL = setting.URLOf(f.URL())
	c.AdminKey.Value = secret.New(admin)
	if session != "" {
		c.SessionKey.Value = secret.New(session)
	}
	return c
}

// TestProbe tries the keys of an openai source once each against the fake
// and checks what is said of each: which kind it is, what it reads, and
// for a key the API refuses, the provider's reason and the fix.
func TestProbe(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetClock(func() time.Time { return now })
	f.SetGrants(pollertest.PurchaseGrant("cg_1", "10.00", now))
	projectKey := "sk-proj-Pr0jectKeyTail0123"
	staleSession := "sess-St4leSessionTail4567"
	legacyKey := "sk-L3gacyKeyTail8901"
	tests := []struct {
		name           string
		admin, session string
		// want is each key's line, as probe.Result.String renders it,
		// cut at its first "→"; fix is in the fix of each (in order).
		want []string
		fix  []string
	}{
		{"good keys", f.AdminKey, f.SessionKey,
			[]string{"admin key ok: reads the daily costs", "session key ok: reads the credit grants (1) and the balance"}, []string{"", ""}},
		{"admin key only", f.AdminKey, "",
			[]string{"admin key ok: reads the daily costs", "session key not tried: none configured, so no credit grants and no balance"}, []string{"", ""}},
		{"project key as admin key", projectKey, f.SessionKey,
			[]string{"admin key rejected: HTTP 401 'Incorrect API key provided: <key>", "session key ok"}, []string{"admin key (sk-admin-…)", ""}},
		{"API key as session key", f.AdminKey, legacyKey,
			[]string{"admin key ok", "session key rejected: HTTP 403 'must be made with a session key': the key is an API key (sk-…)"}, []string{"", "Authorization header"}},
		{"session key signed out", f.AdminKey, staleSession,
			[]string{"admin key ok", "session key rejected: HTTP 401 'Invalid authorization header'"}, []string{"", "stops working when its browser session ends"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.Requests())
			rs := probeConfig(f, tc.admin, tc.session).Probe(context.Background(), billing.Account{Name: "a"}, now)
			if len(rs) != len(tc.want) {
				t.Fatalf("got %d results %v, want %d", len(rs), rs, len(tc.want))
			}
			for i, r := range rs {
				if got := r.String(); !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("result %d: got %q, want it to start %q", i, got, tc.want[i])
				}
				if !strings.Contains(r.Fix, tc.fix[i]) || (tc.fix[i] == "") != (r.Fix == "") {
					t.Errorf("result %d fix: got %q, want one with %q", i, r.Fix, tc.fix[i])
				}
				for _, key := range []string{tc.admin, tc.session, projectKey, staleSession, legacyKey} {
					if key != "" && strings.Contains(r.String(), key[len(key)-8:]) {
						t.Errorf("result %d shows a key: %q", i, r.String())
					}
				}
			}
			// One request per key, and the costs asked for today only.
			reqs := f.Requests()[before:]
			if wantN := 1 + min(len(tc.session), 1); len(reqs) != wantN {
				t.Errorf("requests: got %d, want %d (one per key)", len(reqs), wantN)
			}
			day := now.Truncate(24 * time.Hour).Unix()
			if q := reqs[0].Query; reqs[0].Path != CostsPath || q.Get("start_time") != strconv.FormatInt(day, 10) || q.Get("limit") != "1" {
				t.Errorf("first request: got %s %v, want the costs of today (start_time %d, limit 1)", reqs[0].Path, q, day)
			}
		})
	}
}

// TestProbeFailures: a provider that fails or is not there is tried once,
// never retried, and said to be so; an answer that is not the API's says to
// check base_url.
func TestProbeFailures(t *testing.T) {
	for _, tc := range []struct {
		fault   pollertest.Fault
		outcome probe.Outcome
		detail  string
	}{
		{pollertest.ServerError, probe.Unreachable, "HTTP 500 'The server had an error"},
		{pollertest.RateLimited, probe.Unreachable, "HTTP 429"},
		{pollertest.HTML, probe.Unexpected, "HTML page"},
		{pollertest.Garbage, probe.Unexpected, "invalid response"},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			f := pollertest.NewOpenAI(t)
			f.SetFault(tc.fault)
			rs := probeConfig(f, f.AdminKey, f.SessionKey).Probe(context.Background(), billing.Account{}, now)
			for i, r := range rs {
				if r.Outcome != tc.outcome || !strings.Contains(r.Detail, tc.detail) || !r.Failed() {
					t.Errorf("result %d: got %v (%q), want %v with %q", i, r.Outcome, r.Detail, tc.outcome, tc.detail)
				}
			}
			if n := len(f.Requests()); n != 2 {
				t.Errorf("requests: got %d, want 2 (one per key, no retry)", n)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := pollertest.NewOpenAI(t)
		c := probeConfig(f, f.AdminKey, f.SessionKey)
		f.Close()
		for i, r := range c.Probe(context.Background(), billing.Account{}, now) {
			if r.Outcome != probe.Unreachable || !strings.Contains(r.Detail, "connection refused") {
				t.Errorf("result %d: got %v %q, want unreachable, connection refused", i, r.Outcome, r.Detail)
			}
		}
	})
}
