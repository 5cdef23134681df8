package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// Account is one watched account and where its observations come from.
type Account struct {
	billing.Account
	Source Source
	// Receipts, when set, is the mailbox the account's receipts are read
	// from.
	Receipts *Receipts
}

// Source says where an account's observations come from: a source type
// (a row of SourceKinds) and that type's own configuration.
type Source struct {
	Type string
	poller.Config
}

// accountFile is an account's block as written, but its source.
type accountFile struct {
	Name         setting.Text      `yaml:"name"`
	Provider     setting.Text      `yaml:"provider"`
	Currency     setting.Text      `yaml:"currency"`
	Drawdown     setting.Text      `yaml:"drawdown"`
	AutoRecharge *autoRechargeFile `yaml:"auto_recharge"`
	MonthlyCap   setting.Text      `yaml:"monthly_cap"`
	// BalanceAnchor is what the provider's console showed, and when, for a
	// provider whose API shows no balance.
	BalanceAnchor *anchorFile `yaml:"balance_anchor"`
	// Receipts ties the account to the receipts in a mailbox.
	Receipts *receiptsFile `yaml:"receipts"`
}

type anchorFile struct {
	Amount setting.Text `yaml:"amount"`
	At     setting.Text `yaml:"at"`
}

type autoRechargeFile struct {
	Enabled      setting.Bool `yaml:"enabled"`
	Threshold    setting.Text `yaml:"threshold"`
	Mode         setting.Text `yaml:"mode"`
	Amount       setting.Text `yaml:"amount"`
	Target       setting.Text `yaml:"target"`
	MonthlyLimit setting.Text `yaml:"monthly_limit"`
}

// decodeAccounts reads the accounts section.
func (c *Config) decodeAccounts(d *setting.Decoder, p *setting.Problems, n *yaml.Node) {
	setting.Shape(p, "accounts", n, yaml.SequenceNode)
	items := setting.Items(n)
	if len(items) == 0 {
		p.Add("accounts", "at least one account is required")
	}
	seen := make(map[string]bool)
	for i, item := range items {
		c.Accounts = append(c.Accounts, c.account(d, p.In(fmt.Sprintf("accounts[%d]", i)), item, seen))
	}
}

func (c *Config) account(d *setting.Decoder, p *setting.Problems, n *yaml.Node, seen map[string]bool) Account {
	var fa accountFile
	d.Decode(p, n, &fa, setting.Options{Ignore: []string{"source"}})
	var a Account
	// reported holds the paths (relative to the account) with a problem
	// already, so billing.Account.Validate does not report them twice.
	reported := make(map[string]bool)
	add := func(rel, format string, args ...any) {
		reported[rel] = true
		p.Add(rel, format, args...)
	}
	required := func(t setting.Text, rel, format string, args ...any) bool {
		if !t.IsSet() {
			add(rel, format, args...)
		}
		return t.IsSet()
	}

	if required(fa.Name, "name", "is required") {
		if a.Name = fa.Name.S; a.Name != "" {
			if seen[a.Name] {
				add("name", "duplicate account name %q", a.Name)
			}
			seen[a.Name] = true
		}
	}
	wantProviders := "want " + setting.OrList(Providers())
	if required(fa.Provider, "provider", "is required (%s)", wantProviders) {
		if a.Provider = fa.Provider.S; a.Provider != "" && !slices.Contains(Providers(), a.Provider) {
			add("provider", "unknown provider %q (%s)", a.Provider, wantProviders)
		}
	}
	if required(fa.Currency, "currency", "is required (a three-letter ISO 4217 code such as USD)") {
		if cur, err := billing.ParseCurrency(fa.Currency.S); err != nil {
			add("currency", "%v", err)
		} else {
			a.Currency = cur
		}
	}
	if required(fa.Drawdown, "drawdown", "is required (want expiring-first or grants-first)") {
		if dp, err := billing.ParseDrawdownPolicy(fa.Drawdown.S); err != nil {
			add("drawdown", "%v", err)
		} else {
			a.Drawdown = dp
		}
	}
	if fa.AutoRecharge == nil {
		add("auto_recharge", "is required (write enabled: false if the account has none)")
	} else {
		autoRecharge(fa.AutoRecharge, &a.Account, add)
	}
	if fa.MonthlyCap.IsSet() {
		if m, err := billing.ParseMoney(fa.MonthlyCap.S, a.Currency); err != nil {
			add("monthly_cap", "%v", err)
		} else {
			a.MonthlyCap, a.HasMonthlyCap = m, true
		}
	}
	if an := fa.BalanceAnchor; an != nil {
		a.HasAnchor = true
		if !an.Amount.IsSet() {
			add("balance_anchor.amount", "is required: the balance the provider's console showed")
		} else if m, err := billing.ParseMoney(an.Amount.S, a.Currency); err != nil {
			add("balance_anchor.amount", "%v", err)
		} else {
			a.Anchor.Amount = m
		}
		if an.At.IsSet() {
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(an.At.S)); err != nil {
				add("balance_anchor.at", "invalid time %q: want RFC 3339 such as 2026-11-30T10:00:00Z", an.At.S)
			} else {
				a.Anchor.At = t.UTC()
			}
		}
	}
	for _, fe := range a.Account.Validate() {
		if !reported[fe.Path] {
			p.Add(fe.Path, "%s", fe.Msg)
		}
	}
	if fa.Receipts != nil {
		a.Receipts = c.receipts(p, fa.Receipts, &a.Account)
	}
	if sn := setting.Mapping(n, "source"); sn == nil {
		add("source", "is required")
	} else {
		a.Source = source(d, p, sn, &a.Account)
	}
	return a
}

func autoRecharge(far *autoRechargeFile, a *billing.Account, add func(rel, format string, args ...any)) {
	ar := &a.AutoRecharge
	if !far.Enabled.IsSet() {
		add("auto_recharge.enabled", "is required (true or false)")
	}
	ar.Enabled = far.Enabled.B
	money := func(t setting.Text, rel string, dst *billing.Money) bool {
		if !t.IsSet() {
			return false
		}
		m, err := billing.ParseMoney(t.S, a.Currency)
		if err != nil {
			add(rel, "%v", err)
			return false
		}
		*dst = m
		return true
	}
	money(far.Threshold, "auto_recharge.threshold", &ar.Threshold)
	if ar.Enabled && !far.Threshold.IsSet() {
		add("auto_recharge.threshold", "is required when auto-recharge is enabled")
	}
	if far.Mode.IsSet() {
		if m, err := billing.ParseRechargeMode(far.Mode.S); err != nil {
			add("auto_recharge.mode", "%v", err)
		} else {
			ar.Mode = m
		}
	} else if ar.Enabled {
		add("auto_recharge.mode", "is required when auto-recharge is enabled (want add or restore)")
	}
	money(far.Amount, "auto_recharge.amount", &ar.Amount)
	if ar.Enabled && ar.Mode == billing.RechargeAdd && !far.Amount.IsSet() {
		add("auto_recharge.amount", "is required in add mode")
	}
	money(far.Target, "auto_recharge.target", &ar.Target)
	if ar.Enabled && ar.Mode == billing.RechargeRestore && !far.Target.IsSet() {
		add("auto_recharge.target", "is required in restore mode")
	}
	ar.HasMonthlyLimit = money(far.MonthlyLimit, "auto_recharge.monthly_limit", &ar.MonthlyLimit)
}

// source reads the source block of the account at ap: its type picks the row of
// SourceKinds whose configuration takes the other keys.
func source(d *setting.Decoder, ap *setting.Problems, n *yaml.Node, a *billing.Account) Source {
	p := ap.In("source")
	if !setting.Shape(p, "", n, yaml.MappingNode) {
		return Source{}
	}
	var head struct {
		Type setting.Text `yaml:"type"`
	}
	d.Decode(p, n, &head, setting.Options{Unknown: func(*setting.Problems, *yaml.Node, []string) {}})
	kind, c, ok := sources.decode(d, p, n, head.Type, []string{"type"}, "source", func(p *setting.Problems, key string, types []string, kind string) {
		p.Add(key, "only applies to %s sources, not to %s %s source", setting.AndList(types), article(kind), kind)
	})
	if !ok {
		return Source{}
	}
	cfg := c.(poller.Config)
	cfg.Validate(p)
	if kind.Provider != "" {
		if slices.Contains(Providers(), a.Provider) && a.Provider != kind.Name {
			p.At(head.Type.Pos, "%s %s source reads %s's API, but the account's provider is %q (only a file source may serve another provider)",
				article(kind.Name), kind.Name, kind.Provider, a.Provider)
		}
		if len(kind.Currencies) > 0 && a.Currency != "" && !slices.Contains(kind.Currencies, a.Currency) {
			want := make([]string, len(kind.Currencies))
			for i, c := range kind.Currencies {
				want[i] = string(c)
			}
			ap.Add("currency", "%s reports amounts in %s, so an account with %s %s source must be in %s (got %s)",
				kind.Provider, setting.OrList(want), article(kind.Name), kind.Name, setting.OrList(want), a.Currency)
		}
	}
	return Source{Type: kind.Name, Config: cfg}
}

// article is "a" or "an" before a type's name.
func article(name string) string {
	if name != "" && strings.IndexByte("aeiou", name[0]) >= 0 {
		return "an"
	}
	return "a"
}

// Sight says what guardd can see of the account: what its source reads,
// and a balance derived from its anchor where the provider shows none.
func (a Account) Sight() billing.Sight {
	if a.Source.Config == nil {
		return billing.Sight{}
	}
	s := a.Source.Sight()
	if a.Receipts != nil {
		s.Charges, s.Receipts, s.Recharges = true, true, true
	}
	switch {
	case s.Balance || s.Grants:
	case a.HasAnchor && s.Costs:
		s.Derived = true
	case a.HasAnchor:
		s.Not("balance", "a balance_anchor needs the costs to derive it from, and the source reads none")
	default:
		s.Not("balance", s.Why["balance"]+"; set balance_anchor to derive one")
	}
	return s
}
