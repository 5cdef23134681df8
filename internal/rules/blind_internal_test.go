package rules

import "testing"

func TestFixIn(t *testing.T) {
	const otherwise = "See the reason."
	for _, tt := range []struct{ reason, want string }{
		{"GET /v1/x: http 503 Service Unavailable", otherwise},
		{"GET /v1/x: http 401 Unauthorized: bad key (the admin key (admin_key) was refused. Fix: give an admin key (sk-admin-…); ask the owner)",
			"Fix: give an admin key (sk-admin-…); ask the owner"},
		{"grants: configuration problem (Fix: sign in (it starts with sess-), or remove session_key)",
			"Fix: sign in (it starts with sess-), or remove session_key"},
		{"balance and grants: x (Fix: a (b)); costs: y (z. Fix: c); charges: w (Fix: a (b))",
			"Fix: a (b) Fix: c"},
		{"unclosed: Fix: do this", "Fix: do this"},
	} {
		if got := fixIn(tt.reason, otherwise); got != tt.want {
			t.Errorf("fixIn(%q) = %q, want %q", tt.reason, got, tt.want)
		}
	}
}
