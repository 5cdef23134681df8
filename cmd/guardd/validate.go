package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/status"
)

// validateFlags are guardd validate's flags.
type validateFlags struct {
	config        *string
	print, online *bool
}

func (f *validateFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.print = fs.Bool("print", false, "print the effective config, with where each secret is kept; reads no secret")
	f.online = fs.Bool("online", false, "then try each key and token once against its service (read-only; posts nothing)")
}

func cmdValidate(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f validateFlags
	fs := newFlagSet("validate", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd validate --config FILE [--print] [--online]\n\n"+
			"Loads the config with its environment overrides and reports every problem at once.\n"+
			"With --online, then tries each account's keys once against its provider and each\n"+
			"notifier's credential where its service has a harmless call, says what each can\n"+
			"read or why not, and exits 1 if any was refused or unreachable.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" {
		return usagef("validate: --config is required")
	}
	reads := config.AllSecrets
	if *f.print && !*f.online {
		reads = config.NoSecrets // printing shows where secrets are kept, never their values
	}
	cfg, err := config.LoadFile(*f.config, getenv, reads)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK, %d accounts, %d notifiers, schedule %q\n", *f.config, len(cfg.Accounts), len(cfg.Notifiers), cfg.Schedule.S)
	fmt.Fprintf(stdout, "  state %s (retention %s), http %s\n", cfg.State.Describe(), cfg.State.Retention.Duration, cfg.HTTP.Addr.S)
	for _, a := range cfg.Accounts {
		ar := "auto-recharge off"
		if r := a.AutoRecharge; r.Enabled {
			switch r.Mode {
			case "add":
				ar = fmt.Sprintf("auto-recharge adds %s below %s", r.Amount.Display(), r.Threshold.Display())
			default:
				ar = fmt.Sprintf("auto-recharge restores to %s below %s", r.Target.Display(), r.Threshold.Display())
			}
		}
		fmt.Fprintf(stdout, "  account %s: %s, %s, %s, drawdown %s; source %s\n",
			a.Name, a.Provider, a.Currency, ar, a.Drawdown, a.Source.Describe())
		fmt.Fprintf(stdout, "    sees: %s\n", status.SightLine(cfg, a))
	}
	for _, n := range cfg.Notifiers {
		fmt.Fprintf(stdout, "  notifier %s: %s, severity %s and above\n", n.Name, n.Type, n.MinSeverity)
	}
	if !cfg.Heartbeat.URL.IsZero() {
		fmt.Fprintf(stdout, "  heartbeat: %s\n", cfg.Heartbeat.Describe())
	}
	if *f.print {
		if err := cfg.Dump(stdout); err != nil {
			return err
		}
	}
	if *f.online {
		return validateOnline(ctx, cfg, clock.Clock{}.Now(), stdout)
	}
	return nil
}
