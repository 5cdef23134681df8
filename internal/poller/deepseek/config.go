package deepseek

import (
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the deepseek source type. DeepSeek reports balances in CNY or
// USD, whichever the account holds (providers.md §4.1).
var Kind = poller.Kind{Name: "deepseek", Provider: "DeepSeek", Currencies: []billing.Currency{"CNY", "USD"}, BillingPage: BillingPage,
	Config: func() poller.Config { return Defaults() }}

// Config is a deepseek source's block of the configuration.
type Config struct {
	poller.API `yaml:",inline"`
	// APIKey reads the balance.
	APIKey setting.Secret `yaml:"api_key"`
}

// apiKeyWhat says what the API key must be, and where to get it.
const apiKeyWhat = "a DeepSeek API key (sk-…), which reads the balance; create one on platform.deepseek.com under API keys"

// Defaults returns a deepseek source's defaults.
func Defaults() *Config {
	return &Config{
		API:    poller.NewAPI(DefaultBaseURL),
		APIKey: setting.Secret{Spec: poller.KeySpec(apiKeyWhat, nil)},
	}
}

// Validate implements poller.Config.
func (c *Config) Validate(p *setting.Problems) {
	c.API.Validate(p)
	c.APIKey.Need(p, "a deepseek source", "api_key")
}

// Open implements poller.Config.
func (c *Config) Open(a billing.Account) (poller.Source, error) {
	return poller.Opened(c.client(a, httpx.Options{}))
}

// client makes account a's client with o, completed by the settings.
func (c *Config) client(a billing.Account, o httpx.Options) (*Client, error) {
	o.Timeout, o.MaxRequests = c.Timeout.Duration, c.MaxRequests.N
	return New(Options{BaseURL: c.BaseURL.S, APIKey: c.APIKey.Value, Currency: a.Currency, HTTP: o})
}

// Describe implements poller.Config.
func (c *Config) Describe() string {
	return c.API.Describe("deepseek", poller.KeyFrom("api key", c.APIKey))
}

// Sight implements poller.Config: the balance, granted and paid apart;
// recharges from rises in the paid balance.
func (c *Config) Sight() billing.Sight {
	s := billing.Sight{Balance: true, Split: true, Recharges: true}
	s.Not("costs", "DeepSeek's API reports none")
	s.Not("charges", "DeepSeek's API lists none")
	s.Not("grants", "DeepSeek's API lists none")
	return s
}
