package openai

import (
	"strings"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the openai source type.
var Kind = poller.Kind{Name: "openai", Provider: "OpenAI", Currencies: []billing.Currency{"USD"}, BillingPage: BillingPage, Receipts: true,
	Config: func() poller.Config { return Defaults() }}

// Config is an openai source's block of the configuration.
type Config struct {
	poller.API `yaml:",inline"`
	// AdminKey reads the Costs API.
	AdminKey setting.Secret `yaml:"admin_key"`
	// SessionKey, optional, reads the credit grants and the balance.
	SessionKey setting.Secret `yaml:"session_key"`
	// CostLookback is how far back the first poll reads costs.
	CostLookback setting.Duration `yaml:"cost_lookback"`
}

// What each key must be, and where to get it.
const (
	adminKeyWhat   = "an OpenAI admin key (sk-admin-…), which reads the Costs API; " + adminHowTo
	sessionKeyWhat = "a browser session key (sess-…), which reads the credit grants and the balance; " + sessionHowTo
	adminHowTo     = "an organization owner creates one in the organization settings under Admin keys"
	sessionHowTo   = "copy it from the Authorization header of a request to api.openai.com in the browser's network tab while signed in to platform.openai.com"
)

// Defaults returns an openai source's defaults.
func Defaults() *Config {
	return &Config{
		API:          poller.NewAPI(DefaultBaseURL),
		AdminKey:     setting.Secret{Spec: poller.KeySpec(adminKeyWhat, adminKeyShape)},
		SessionKey:   setting.Secret{Spec: poller.KeySpec(sessionKeyWhat, sessionKeyShape)},
		CostLookback: setting.DurationOf(poller.DefaultCostLookback),
	}
}

// adminKeyShape tells an admin key from the other kinds of OpenAI key by
// their documented prefixes (providers.md §1.1, §2.1): admin keys start
// sk-admin-, project and user keys sk-proj- or sk-, browser session keys
// sess-. A key of no known shape (a relay's) is left to the API to judge.
func adminKeyShape(key string) string {
	const not = "not an admin key (sk-admin-…), which the Costs API requires: "
	switch {
	case strings.HasPrefix(key, "sk-admin-"):
		return ""
	case strings.HasPrefix(key, "sess-"):
		return "a browser session key (sess-…), " + not + "a session key belongs in session_key_env or session_key_file"
	case strings.HasPrefix(key, "sk-proj-"):
		return "a project key (sk-proj-…), " + not + adminHowTo
	case strings.HasPrefix(key, "sk-"):
		return "an API key (sk-…), " + not + adminHowTo
	}
	return ""
}

// sessionKeyShape tells a browser session key (sess-…) from an API key
// (sk-…), which the credit grants endpoint has refused since April 2023
// (providers.md §2.1).
func sessionKeyShape(key string) string {
	const not = "not a browser session key (sess-…), the only key the credit grants endpoint accepts: "
	const fix = sessionHowTo + ", or remove session_key_env/session_key_file to read costs only"
	switch {
	case strings.HasPrefix(key, "sk-admin-"):
		return "an admin key (sk-admin-…), " + not + fix
	case strings.HasPrefix(key, "sk-"):
		return "an API key (sk-…), " + not + fix
	}
	return ""
}

// Validate implements poller.Config.
func (c *Config) Validate(p *setting.Problems) {
	c.API.Validate(p)
	c.AdminKey.Need(p, "an openai source", "admin_key")
}

// Open implements poller.Config.
func (c *Config) Open(billing.Account) (poller.Source, error) {
	return poller.Opened(c.client(httpx.Options{}))
}

// client makes the source's client with o, completed by the settings.
func (c *Config) client(o httpx.Options) (*Client, error) {
	o.Timeout, o.MaxRequests = c.Timeout.Duration, c.MaxRequests.N
	return New(Options{BaseURL: c.BaseURL.S, AdminKey: c.AdminKey.Value, SessionKey: c.SessionKey.Value, Lookback: c.CostLookback.Duration, HTTP: o})
}

// Describe implements poller.Config.
func (c *Config) Describe() string {
	session := poller.KeyFrom("session key", c.SessionKey)
	if c.SessionKey.IsZero() {
		session = "no session key, so no grants or balance"
	}
	return c.API.Describe("openai", poller.KeyFrom("admin key", c.AdminKey), session)
}

// Sight implements poller.Config: costs always; the grants and the balance
// only through a browser session key; charges never (OpenAI lists none).
func (c *Config) Sight() billing.Sight {
	s := billing.Sight{Costs: true}
	s.Not("charges", "OpenAI's API lists none")
	if c.SessionKey.IsZero() {
		s.Not("balance", "no session key")
		s.Not("grants", "no session key")
		return s
	}
	s.Balance, s.Grants, s.Recharges = true, true, true
	return s
}
