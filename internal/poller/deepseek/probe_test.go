package deepseek

import (
	"context"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/probe"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// TestProbeCurrency: a key that works for an account in a currency DeepSeek
// holds no balance in is rejected, saying which currencies it holds.
func TestProbeCurrency(t *testing.T) {
	f := pollertest.NewDeepSeek(t) // CNY only
	c := Defaults()
	c.BaseURL, c.APIKey.Value = setting.URLOf(f.URL()), secret.New(f.APIKey)
	for _, tc := range []struct {
		cur  billing.Currency
		want probe.Outcome
		text string
	}{
		{"CNY", probe.OK, "api key ok: reads the balance, granted and topped up: "},
		{"USD", probe.Rejected, "api key rejected: the key works, but configuration problem: the account has no balance in USD, only in CNY"},
	} {
		rs := c.Probe(context.Background(), billing.Account{Name: "acme", Currency: tc.cur}, now)
		if len(rs) != 1 || rs[0].Outcome != tc.want || !strings.HasPrefix(rs[0].String(), tc.text) {
			t.Errorf("%s: got %v, want %v starting %q", tc.cur, rs, tc.want, tc.text)
		}
	}
}
