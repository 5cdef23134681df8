package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/sdnotify"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

func cmdRun(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (required)")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long the cycle in progress may take to finish")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd run --config FILE\n\n"+
			"Polls every account now and then on the configured cron schedule until SIGINT or SIGTERM,\n"+
			"which let the cycle in progress finish (up to --shutdown-timeout).\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *cfgPath == "" {
		return usagef("run: --config is required")
	}
	clk := clock.Clock{}
	a, err := setup(ctx, *cfgPath, getenv, stdout, stderr, false, clk.Now())
	if err != nil {
		return err
	}
	defer a.Close()
	cfg, log := a.cfg, a.log
	defer log.Sync()
	prune(ctx, a, clk.Now())
	lastPrune := clk.Now()
	sched, err := cron.ParseStandard(cfg.Schedule)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", cfg.Schedule, err)
	}

	// Cycles get their own context: SIGTERM stops scheduling but lets the
	// cycle in progress finish, and only the grace timeout cancels it.
	jobCtx, cancelJobs := context.WithCancel(context.Background())
	defer cancelJobs()
	cl := cronLogger{log.Sugar()}
	c := cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl))
	job := cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)).Then(cron.FuncJob(func() {
		if err := cycle(jobCtx, a, clk, stdout); err != nil {
			log.Warn("cycle incomplete", zap.Error(err))
		}
		if now := clk.Now(); now.Sub(lastPrune) >= 24*time.Hour {
			prune(jobCtx, a, now)
			lastPrune = now
		}
	}))
	c.Schedule(sched, job)

	sd, err := sdnotify.New(getenv)
	if err != nil {
		return err
	}
	log.Info("guardd started", zap.String("schedule", cfg.Schedule), zap.Int("accounts", len(cfg.Accounts)),
		zap.Int("notifiers", len(cfg.Notifiers)), zap.Bool("systemd", sd.Enabled()))
	var first sync.WaitGroup
	first.Add(1)
	go func() { defer first.Done(); job.Run() }()
	c.Start()
	if err := sd.Send("READY=1"); err != nil {
		log.Warn("systemd notify failed", zap.Error(err))
	}
	if iv := sd.WatchdogInterval(); iv > 0 {
		go watchdog(ctx, sd, iv, log)
	}

	<-ctx.Done()
	if err := sd.Send("STOPPING=1"); err != nil {
		log.Warn("systemd notify failed", zap.Error(err))
	}
	log.Info("stopping: waiting for the cycle in progress", zap.Duration("timeout", *grace))
	done := make(chan struct{})
	go func() { <-c.Stop().Done(); first.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(*grace):
		log.Warn("cycle did not finish in time; cancelling it")
		cancelJobs()
		<-done
	}
	log.Info("guardd stopped")
	return nil
}

// watchdog pings systemd until ctx ends, so a hung process is restarted.
func watchdog(ctx context.Context, sd *sdnotify.Notifier, every time.Duration, log *zap.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := sd.Send("WATCHDOG=1"); err != nil {
				log.Warn("systemd watchdog ping failed", zap.Error(err))
			}
		}
	}
}

// cronLogger adapts zap to robfig/cron's logger.
type cronLogger struct{ s *zap.SugaredLogger }

func (l cronLogger) Info(msg string, kv ...any) { l.s.Debugw(msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.s.Errorw(msg, append(kv, "error", err)...)
}
