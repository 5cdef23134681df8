package config

import (
	"fmt"
	"io"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// Dump writes the effective config as YAML, in the file's schema, with
// defaults filled in, environment overrides applied and paths resolved. It
// marshals the same typed settings the parts use; every secret shows where
// it is read from (webhook_url_env: SLACK_WEBHOOK_URL), never its value.
func (c *Config) Dump(w io.Writer) error {
	global := setting.Encode(&c.Global)
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(global.Content); i += 2 {
		out.Content = append(out.Content, global.Content[i], global.Content[i+1])
		if global.Content[i].Value == "log" {
			out.Content = append(out.Content, key("rules"), c.dumpRules(), key("accounts"), c.dumpAccounts(), key("notifiers"), c.dumpNotifiers())
			if len(c.Mailboxes) > 0 {
				out.Content = append(out.Content, key("mailboxes"), c.dumpMailboxes())
			}
		}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("dump config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("dump config: %w", err)
	}
	return nil
}

func key(s string) *yaml.Node { return setting.Scalar(s) }

func (c *Config) dumpRules() *yaml.Node {
	n := setting.Encode(&struct {
		BurnWindow  setting.Duration `yaml:"burn_window"`
		MatchWindow setting.Duration `yaml:"match_window"`
	}{c.Params.BurnWindow, setting.DurationOf(c.Ledger.MatchWindow)})
	for _, r := range c.Params.Rules {
		if len(setting.Keys(reflectType(r))) > 0 {
			n.Content = append(n.Content, key(rules.Key(r)), setting.Encode(r))
		}
	}
	return n
}

func (c *Config) dumpAccounts() *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	amount := func(m billing.Money) setting.Text { return setting.TextOf(setting.FormatAmount(m.Amount())) }
	for _, a := range c.Accounts {
		ar := a.AutoRecharge
		f := accountFile{Name: setting.TextOf(a.Name), Provider: setting.TextOf(a.Provider), Currency: setting.TextOf(string(a.Currency)),
			Drawdown: setting.TextOf(string(a.Drawdown)), AutoRecharge: &autoRechargeFile{Enabled: setting.Bool{B: ar.Enabled},
				Mode: setting.TextOf(string(ar.Mode))}}
		if ar.Enabled || !ar.Threshold.IsZero() {
			f.AutoRecharge.Threshold = amount(ar.Threshold)
		}
		if ar.Mode == billing.RechargeAdd || !ar.Amount.IsZero() {
			f.AutoRecharge.Amount = amount(ar.Amount)
		}
		if ar.Mode == billing.RechargeRestore || !ar.Target.IsZero() {
			f.AutoRecharge.Target = amount(ar.Target)
		}
		if ar.HasMonthlyLimit {
			f.AutoRecharge.MonthlyLimit = amount(ar.MonthlyLimit)
		}
		if a.HasMonthlyCap {
			f.MonthlyCap = amount(a.MonthlyCap)
		}
		if r := a.Receipts; r != nil {
			f.Receipts = &receiptsFile{Mailbox: setting.TextOf(r.Mailbox), Organization: setting.TextOf(r.Organization),
				Recipient: setting.TextOf(r.Recipient)}
		}
		if a.HasAnchor {
			f.BalanceAnchor = &anchorFile{amount(a.Anchor.Amount), setting.TextOf(a.Anchor.At.Format(time.RFC3339))}
		}
		n := setting.Encode(&f)
		src := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key("type"), key(a.Source.Type)}}
		src.Content = append(src.Content, setting.Encode(a.Source.Config).Content...)
		n.Content = append(n.Content, key("source"), src)
		list.Content = append(list.Content, n)
	}
	return list
}

func (c *Config) dumpMailboxes() *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, m := range c.Mailboxes {
		n := setting.Encode(&mailboxFile{Name: setting.TextOf(m.Name), Type: setting.TextOf(m.Type)})
		if m.Config != nil {
			n.Content = append(n.Content, setting.Encode(m.Config).Content...)
		}
		list.Content = append(list.Content, n)
	}
	return list
}

func (c *Config) dumpNotifiers() *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, nt := range c.Notifiers {
		f := notifierFile{Name: setting.TextOf(nt.Name), Type: setting.TextOf(nt.Type), MinSeverity: setting.TextOf(string(nt.MinSeverity))}
		for _, a := range nt.Accounts {
			f.Accounts = append(f.Accounts, setting.TextOf(a))
		}
		n := setting.Encode(&f)
		n.Content = append(n.Content, setting.Encode(nt.Config).Content...)
		list.Content = append(list.Content, n)
	}
	return list
}
