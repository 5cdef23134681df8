package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/rules"
)

// TestSight: what guardd says it can see of each kind of account, and which
// rules that leaves live.
func TestSight(t *testing.T) {
	account := func(name, provider, source, extra string) string {
		return "  - {name: " + name + ", provider: " + provider + ", currency: USD, drawdown: expiring-first, auto_recharge: {enabled: false}" +
			extra + ", source: " + source + "}\n"
	}
	text := "accounts:\n" +
		account("oa-admin", "openai", "{type: openai, admin_key_env: K}", "") +
		account("oa-anchored", "openai", "{type: openai, admin_key_env: K}", `, balance_anchor: {amount: "40", at: "2026-11-30T10:00:00Z"}`) +
		account("oa-session", "openai", "{type: openai, admin_key_env: K, session_key_env: S}", "") +
		account("an-anchored", "anthropic", "{type: anthropic, admin_key_env: A}", `, balance_anchor: {amount: "40", at: "2026-11-30T10:00:00Z"}`) +
		account("or", "openrouter", "{type: openrouter, management_key_env: O}", "")
	c := mustLoad(t, text, map[string]string{"K": "sk-admin-k", "A": "sk-ant-admin01-k", "O": "sk-or-v1-k", "S": "sess-s"})
	e := rules.New(c.Params)
	tests := []struct {
		sight    string
		live     []string
		off      []string
		accounts string
	}{
		{"costs ✓ charges ✗ (OpenAI's API lists none) balance ✗ (no session key; set balance_anchor to derive one) grants ✗ (no session key)",
			[]string{"source-blind"}, []string{"recharge-burst", "runway-low", "phantom-balance", "spend-without-usage"}, "oa-admin"},
		{"costs ✓ charges ✗ (OpenAI's API lists none) balance derived grants ✗ (no session key)",
			[]string{"runway-low", "spend-without-usage"}, []string{"phantom-balance", "drawdown-order"}, "oa-anchored"},
		{"costs ✓ charges inferred balance ✓ grants ✓",
			[]string{"recharge-burst", "phantom-balance", "drawdown-order", "runway-low"}, []string{"charge-without-credit"}, "oa-session"},
		{"costs ✓ charges ✗ (Anthropic's API lists none) balance derived grants ✗ (Anthropic's API lists none)",
			[]string{"runway-low"}, []string{"phantom-balance", "drawdown-order", "recharge-burst"}, "an-anchored"},
		{"costs ✗ (OpenRouter's credits endpoint reports none) charges inferred balance ✓ grants ✗ (OpenRouter has none)",
			[]string{"recharge-burst", "runway-low", "credits-accumulating"}, []string{"phantom-balance", "spend-without-usage"}, "or"},
	}
	for i, tc := range tests {
		a := c.Accounts[i]
		if a.Name != tc.accounts {
			t.Fatalf("account %d: got %s, want %s", i, a.Name, tc.accounts)
		}
		if got := a.Sight().String(); got != tc.sight {
			t.Errorf("%s sees:\ngot  %s\nwant %s", a.Name, got, tc.sight)
		}
		live, off := e.Live(a.Sight())
		for _, r := range tc.live {
			if !slices.Contains(live, r) {
				t.Errorf("%s: %s is off (%s), want it live", a.Name, r, strings.Join(off, ", "))
			}
		}
		for _, r := range tc.off {
			if !slices.Contains(off, r) {
				t.Errorf("%s: %s is live, want it off", a.Name, r)
			}
		}
	}
}
