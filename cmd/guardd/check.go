package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/guard"
	"go.uber.org/zap"
)

func cmdCheck(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (required)")
	dryRun := fs.Bool("dry-run", false, "print the notifications instead of sending them")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd check --config FILE [--dry-run]\n\n"+
			"Polls every account once, evaluates the rules, sends the notifications due and exits:\n"+
			"what a Kubernetes CronJob runs. Exits 1 when an account could not be read or a\n"+
			"notification could not be delivered.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *cfgPath == "" {
		return usagef("check: --config is required")
	}
	_, log, g, err := setup(*cfgPath, getenv, stdout, stderr, *dryRun)
	if err != nil {
		return err
	}
	defer log.Sync()
	return cycle(ctx, g, clock.Clock{}, log)
}

// cycle runs one guard cycle and logs what it did. It returns an error when
// an account could not be read or a notification was not delivered.
func cycle(ctx context.Context, g *guard.Guard, clk clock.Clock, log *zap.Logger) error {
	rep, err := g.Cycle(ctx, clk.Now())
	for _, f := range rep.Failed {
		log.Error("account not read", zap.String("account", f.Account), zap.Error(f.Err))
	}
	for name, s := range rep.States {
		log.Info("account polled", zap.String("account", name),
			zap.String("effective", s.Effective.String()), zap.Bool("effective_known", s.EffectiveKnown),
			zap.String("shown", s.Shown.String()), zap.Bool("shown_known", s.ShownKnown))
	}
	log.Info("cycle done", zap.Int("polled", rep.Polled), zap.Int("failed", len(rep.Failed)),
		zap.Int("findings", rep.Findings), zap.Int("notifications", len(rep.Sent)))
	switch {
	case err != nil:
		return fmt.Errorf("deliver notifications: %w", err)
	case len(rep.Failed) > 0:
		return fmt.Errorf("%d of %d accounts could not be read", len(rep.Failed), len(rep.Failed)+rep.Polled)
	}
	return nil
}
