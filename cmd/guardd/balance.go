package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/status"
)

// balanceFlags are guardd balance's flags.
type balanceFlags struct {
	config, account, output *string
}

func (f *balanceFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.account = fs.String("account", "", "poll only this account, by `NAME`, and show it in detail")
	f.output = fs.String("output", "text", "output format: `text|json`")
}

// cmdBalance polls every account once and prints what guardd sees of it
// now: the real balance, the runway and why a part could not be read. It
// keeps nothing, notifies no one and needs only the accounts' secrets: the
// quick look for someone who does not trust the dashboard.
func cmdBalance(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f balanceFlags
	fs := newFlagSet("balance", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd balance --config FILE [--account NAME] [--output text|json]\n\n"+
			"Polls every account now and prints its real balance next to the one the provider shows, the\n"+
			"runway, and what guardd can and cannot see, with the reason. Uses no state database and no\n"+
			"notifier; reads only the accounts' secrets. Receipts in mailboxes are not read.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	switch {
	case *f.config == "":
		return usagef("balance: --config is required")
	case *f.output != "text" && *f.output != "json":
		return usagef("balance: --output %q: want text or json", *f.output)
	}
	cfg, err := config.LoadFile(*f.config, getenv, config.SecretsUnder("accounts"))
	if err != nil {
		return err
	}
	if *f.account != "" {
		i := slices.IndexFunc(cfg.Accounts, func(a config.Account) bool { return a.Name == *f.account })
		if i < 0 {
			return usagef("balance: account %q is not in %s (want one of %s)", *f.account, *f.config, accountNames(cfg))
		}
		cfg.Accounts = cfg.Accounts[i : i+1]
	}
	accounts, err := buildAccounts(cfg)
	if err != nil {
		return err
	}
	g := guard.New(accounts, guard.Options{Params: cfg.Params, Ledger: cfg.Ledger, Poller: pollerOf(cfg)})
	now := clock.Clock{}.Now()
	// A failed account is in the report, with its reason; the exit status
	// says that not every account could be read.
	rep, cycleErr := g.Cycle(ctx, now)
	out := status.Report{At: now}
	statuses, err := g.Status(now)
	if err != nil {
		return err
	}
	for i, as := range statuses {
		out.Accounts = append(out.Accounts, status.View(cfg, cfg.Accounts[i], as))
	}
	if *f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		if *f.account != "" {
			writeAccountDetail(&b, out.Accounts[0], now, false)
		} else {
			writeAccountLines(&b, out.Accounts, now, false)
			for _, a := range out.Accounts {
				writeSight(&b, a)
			}
		}
		if _, err := io.WriteString(stdout, b.String()); err != nil {
			return err
		}
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d of %d accounts could not be read", len(rep.Failed), len(cfg.Accounts))
	}
	return cycleErr
}

// writeSight says what guardd sees of a, and why each part of its last
// poll was not read.
func writeSight(b *strings.Builder, a status.Account) {
	fmt.Fprintf(b, "\n%s sees %s\n", a.Name, a.Sees)
	p := a.LastPoll
	switch {
	case p == nil:
	case !p.OK:
		fmt.Fprintf(b, "  not read: %s\n", p.Error)
	default:
		for _, part := range billing.Parts {
			if why, ok := p.Unavailable[part]; ok {
				fmt.Fprintf(b, "  %s unavailable: %s\n", part, why)
			}
		}
	}
}
