package config

import (
	"maps"
	"slices"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/email"
	"github.com/guardd/guardd/internal/alert/pagerduty"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/webhook"
	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/mailbox/folder"
	"github.com/guardd/guardd/internal/mailbox/imap"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/anthropic"
	"github.com/guardd/guardd/internal/poller/deepseek"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/poller/openai"
	"github.com/guardd/guardd/internal/poller/openrouter"
	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// The tables of parts: every source type and every receiver type guardd has,
// in the order messages and documents name them. They are the one place
// these closed sets are written; every "want a, b or c", every check of
// which key applies to which type, and the lists in the documentation (a
// test compares them) come from here. The rules' table is
// rules.DefaultParams.
var (
	SourceKinds   = []poller.Kind{file.Kind, openai.Kind, anthropic.Kind, deepseek.Kind, openrouter.Kind}
	MailboxKinds  = []mailbox.Kind{imap.Kind, folder.Kind}
	ReceiverKinds = []alert.Kind{alert.StdoutKind, slack.Kind, webhook.Kind, email.Kind, pagerduty.Kind, alertmanager.Kind}
)

// OtherProvider is the provider of an account whose provider guardd has no
// API source for; a file source serves it.
const OtherProvider = "other"

// Providers lists the providers an account may name: those with an API
// source, and OtherProvider.
func Providers() []string { return append(apiProviders(), OtherProvider) }

// apiProviders lists the source types that read a provider's API.
func apiProviders() []string {
	var out []string
	for _, k := range SourceKinds {
		if k.Provider != "" {
			out = append(out, k.Name)
		}
	}
	return out
}

// BillingPage returns the billing page of a provider, or "".
func BillingPage(provider string) string {
	if k, ok := sourceKind(provider); ok {
		return k.BillingPage
	}
	return ""
}

func sourceKind(name string) (poller.Kind, bool) {
	i := slices.IndexFunc(SourceKinds, func(k poller.Kind) bool { return k.Name == name })
	if i < 0 {
		return poller.Kind{}, false
	}
	return SourceKinds[i], true
}

func receiverKind(name string) (alert.Kind, bool) {
	i := slices.IndexFunc(ReceiverKinds, func(k alert.Kind) bool { return k.Name == name })
	if i < 0 {
		return alert.Kind{}, false
	}
	return ReceiverKinds[i], true
}

func sourceNames() []string {
	out := make([]string, len(SourceKinds))
	for i, k := range SourceKinds {
		out[i] = k.Name
	}
	return out
}

func receiverNames() []string {
	out := make([]string, len(ReceiverKinds))
	for i, k := range ReceiverKinds {
		out[i] = k.Name
	}
	return out
}

// takers maps each key of a polymorphic block to the types that take it,
// in table order.
type takers map[string][]string

func (t takers) add(typ string, cfg any) {
	for _, k := range setting.Keys(reflectType(cfg)) {
		t[k] = append(t[k], typ)
	}
}

var (
	sourceTakers   = takers{}
	receiverTakers = takers{}
	mailboxTakers  = takers{}
)

func init() {
	for _, k := range SourceKinds {
		sourceTakers.add(k.Name, k.Config())
	}
	for _, k := range ReceiverKinds {
		receiverTakers.add(k.Name, k.Config())
	}
	for _, k := range MailboxKinds {
		mailboxTakers.add(k.Name, k.Config())
	}
}

// unknownKey returns the reporter of a key the block's type does not take:
// a key no type takes is unknown; one that others take is reported by
// misplaced with the types that take it.
func (t takers) unknownKey(misplaced func(p *setting.Problems, key string, types []string)) func(*setting.Problems, *yaml.Node, []string) {
	return func(p *setting.Problems, key *yaml.Node, known []string) {
		if types, ok := t[key.Value]; ok {
			misplaced(p, key.Value, types)
			return
		}
		p.Unknown(key, known)
	}
}

// checkKeys reports the keys of n that no type takes, for a block whose
// own type is unknown.
func (t takers) checkKeys(p *setting.Problems, n *yaml.Node, own []string) {
	for _, kv := range setting.Pairs(n) {
		if _, ok := t[kv[0].Value]; !ok && !slices.Contains(own, kv[0].Value) {
			p.Unknown(kv[0], append(slices.Clone(own), slices.Sorted(maps.Keys(t))...))
		}
	}
}
