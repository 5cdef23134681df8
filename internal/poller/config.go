package poller

import (
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is one source type: a row of the config's table of sources.
type Kind struct {
	// Name is the type as written in the config ("openai"). For a source
	// that reads a provider's API it is also the provider of the accounts
	// it can read.
	Name string
	// Provider names the provider in prose ("OpenAI"); empty for a source
	// that reads no provider's API (file).
	Provider string
	// Currencies lists the currencies the provider reports amounts in; an
	// account read by the source must be in one of them. Empty: any (a file
	// source).
	Currencies []billing.Currency
	// BillingPage is the provider's billing page, linked from messages.
	BillingPage string
	// Receipts says the provider's card payments come with receipt emails
	// guardd can read (internal/receipt), so an account may take its
	// charges from a mailbox.
	Receipts bool
	// Config returns a new configuration holding the type's defaults.
	Config func() Config
}

// Config is a source type's own configuration: its block of an account's
// source section (every key but type), decoded by the setting package into
// the type's struct of leaves after its defaults.
type Config interface {
	// Validate adds the problems only the source can judge, with paths
	// relative to the source block.
	Validate(p *setting.Problems)
	// Open makes the source that reads account a.
	Open(a billing.Account) (Source, error)
	// Describe says where the source reads from and with which credentials,
	// never showing one: "openai at https://api.openai.com: admin key from
	// $OPENAI_ADMIN_KEY; no session key, so no grants or balance".
	Describe() string
	// Sight says what the source, as configured, can see, and why not the
	// rest.
	Sight() billing.Sight
}

// Defaults of the settings every API source takes.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRequests  = 20
	DefaultCostLookback = 7 * 24 * time.Hour
)

// API holds the settings of every source that reads a provider's API; each
// such source's Config inlines it.
type API struct {
	// BaseURL is the API's base URL, the provider's own by default.
	BaseURL setting.URL `yaml:"base_url" creds:"name the key in the source's *_env or *_file setting"`
	// Timeout bounds each request.
	Timeout setting.Duration `yaml:"timeout"`
	// MaxRequests is the budget of requests per poll, retries and pages
	// included.
	MaxRequests setting.Count `yaml:"max_requests" min:"1" max:"1000"`
}

// NewAPI returns the defaults of a provider whose API is at baseURL.
func NewAPI(baseURL string) API {
	return API{BaseURL: setting.URLOf(baseURL), Timeout: setting.DurationOf(DefaultTimeout),
		MaxRequests: setting.CountOf(DefaultMaxRequests)}
}

// Validate checks that the key does not cross a network in clear text.
func (a *API) Validate(p *setting.Problems) { a.BaseURL.RequireTLS(p, "the key") }

// Refused is the hint for a key the provider refused: which key (its name
// and config field) and, from what, the key it must be and where to get it.
func Refused(name, field, what string) string {
	return "the " + name + " (" + field + ") was refused. Fix: give " + what
}

// KeySpec describes a provider's key: what says what it is, what it reads
// and where to get it; shape, if not nil, says what is wrong with a key
// whose documented prefix shows it is another kind of key ("a project key
// (sk-proj-…), not an admin key …"), or "". It must never quote the key:
// its answer follows "the value of $X is ".
func KeySpec(what string, shape func(key string) string) *setting.SecretSpec {
	return &setting.SecretSpec{Noun: "key", What: what, Pasted: looksLikeKey, Check: shape}
}

// looksLikeKey reports whether s starts like a provider key.
func looksLikeKey(s string) bool {
	return strings.HasPrefix(s, "sk-") || strings.HasPrefix(s, "sess-")
}

// Describe renders a source that reads typ's API at a.BaseURL with the given
// parts ("admin key from $X"): "openai at https://api.openai.com: …".
func (a *API) Describe(typ string, parts ...string) string {
	return typ + " at " + a.BaseURL.S + ": " + strings.Join(parts, "; ")
}

// KeyFrom says where the key called name was read from ("admin key from
// $OPENAI_ADMIN_KEY"), or that there is none.
func KeyFrom(name string, s setting.Secret) string {
	if s.IsZero() {
		return "no " + name
	}
	return name + " from " + s.From()
}
