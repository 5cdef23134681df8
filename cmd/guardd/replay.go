package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/rules"
)

// replayFlags are guardd replay's flags.
type replayFlags struct {
	output, config *string
}

func (f *replayFlags) define(fs *flag.FlagSet, _ getenvFunc) {
	f.output = fs.String("output", "text", "output format: `text|json` (json: one JSON object per line)")
	f.config = fs.String("config", "", "take rule parameters from this config `FILE` (default: built-in defaults)")
}

func cmdReplay(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f replayFlags
	fs := newFlagSet("replay", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd replay [--output text|json] [--config FILE] HISTORY.json\n\n"+
			"Plays a history file through the rules as if it were polled live, evaluating after each\n"+
			"observation, and prints each finding at the time it would have fired. SIGINT or SIGTERM\n"+
			"stops it before the next observation; it then exits 1, saying how far it got.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("replay: want exactly one history file, got %d arguments", fs.NArg())
	}
	format := alert.Format(*f.output)
	if format != alert.FormatText && format != alert.FormatJSON {
		return usagef("replay: --output %q: want text or json", *f.output)
	}
	params, lopts := rules.DefaultParams(), ledger.DefaultOptions()
	policy := lifecycle.Policy{ResolveAfter: config.DefaultResolveAfter}
	if *f.config != "" {
		cfg, err := config.LoadFile(*f.config, getenv, config.NoSecrets)
		if err != nil {
			return err
		}
		params, lopts, policy.ResolveAfter = cfg.Params, cfg.Ledger, cfg.Alerting.ResolveAfter.N
	}

	path := fs.Arg(0)
	_, h, err := file.Open(path)
	if err != nil {
		return err
	}
	out := alert.NewWriter(stdout, format)
	err = guard.Replay(ctx, h.Account, path, h.Observations, guard.Options{
		Params: params,
		Ledger: lopts,
		Policy: policy,
		Receivers: []alert.Receiver{
			{Name: "stdout", MinSeverity: billing.SeverityInfo, Notifier: out},
		},
	}, func(int, guard.Report) error { return nil })
	var oe *guard.ObservationError
	if errors.As(err, &oe) {
		return fmt.Errorf("%s: %w", path, err)
	}
	var se *guard.StoppedError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: replay interrupted: %w", path, err)
	}
	if err != nil {
		return err
	}
	if format == alert.FormatText {
		first, last := h.Observations[0].At, h.Observations[len(h.Observations)-1].At
		if out.Count() > 0 {
			io.WriteString(stdout, "\n")
		}
		fmt.Fprintf(stdout, "replayed %d observations of %s from %s to %s: %s\n",
			len(h.Observations), h.Account.Name, alert.FormatTime(first), alert.FormatTime(last), countWords(out.Count()))
	}
	return nil
}

func countWords(n int) string {
	switch n {
	case 0:
		return "no findings"
	case 1:
		return "1 notification"
	}
	return fmt.Sprintf("%d notifications", n)
}
