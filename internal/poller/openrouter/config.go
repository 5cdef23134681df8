package openrouter

import (
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the openrouter source type.
var Kind = poller.Kind{Name: "openrouter", Provider: "OpenRouter", Currencies: []billing.Currency{"USD"}, BillingPage: BillingPage, Receipts: true,
	Config: func() poller.Config { return Defaults() }}

// Config is an openrouter source's block of the configuration.
type Config struct {
	poller.API `yaml:",inline"`
	// ManagementKey reads the credits.
	ManagementKey setting.Secret `yaml:"management_key"`
}

// managementKeyWhat says what the management key must be, and where to get
// it.
const managementKeyWhat = "an OpenRouter management key (sk-or-v1-…), which reads the credits; " +
	"create one in OpenRouter's settings under Management keys"

// Defaults returns an openrouter source's defaults.
func Defaults() *Config {
	return &Config{
		API:           poller.NewAPI(DefaultBaseURL),
		ManagementKey: setting.Secret{Spec: poller.KeySpec(managementKeyWhat, nil)},
	}
}

// Validate implements poller.Config.
func (c *Config) Validate(p *setting.Problems) {
	c.API.Validate(p)
	c.ManagementKey.Need(p, "an openrouter source", "management_key")
}

// Open implements poller.Config.
func (c *Config) Open(billing.Account) (poller.Source, error) {
	return poller.Opened(c.client(httpx.Options{}))
}

// client makes the source's client with o, completed by the settings.
func (c *Config) client(o httpx.Options) (*Client, error) {
	o.Timeout, o.MaxRequests = c.Timeout.Duration, c.MaxRequests.N
	return New(Options{BaseURL: c.BaseURL.S, ManagementKey: c.ManagementKey.Value, HTTP: o})
}

// Describe implements poller.Config.
func (c *Config) Describe() string {
	return c.API.Describe("openrouter", poller.KeyFrom("management key", c.ManagementKey))
}

// Sight implements poller.Config: the credits; purchases inferred from rises
// in the credits bought.
func (c *Config) Sight() billing.Sight {
	s := billing.Sight{Balance: true, Recharges: true}
	s.Not("costs", "OpenRouter's credits endpoint reports none")
	s.Not("charges", "OpenRouter's API lists none")
	s.Not("grants", "OpenRouter has none")
	return s
}
