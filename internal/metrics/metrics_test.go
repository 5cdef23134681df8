package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/shopspring/decimal"
)

func money(s string, c billing.Currency) billing.Money {
	return billing.NewMoney(decimal.RequireFromString(s), c)
}

// report is one cycle over a USD account and a CNY one.
func report(deepseekCurrency billing.Currency) guard.Report {
	at := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	state := func(c billing.Currency, effective, shown, perDay string) billing.AccountState {
		return billing.AccountState{
			Effective: money(effective, c), EffectiveKnown: true, Shown: money(shown, c), ShownKnown: true,
			Runway: billing.Runway{Known: true, BurnPerDay: money(perDay, c), Lasts: 36 * time.Hour},
		}
	}
	return guard.Report{
		At: at,
		Accounts: map[string]guard.AccountReport{
			"acme-openai":   {OK: true, Took: time.Second, Recharges24h: 3, ExpiringSoon: money("18.00", "USD")},
			"acme-deepseek": {OK: true, Took: time.Second, ExpiringSoon: money("0", deepseekCurrency)},
		},
		States: map[string]billing.AccountState{
			"acme-openai":   state("USD", "3.93", "69.00", "8.64"),
			"acme-deepseek": state(deepseekCurrency, "110.00", "110.00", "43.20"),
		},
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Result().Body)
	return string(b)
}

// TestMoneyCarriesItsCurrency: every series of money names its currency,
// and its help says the unit; a USD and a CNY balance are two series, and
// an account whose currency changes keeps only the new one.
func TestMoneyCarriesItsCurrency(t *testing.T) {
	m := New(Build{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.0"})
	m.Observe(report("CNY"))
	page := scrape(t, m)
	for _, want := range []string{
		`guardd_effective_balance{account="acme-openai",currency="USD"} 3.93`,
		`guardd_effective_balance{account="acme-deepseek",currency="CNY"} 110`,
		`guardd_shown_balance{account="acme-openai",currency="USD"} 69`,
		`guardd_shown_balance{account="acme-deepseek",currency="CNY"} 110`,
		`guardd_burn_per_second{account="acme-openai",currency="USD"} 0.0001`,
		`guardd_burn_per_second{account="acme-deepseek",currency="CNY"} 0.0005`,
		`guardd_grant_credit_expiring_soon{account="acme-openai",currency="USD"} 18`,
		`guardd_recent_recharges{account="acme-openai"} 3`,
		`guardd_runway_seconds{account="acme-openai"} 129600`,
		`guardd_build_info{goversion="go1.26.0",revision="abc123",version="v1.2.3"} 1`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	moneyNames := map[string]bool{"guardd_effective_balance": true, "guardd_shown_balance": true,
		"guardd_burn_per_second": true, "guardd_grant_credit_expiring_soon": true}
	seen := 0
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "guardd_") {
			continue
		}
		if moneyNames[name] {
			seen++
			if !strings.Contains(mf.GetHelp(), "currency label") {
				t.Errorf("%s help %q: want the unit, the currency label's", name, mf.GetHelp())
			}
		}
		for _, s := range mf.GetMetric() {
			if moneyNames[name] != hasLabel(s, "currency") {
				t.Errorf("%s %v: currency label %t, want %t (money carries its currency, nothing else does)",
					name, s.GetLabel(), hasLabel(s, "currency"), moneyNames[name])
			}
		}
		if strings.HasSuffix(name, "_seconds") && !strings.Contains(mf.GetHelp(), "econds") {
			t.Errorf("%s help %q: want the unit, seconds", name, mf.GetHelp())
		}
	}
	if seen != len(moneyNames) {
		t.Errorf("money metrics: saw %d of %d", seen, len(moneyNames))
	}

	// The DeepSeek account now bills in USD: its CNY series go.
	m.Observe(report("USD"))
	page = scrape(t, m)
	if strings.Contains(page, `account="acme-deepseek",currency="CNY"`) {
		t.Errorf("a CNY series of acme-deepseek is left after its currency became USD:\n%s", page)
	}
	if !strings.Contains(page, `guardd_effective_balance{account="acme-deepseek",currency="USD"} 110`) {
		t.Errorf("no USD balance of acme-deepseek")
	}
}

func hasLabel(m *dto.Metric, name string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() != "" {
			return true
		}
	}
	return false
}

// TestLint holds the page to Prometheus's naming rules (what `promtool
// check metrics` checks): base units, _total counters, help on every metric.
func TestLint(t *testing.T) {
	m := New(Build{Version: "dev"})
	m.Observe(report("CNY"))
	problems, err := promlint.New(strings.NewReader(scrape(t, m))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// Families lists guardd's own metrics before any cycle, with their types.
func TestFamilies(t *testing.T) {
	fs, err := New(Build{Version: "dev"}).Families()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]string)
	for _, f := range fs {
		got[f.Name] = f.Type
	}
	for name, typ := range map[string]string{
		"guardd_effective_balance": "gauge", "guardd_runway_seconds": "gauge", "guardd_poll_errors_total": "counter",
		"guardd_poll_duration_seconds": "histogram", "guardd_build_info": "gauge", "go_goroutines": "gauge",
	} {
		if got[name] != typ {
			t.Errorf("%s: got type %q, want %q", name, got[name], typ)
		}
	}
}

// TestObserveDelivery: a drain's counts add to the delivery counters, which
// a cycle's polls leave alone (guardd run delivers apart from polling).
func TestObserveDelivery(t *testing.T) {
	m := New(Build{Version: "dev"})
	m.ObserveDelivery(lifecycle.DrainResult{Sent: 3, Failed: 2, GaveUp: 1})
	m.Observe(report("CNY"))
	m.ObserveDelivery(lifecycle.DrainResult{Sent: 4})
	page := scrape(t, m)
	for _, want := range []string{
		"guardd_notifications_delivered_total 7",
		"guardd_notifications_failed_total 2",
		"guardd_notifications_given_up_total 1",
		"guardd_cycles_total 1",
	} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("metrics page lacks %q", want)
		}
	}
}
