package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// Notifier is one alert receiver: the settings every notifier has, and its
// type's own configuration (a row of ReceiverKinds).
type Notifier struct {
	Name string
	Type string
	// MinSeverity is the least severity sent to this notifier.
	MinSeverity billing.Severity
	// Accounts, when not empty, limits the notifier to these accounts.
	Accounts []string
	alert.Config
}

// notifierFile is the part of a notifier's block every type shares.
type notifierFile struct {
	Name        setting.Text   `yaml:"name"`
	Type        setting.Text   `yaml:"type"`
	MinSeverity setting.Text   `yaml:"min_severity"`
	Accounts    []setting.Text `yaml:"accounts"`
}

// notifierKeys are the keys of notifierFile.
var notifierKeys = setting.Keys(reflectType(notifierFile{}))

// decodeNotifiers reads the notifiers section.
func (c *Config) decodeNotifiers(d *setting.Decoder, p *setting.Problems, n *yaml.Node) {
	setting.Shape(p, "notifiers", n, yaml.SequenceNode)
	accounts := make(map[string]bool)
	var names []string
	for _, a := range c.Accounts {
		if a.Name != "" && !accounts[a.Name] {
			accounts[a.Name] = true
			names = append(names, a.Name)
		}
	}
	slices.Sort(names)
	env := alert.Env{LongestRepeat: max(c.Alerting.RepeatCritical.Duration, c.Alerting.RepeatWarning.Duration, c.Alerting.RepeatInfo.Duration)}
	seen := make(map[string]bool)
	for i, item := range setting.Items(n) {
		c.Notifiers = append(c.Notifiers, notifier(d, p.In(fmt.Sprintf("notifiers[%d]", i)), item, seen, names, env))
	}
}

func notifier(d *setting.Decoder, p *setting.Problems, n *yaml.Node, seen map[string]bool, accounts []string, env alert.Env) Notifier {
	var fn notifierFile
	d.Decode(p, n, &fn, setting.Options{Unknown: func(*setting.Problems, *yaml.Node, []string) {}})
	nt := Notifier{Name: fn.Name.S, Type: fn.Type.S, MinSeverity: billing.SeverityInfo}
	switch {
	case !fn.Name.IsSet():
		p.Add("name", "is required")
	case nt.Name == "":
		p.At(fn.Name.Pos, "must not be empty")
	case seen[nt.Name]:
		p.At(fn.Name.Pos, "duplicate notifier name %q", nt.Name)
	}
	seen[nt.Name] = true
	if fn.MinSeverity.IsSet() {
		if s, err := billing.ParseSeverity(fn.MinSeverity.S); err != nil {
			p.At(fn.MinSeverity.Pos, "%v", err)
		} else {
			nt.MinSeverity = s
		}
	}
	nt.Accounts = notifierAccounts(p, fn.Accounts, accounts)
	_, cfg, ok := receivers.decode(d, p, n, fn.Type, notifierKeys, "notifier", func(p *setting.Problems, key string, types []string, kind string) {
		if 2*len(types) > len(ReceiverKinds) {
			p.Add(key, "does not apply to %s notifiers", kind)
		} else {
			p.Add(key, "only applies to %s notifiers", setting.AndList(types))
		}
	})
	if !ok {
		return nt
	}
	nt.Config = cfg.(alert.Config)
	nt.Config.Validate(p, env)
	return nt
}

// notifierAccounts checks a notifier's accounts list against the account
// names configured.
func notifierAccounts(p *setting.Problems, list []setting.Text, accounts []string) []string {
	if list == nil {
		return nil
	}
	if len(list) == 0 {
		p.Add("accounts", "must name at least one account (leave it out to send about every account)")
		return nil
	}
	var out []string
	for _, s := range list {
		switch {
		case s.S == "":
			p.At(s.Pos, "must not be empty")
		case slices.Contains(out, s.S):
			p.At(s.Pos, "duplicate account %q", s.S)
		case !slices.Contains(accounts, s.S):
			p.At(s.Pos, "unknown account %q (want one of %s)", s.S, strings.Join(accounts, ", "))
		default:
			out = append(out, s.S)
		}
	}
	return out
}
