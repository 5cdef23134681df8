package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store"
)

// openState loads the config, reading none of its secrets, and opens its
// existing state database: commands that only read the state need no
// credentials.
func openState(ctx context.Context, cfgPath string, getenv getenvFunc) (*config.Config, *store.Store, error) {
	cfg, err := config.LoadFile(cfgPath, getenv, config.NoSecrets)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(cfg.State.Path.Name); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("no state database at %s yet: run guardd check or guardd run first", cfg.State.Path.Name)
	}
	st, err := store.Open(ctx, cfg.State.Path.Name, store.Options{Retention: cfg.State.Retention.Duration})
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// cmdStatus prints, per account, the balance guardd trusts, the runway, the
// last poll and its freshness, and the active alerts and silences.
func cmdStatus(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd status --config FILE\n\n"+
			"Shows, per account, the effective balance next to the one the provider shows, the runway,\n"+
			"the last poll and how fresh it is, and the active alerts and silences, from the state database.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *cfgPath == "" {
		return usagef("status: --config is required")
	}
	cfg, st, err := openState(ctx, *cfgPath, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	now := clock.Clock{}.Now()
	accounts := make([]guard.Account, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		accounts[i] = guard.Account{Account: a.Account}
	}
	g := guard.New(accounts, guard.Options{Params: cfg.Params, Ledger: cfg.Ledger, History: st,
		Policy: lifecycle.Policy{Repeat: cfg.Alerting.Repeat(), ResolveAfter: cfg.Alerting.ResolveAfter.N}})
	if err := g.Load(ctx, now); err != nil {
		return err
	}
	var b strings.Builder
	for i, as := range g.Status(now) {
		if i > 0 {
			b.WriteString("\n")
		}
		a := as.Account
		fmt.Fprintf(&b, "%s (%s, %s)\n", a.Name, a.Provider, a.Currency)
		fmt.Fprintf(&b, "  sees         %s\n", sightLine(cfg, cfg.Accounts[i]))
		s := as.State
		switch {
		case !as.HasPoll:
			b.WriteString("  never polled\n")
		case !s.EffectiveKnown:
			b.WriteString("  balance      unknown: no balance or grants read yet\n")
		default:
			shown := "not shown by the provider"
			if s.ShownKnown {
				shown = "the provider shows " + s.Shown.Display()
				if gap := s.Shown.Amount().Sub(s.Effective.Amount()); gap.IsPositive() {
					shown += fmt.Sprintf(" (%s more than can be spent)", billing.NewMoney(gap, s.Shown.Currency()).Display())
				}
			}
			if d := s.DerivedFrom; d != nil {
				shown = fmt.Sprintf("derived from the %s read off the console at %s, plus receipts since, minus costs since", d.Amount.Display(), alert.FormatTime(d.At))
			}
			fmt.Fprintf(&b, "  balance      %s effective; %s\n", s.Effective.Display(), shown)
			fmt.Fprintf(&b, "  as of        %s (%s ago)\n", alert.FormatTime(s.ObservedAt), billing.Words(now.Sub(s.ObservedAt)))
			fmt.Fprintf(&b, "  %s\n", strings.Replace(alert.RunwayText(s.Runway, s.Effective), "runway ", "runway       ", 1))
		}
		if as.HasPoll {
			p := as.LastPoll
			if p.Err == "" {
				fmt.Fprintf(&b, "  last poll    %s ok (%s ago)\n", alert.FormatTime(p.At), billing.Words(now.Sub(p.At)))
			} else {
				fmt.Fprintf(&b, "  last poll    %s FAILED (%d in a row): %s\n", alert.FormatTime(p.At), as.FailedPolls, p.Err)
			}
			for part, why := range p.Unavailable {
				fmt.Fprintf(&b, "  unavailable  %s: %s\n", part, why)
			}
		}
		var alerts []lifecycle.Alert
		var silences []lifecycle.Silence
		if err := st.Lifecycle().View(ctx, func(tx lifecycle.Tx) error {
			var err error
			if alerts, err = tx.Alerts(a.Name, lifecycle.Firing); err != nil {
				return err
			}
			silences, err = tx.Silences(now)
			return err
		}); err != nil {
			return err
		}
		if len(alerts) == 0 {
			b.WriteString("  alerts       none firing\n")
		}
		for _, al := range alerts {
			ack := ""
			if al.AckedBy != "" {
				ack = ", acknowledged by " + al.AckedBy
			}
			fmt.Fprintf(&b, "  alert        [%s] %s %s since %s (last sent %s%s)\n", strings.ToUpper(string(al.Severity)), al.Rule,
				al.Entity, alert.FormatTime(al.FiredAt), alert.FormatTime(al.LastSentAt), ack)
		}
		for _, sl := range silences {
			if sl.Account != "" && sl.Account != a.Name {
				continue
			}
			fmt.Fprintf(&b, "  silence      #%d %s until %s by %s: %s\n", sl.ID, orAny(sl.Rule), alert.FormatTime(sl.End), sl.CreatedBy, sl.Comment)
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func orAny(s string) string {
	if s == "" {
		return "every rule"
	}
	return s
}
