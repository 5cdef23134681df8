package sourcetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/probe"
)

// ProbeSubject is a source's configuration under test, pointed at a
// healthy fake holding its keys, and the controls of the fake.
type ProbeSubject struct {
	Config  poller.Prober
	Account billing.Account
	Now     time.Time
	// Keys is how many keys the configuration holds: one try each.
	Keys int
	// Fault makes the fake misbehave with f until changed; Close stops it.
	Fault func(f pollertest.Fault)
	Close func()
	// Requests counts the requests the fake received.
	Requests func() int
	Secrets  []string
}

// RunProbe runs the contract of poller.Prober: one result per key, one
// request per key, never retried; what a working key reads; a refused key
// rejected with the provider's reason and a fix; no answer unreachable; an
// answer that is not the API's unexpected; and no credential in any of it.
func RunProbe(t *testing.T, newSubject func(t *testing.T) ProbeSubject) {
	cases := []struct {
		name   string
		break_ func(s ProbeSubject)
		want   probe.Outcome
		// detail is in each result's Detail; fix says a fix is given.
		detail string
		fix    bool
	}{
		{"working keys", func(ProbeSubject) {}, probe.OK, "", false},
		{"refused keys", func(s ProbeSubject) { s.Fault(pollertest.Unauthorized) }, probe.Rejected, "HTTP 401 '", true},
		{"server error", func(s ProbeSubject) { s.Fault(pollertest.ServerError) }, probe.Unreachable, "HTTP 500", false},
		{"not the API", func(s ProbeSubject) { s.Fault(pollertest.Garbage) }, probe.Unexpected, "invalid response", true},
		{"nothing there", func(s ProbeSubject) { s.Close() }, probe.Unreachable, "connection refused", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSubject(t)
			tc.break_(s)
			before := s.Requests()
			rs := s.Config.Probe(context.Background(), s.Account, s.Now)
			if len(rs) != s.Keys {
				t.Fatalf("got %d results %v, want one per key (%d)", len(rs), rs, s.Keys)
			}
			if tc.name != "nothing there" {
				if n := s.Requests() - before; n != s.Keys {
					t.Errorf("requests: got %d, want one per key (%d), never retried", n, s.Keys)
				}
			}
			for i, r := range rs {
				switch {
				case r.Outcome != tc.want:
					t.Errorf("result %d: got %v (%s), want %v", i, r.Outcome, r, tc.want)
				case tc.want == probe.OK && (r.Reads == "" || r.Failed()):
					t.Errorf("result %d: got %q, want what the key reads", i, r)
				case !strings.Contains(r.Detail, tc.detail):
					t.Errorf("result %d detail: got %q, want it to hold %q", i, r.Detail, tc.detail)
				case tc.fix != (r.Fix != ""):
					t.Errorf("result %d fix: got %q, want one: %v", i, r.Fix, tc.fix)
				case r.Credential == "":
					t.Errorf("result %d names no credential", i)
				}
				for _, k := range s.Secrets {
					if k != "" && strings.Contains(r.String(), k[len(k)-8:]) {
						t.Errorf("result %d shows a credential: %s", i, r)
					}
				}
			}
		})
	}
}
