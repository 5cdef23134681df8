package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/guard"
	"go.uber.org/zap"
)

// checkFlags are guardd check's flags.
type checkFlags struct {
	config *string
	dryRun *bool
}

func (f *checkFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.dryRun = fs.Bool("dry-run", false, "print the notifications instead of sending them")
}

func cmdCheck(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f checkFlags
	fs := newFlagSet("check", f.define, getenv)
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
	if *f.config == "" {
		return usagef("check: --config is required")
	}
	clk := clock.Clock{}
	a, err := setup(ctx, *f.config, getenv, stdout, stderr, *f.dryRun, false, clk.Now())
	if err != nil {
		return err
	}
	defer a.Close()
	defer a.log.Sync()
	err = cycle(ctx, a, clk)
	if a.store != nil {
		prune(ctx, a, clk.Now())
	}
	return err
}

// prune applies the retention; a failure is logged, not fatal.
func prune(ctx context.Context, a *app, now time.Time) {
	st, err := a.store.Prune(ctx, now)
	if err != nil {
		a.log.Warn("prune state database", zap.Error(err))
		return
	}
	a.log.Debug("pruned state database", zap.Int64("observations", st.Observations), zap.Int64("findings", st.Findings),
		zap.Int64("polls", st.Polls), zap.Int64("outbox_sent", st.OutboxSent))
}

// cycle runs one guard cycle and logs what it did. It returns an error when
// an account could not be read or a notification was not delivered.
func cycle(ctx context.Context, a *app, clk clock.Clock) error {
	_, err := cycleReport(ctx, a, clk)
	return err
}

// cycleReport is cycle, also returning the cycle's report.
func cycleReport(ctx context.Context, a *app, clk clock.Clock) (guard.Report, error) {
	log := a.log
	rep, err := a.guard.Cycle(ctx, clk.Now())
	for _, f := range rep.Failed {
		log.Error("account not read", zap.String("account", f.Account), zap.Error(f.Err))
	}
	for _, h := range rep.Held {
		log.Warn("suspect reading held until the next poll", zap.String("account", h.Account), zap.String("why", h.Err.Error()))
	}
	for name, ar := range rep.Accounts {
		for _, p := range billing.Parts {
			if why, ok := ar.Unavailable[p]; ok {
				log.Warn("part of account not read", zap.String("account", name), zap.String("part", string(p)), zap.String("why", why))
			}
		}
	}
	for name, s := range rep.States {
		log.Info("account polled", zap.String("account", name),
			zap.String("effective", s.Effective.String()), zap.Bool("effective_known", s.EffectiveKnown),
			zap.String("shown", s.Shown.String()), zap.Bool("shown_known", s.ShownKnown))
	}
	log.Info("cycle done", zap.Int("polled", rep.Polled), zap.Int("failed", len(rep.Failed)),
		zap.Int("findings", rep.Findings), zap.Int("notifications", len(rep.Sent)),
		zap.Int("delivered", rep.Delivery.Sent), zap.Int("delivery_failed", rep.Delivery.Failed), zap.Int("given_up", rep.Delivery.GaveUp))
	switch {
	case err != nil:
		return rep, fmt.Errorf("deliver notifications: %w", err)
	case len(rep.Failed) > 0:
		return rep, fmt.Errorf("%d of %d accounts could not be read", len(rep.Failed), len(rep.Failed)+rep.Polled)
	}
	return rep, nil
}
