package anthropic

import (
	"strings"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the anthropic source type.
var Kind = poller.Kind{Name: "anthropic", Provider: "Anthropic", Currencies: []billing.Currency{"USD"}, BillingPage: BillingPage, Receipts: true,
	Config: func() poller.Config { return Defaults() }}

// Config is an anthropic source's block of the configuration.
type Config struct {
	poller.API `yaml:",inline"`
	// AdminKey reads the cost report.
	AdminKey setting.Secret `yaml:"admin_key"`
	// CostLookback is how far back the first poll reads costs.
	CostLookback setting.Duration `yaml:"cost_lookback"`
}

// adminKeyWhat says what the admin key must be, and where to get it.
const (
	adminKeyWhat = "an Anthropic Admin API key (sk-ant-admin…), which reads the cost report; " + adminHowTo
	adminHowTo   = "an organization admin creates one in the Console under Settings, Admin keys"
)

// Defaults returns an anthropic source's defaults.
func Defaults() *Config {
	return &Config{
		API:          poller.NewAPI(DefaultBaseURL),
		AdminKey:     setting.Secret{Spec: poller.KeySpec(adminKeyWhat, adminKeyShape)},
		CostLookback: setting.DurationOf(poller.DefaultCostLookback),
	}
}

// adminKeyShape tells an Admin API key (sk-ant-admin…, providers.md §3.1)
// from another provider key (sk-…). A key of no known shape (a relay's) is
// left to the API to judge.
func adminKeyShape(key string) string {
	if !strings.HasPrefix(key, "sk-") || strings.HasPrefix(key, "sk-ant-admin") {
		return ""
	}
	what := "an API key (sk-…)"
	if strings.HasPrefix(key, "sk-ant-") {
		what = "an Anthropic API key (sk-ant-…)"
	}
	return what + ", not an Admin API key (sk-ant-admin…), the only key the cost report accepts: " + adminHowTo
}

// Validate implements poller.Config.
func (c *Config) Validate(p *setting.Problems) {
	c.API.Validate(p)
	c.AdminKey.Need(p, "an anthropic source", "admin_key")
}

// Open implements poller.Config.
func (c *Config) Open(billing.Account) (poller.Source, error) {
	return poller.Opened(c.client(httpx.Options{}))
}

// client makes the source's client with o, completed by the settings.
func (c *Config) client(o httpx.Options) (*Client, error) {
	o.Timeout, o.MaxRequests = c.Timeout.Duration, c.MaxRequests.N
	return New(Options{BaseURL: c.BaseURL.S, AdminKey: c.AdminKey.Value, Lookback: c.CostLookback.Duration, HTTP: o})
}

// Describe implements poller.Config.
func (c *Config) Describe() string {
	return c.API.Describe("anthropic", poller.KeyFrom("admin key", c.AdminKey))
}

// Sight implements poller.Config: costs only.
func (c *Config) Sight() billing.Sight {
	s := billing.Sight{Costs: true}
	s.Not("charges", "Anthropic's API lists none")
	s.Not("balance", "Anthropic's API shows none")
	s.Not("grants", "Anthropic's API lists none")
	return s
}
