package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/status"
)

// validateFlags are guardd validate's flags.
type validateFlags struct {
	config *string
	print  *bool
}

func (f *validateFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.print = fs.Bool("print", false, "print the effective config, with where each secret is kept; reads no secret")
}

func cmdValidate(args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f validateFlags
	fs := newFlagSet("validate", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd validate --config FILE [--print]\n\n"+
			"Loads the config with its environment overrides and reports every problem at once.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" {
		return usagef("validate: --config is required")
	}
	reads := config.AllSecrets
	if *f.print {
		reads = config.NoSecrets // printing shows where secrets are kept, never their values
	}
	cfg, err := config.LoadFile(*f.config, getenv, reads)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK, %d accounts, %d notifiers, schedule %q\n", *f.config, len(cfg.Accounts), len(cfg.Notifiers), cfg.Schedule.S)
	fmt.Fprintf(stdout, "  state %s (retention %s), http %s\n", cfg.State.Path.Name, cfg.State.Retention.Duration, cfg.HTTP.Addr.S)
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
	if *f.print {
		return cfg.Dump(stdout)
	}
	return nil
}
