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
	if k, ok := sources.find(provider); ok {
		return k.BillingPage
	}
	return ""
}

// table is one closed set of kinds as the config reads it: the rows, in
// order, and which keys each row's block takes.
type table[K any] struct {
	rows   []K
	name   func(K) string
	config func(K) any
	takers takers
}

func newTable[K any](rows []K, name func(K) string, config func(K) any) *table[K] {
	t := &table[K]{rows: rows, name: name, config: config, takers: takers{}}
	for _, k := range rows {
		t.takers.add(name(k), config(k))
	}
	return t
}

var (
	sources   = newTable(SourceKinds, func(k poller.Kind) string { return k.Name }, func(k poller.Kind) any { return k.Config() })
	receivers = newTable(ReceiverKinds, func(k alert.Kind) string { return k.Name }, func(k alert.Kind) any { return k.Config() })
	mailboxes = newTable(MailboxKinds, func(k mailbox.Kind) string { return k.Name }, func(k mailbox.Kind) any { return k.Config() })
)

func (t *table[K]) find(name string) (K, bool) {
	i := slices.IndexFunc(t.rows, func(k K) bool { return t.name(k) == name })
	if i < 0 {
		var zero K
		return zero, false
	}
	return t.rows[i], true
}

func (t *table[K]) names() []string {
	out := make([]string, len(t.rows))
	for i, k := range t.rows {
		out[i] = t.name(k)
	}
	return out
}

// decode reads the block n of a noun ("source") of this table: typ is its
// type as read, own the keys every type's block shares. It returns the row
// and its configuration, decoded; false when the type is missing or unknown
// (said, with the keys no row takes). misplaced reports a key of another
// row's.
func (t *table[K]) decode(d *setting.Decoder, p *setting.Problems, n *yaml.Node, typ setting.Text, own []string, noun string,
	misplaced func(p *setting.Problems, key string, types []string, kind string)) (K, any, bool) {
	want := "want " + setting.OrList(t.names())
	kind, ok := t.find(typ.S)
	switch {
	case !typ.IsSet():
		p.Add("type", "is required (%s)", want)
	case !ok:
		p.At(typ.Pos, "unknown %s type %q (%s)", noun, typ.S, want)
	}
	if !ok {
		t.takers.checkKeys(p, n, own)
		return kind, nil, false
	}
	cfg := t.config(kind)
	d.Decode(p, n, cfg, setting.Options{Ignore: own, Unknown: t.takers.unknownKey(func(p *setting.Problems, key string, types []string) {
		misplaced(p, key, types, t.name(kind))
	})})
	return kind, cfg, true
}

// takers maps each key of a polymorphic block to the types that take it,
// in table order.
type takers map[string][]string

func (t takers) add(typ string, cfg any) {
	for _, k := range setting.Keys(reflectType(cfg)) {
		t[k] = append(t[k], typ)
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
