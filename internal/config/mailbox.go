package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// Mailbox is one mailbox guardd reads receipts from: a mailbox type (a row
// of MailboxKinds) and that type's own configuration.
type Mailbox struct {
	Name string
	Type string
	mailbox.Config
}

// Receipts ties an account to the receipts in one mailbox.
type Receipts struct {
	Mailbox string
	// Organization and Recipient, optional, pick the account's receipts
	// when one mailbox serves several accounts of a provider.
	Organization, Recipient string
}

// receiptsFile is an account's receipts block as written.
type receiptsFile struct {
	Mailbox      setting.Text `yaml:"mailbox"`
	Organization setting.Text `yaml:"organization"`
	Recipient    setting.Text `yaml:"recipient"`
}

// mailboxFile is the part of a mailbox block every type shares.
type mailboxFile struct {
	Name setting.Text `yaml:"name"`
	Type setting.Text `yaml:"type"`
}

var mailboxKeys = setting.Keys(reflectType(mailboxFile{}))

// decodeMailboxes reads the mailboxes section.
func (c *Config) decodeMailboxes(d *setting.Decoder, p *setting.Problems, n *yaml.Node) {
	setting.Shape(p, "mailboxes", n, yaml.SequenceNode)
	for i, item := range setting.Items(n) {
		p := p.In(fmt.Sprintf("mailboxes[%d]", i))
		var fm mailboxFile
		d.Decode(p, item, &fm, setting.Options{Unknown: func(*setting.Problems, *yaml.Node, []string) {}})
		m := Mailbox{Name: fm.Name.S, Type: fm.Type.S}
		switch {
		case !fm.Name.IsSet():
			p.Add("name", "is required")
		case m.Name == "":
			p.At(fm.Name.Pos, "must not be empty")
		case slices.ContainsFunc(c.Mailboxes, func(o Mailbox) bool { return o.Name == m.Name }):
			p.At(fm.Name.Pos, "duplicate mailbox name %q", m.Name)
		}
		_, cfg, ok := mailboxes.decode(d, p, item, fm.Type, mailboxKeys, "mailbox", func(p *setting.Problems, key string, types []string, kind string) {
			p.Add(key, "only applies to %s mailboxes, not to %s %s mailbox", setting.AndList(types), article(kind), kind)
		})
		if ok {
			m.Config = cfg.(mailbox.Config)
			m.Config.Validate(p)
		}
		c.Mailboxes = append(c.Mailboxes, m)
	}
}

// receipts checks an account's receipts block against the mailboxes.
func (c *Config) receipts(p *setting.Problems, f *receiptsFile, a *billing.Account) *Receipts {
	r := &Receipts{Mailbox: f.Mailbox.S, Organization: strings.TrimSpace(f.Organization.S), Recipient: strings.TrimSpace(f.Recipient.S)}
	var names []string
	for _, m := range c.Mailboxes {
		names = append(names, m.Name)
	}
	switch {
	case !f.Mailbox.IsSet():
		p.Add("receipts.mailbox", "is required: the name of one of the mailboxes")
	case len(names) == 0:
		p.At(f.Mailbox.Pos, "unknown mailbox %q: there is no mailboxes section", r.Mailbox)
	case !slices.Contains(names, r.Mailbox):
		p.At(f.Mailbox.Pos, "unknown mailbox %q (want %s)", r.Mailbox, setting.OrList(names))
	}
	if k, ok := sources.find(a.Provider); (!ok || !k.Receipts) && a.Provider != "" {
		var with []string
		for _, k := range SourceKinds {
			if k.Receipts {
				with = append(with, k.Name)
			}
		}
		p.Add("receipts", "guardd reads no receipts of provider %q (only %s)", a.Provider, setting.AndList(with))
	}
	return r
}

// Inbox returns what reads the configured mailboxes and files their
// receipts under the accounts that take them; nil when none does.
func (c *Config) Inbox() (*inbox.Inbox, error) {
	in := &inbox.Inbox{}
	for _, a := range c.Accounts {
		if r := a.Receipts; r != nil {
			in.Routes = append(in.Routes, inbox.Route{Account: a.Name, Provider: a.Provider, Currency: a.Currency,
				Mailbox: r.Mailbox, Organization: r.Organization, Recipient: r.Recipient})
		}
	}
	if len(in.Routes) == 0 {
		return nil, nil
	}
	for i, m := range c.Mailboxes {
		rd, err := m.Open()
		if err != nil {
			return nil, fmt.Errorf("mailboxes[%d] (%s): %w", i, m.Name, err)
		}
		in.Mailboxes = append(in.Mailboxes, inbox.Mailbox{Name: m.Name, Reader: rd})
	}
	return in, nil
}
