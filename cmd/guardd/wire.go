package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
	"github.com/robfig/cron/v3"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/heartbeat"
	"go.uber.org/zap"
)

// buildAccounts opens each account's source, as its type's configuration
// says (config.SourceKinds). Cost cursors start in memory; guard.Load
// resumes them from the stored history (guard.CostResumer), so a restart
// does not re-read the cost lookback.
func buildAccounts(cfg *config.Config) ([]guard.Account, error) {
	var out []guard.Account
	for i, a := range cfg.Accounts {
		src, err := a.Source.Open(a.Account)
		if err != nil {
			return nil, fmt.Errorf("accounts[%d] (%s): %w", i, a.Name, err)
		}
		out = append(out, guard.Account{Account: a.Account, Source: src, Group: a.Source.Type})
	}
	return out, nil
}

// pollerOf is the poller the config's poll section bounds: every account's
// poll, and each provider's (its source type).
func pollerOf(cfg *config.Config) poller.Poller {
	return poller.Poller{Concurrency: cfg.Poll.Concurrency.N, PerGroup: cfg.Poll.PerSource()}
}

// buildReceivers makes each configured receiver's notifier, as its type's
// configuration says (config.ReceiverKinds). Pacing (notifiers[].pacing) is
// applied by the outbox, which folds the excess of a burst into one digest
// and marks it sent only once delivered. interactive is true only for
// guardd run, the one mode that answers the Slack buttons (Socket Mode);
// messages from check carry none.
func buildReceivers(cfg *config.Config, stdout io.Writer, log *zap.Logger, interactive bool) ([]alert.Receiver, error) {
	out := make([]alert.Receiver, len(cfg.Notifiers))
	for i := range cfg.Notifiers {
		r, err := buildReceiver(cfg, i, stdout, log, interactive)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// buildReceiver builds the config's notifier i.
func buildReceiver(cfg *config.Config, i int, stdout io.Writer, log *zap.Logger, interactive bool) (alert.Receiver, error) {
	// Each account's billing page, and its page on guardd's listener when
	// http.external_url says where that is, linked from its messages.
	links, pages := make(map[string]string), make(map[string]string)
	for _, a := range cfg.Accounts {
		if u := config.BillingPage(a.Provider); u != "" {
			links[a.Name] = u
		}
		if u := cfg.HTTP.AccountPage(a.Name); u != "" {
			pages[a.Name] = u
		}
	}
	n := cfg.Notifiers[i]
	nt, err := n.New(alert.Deps{Stdout: stdout, Log: log.With(zap.String("receiver", n.Name)), Links: links, Pages: pages,
		Interactive: interactive})
	if err != nil {
		return alert.Receiver{}, fmt.Errorf("notifiers[%d] (%s): %w", i, n.Name, err)
	}
	return alert.Receiver{Name: n.Name, MinSeverity: n.MinSeverity, Accounts: n.Accounts, Notifier: nt, Pace: n.Pace()}, nil
}

// deliveryBackoff, when not zero, is the first and the longest wait
// between in-run delivery attempts (Retry-After included), instead of the
// dispatcher's defaults. The tests that run guardd in-process set it short:
// what they check of a retried delivery does not depend on how long it
// waited.
var deliveryBackoff time.Duration

// app is what check and run work with: the config, the logger, the guard and
// the state store it writes to (nil in a dry run, which only reads the one
// it opened, if there is one).
type app struct {
	cfg    *config.Config
	log    *zap.Logger
	guard  *guard.Guard
	store  *store.Store
	opened *store.Store
	// receivers and policy are the guard's, for resending (resend.go).
	receivers []alert.Receiver
	policy    lifecycle.Policy
	// beat pings the dead-man's switch after each cycle; nil when none is
	// configured, and in a dry run.
	beat *heartbeat.Pinger
	// claims share the accounts with the other replicas of guardd run on
	// PostgreSQL; nil otherwise.
	claims *store.Claimer
}

// Close closes the state store.
func (a *app) Close() error {
	if a.claims != nil {
		a.claims.Close()
	}
	if a.opened == nil {
		return nil
	}
	return a.opened.Close()
}

// replicate makes a's guard one replica among the guardd run processes on
// its PostgreSQL state: each cycle polls the accounts it claims, until
// every account was polled in the tick. It returns the schedule to run
// cycles on: sched, except that "@every D" becomes every D from a fixed
// origin, so that replicas started at different moments tick at the same
// times (cron counts @every from each process's start, and two replicas a
// second apart would each take the other's polls for an earlier tick's).
// On SQLite it does nothing: one daemon holds the file.
func replicate(ctx context.Context, a *app, sched cron.Schedule, now time.Time) (cron.Schedule, error) {
	if !a.cfg.State.Postgres() {
		return sched, nil
	}
	cl, err := a.opened.NewClaimer(ctx)
	if err != nil {
		return nil, err
	}
	a.claims = cl
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		sched = alignedEvery(every.Delay)
	}
	a.guard.Share(cl, sched)
	return sched, nil
}

// alignedEvery is a schedule of every d from the zero time (time.Truncate):
// the same times in every process, whenever it started.
type alignedEvery time.Duration

// Next implements cron.Schedule.
func (e alignedEvery) Next(t time.Time) time.Time {
	d := time.Duration(e)
	return t.Truncate(d).Add(d)
}

// openStore opens the state the config's state section names: the SQLite
// file, or the PostgreSQL database.
func openStore(ctx context.Context, st config.State) (*store.Store, error) {
	opts := store.Options{Retention: st.Retention.Duration}
	if st.Postgres() {
		return store.OpenPostgres(ctx, st.DSN.Value.Reveal(), opts)
	}
	return store.Open(ctx, st.Path.Name, opts)
}

// setup loads the config and builds the logger, opens the state store and
// builds the guard with the history it holds. A dry run changes nothing: it
// decides against the database's alerts and silences, if there is one,
// keeps every write in memory, and prints what would be sent instead of
// sending it. daemon is true for guardd run: its Slack messages carry the
// buttons it answers, and it holds each account's ledger frozen between
// polls, so that its memory follows the checkpoints; a check, which polls
// once, holds them live (guard.Options.LiveLedgers).
func setup(ctx context.Context, cfgPath string, getenv getenvFunc, stdout, stderr io.Writer, dryRun, daemon bool, now time.Time) (*app, error) {
	cfg, err := config.LoadFile(cfgPath, getenv, config.AllSecrets)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log.Format.S, cfg.Log.Level.S, stderr)
	if err != nil {
		return nil, err
	}
	accounts, err := buildAccounts(cfg)
	if err != nil {
		return nil, err
	}
	receivers, err := buildReceivers(cfg, stdout, log, daemon)
	if err != nil {
		return nil, err
	}
	in, err := cfg.Inbox()
	if err != nil {
		return nil, err
	}
	if log.Core().Enabled(zap.InfoLevel) {
		// What a file source sees is read off its whole history: only
		// when it is logged, and once.
		engine := rules.New(cfg.Params)
		for _, ac := range cfg.Accounts {
			sight := ac.Sight()
			live, off := engine.Live(sight)
			log.Info("account sees", zap.String("account", ac.Name), zap.String("sees", sight.String()),
				zap.Strings("live", live), zap.Strings("off", off))
		}
	}
	a := &app{cfg: cfg, log: log}
	opts := guard.Options{
		Params:     cfg.Params,
		Ledger:     cfg.Ledger,
		Poller:     pollerOf(cfg),
		Dispatcher: &alert.Dispatcher{Backoff: deliveryBackoff, MaxWait: deliveryBackoff, Log: log},
		Receivers:  receivers,
		Policy: lifecycle.Policy{Repeat: cfg.Alerting.Repeat(), ResolveAfter: cfg.Alerting.ResolveAfter.N,
			DigestAt: lifecycle.DefaultDigestAt},
		Inbox:       in,
		Log:         log,
		LiveLedgers: !daemon,
	}
	if _, statErr := os.Stat(cfg.State.Path.Name); !dryRun || statErr == nil || cfg.State.Postgres() {
		if a.opened, err = openStore(ctx, cfg.State); err != nil {
			return nil, err
		}
		if left := a.opened.LeftOpen(); len(left) > 0 {
			log.Warn("state database left open by a process that ended without closing it; checked whole: no damage found",
				zap.String("state", cfg.State.Path.Name), zap.Strings("left_open_by", left))
		}
		opts.State, opts.History = a.opened.Lifecycle(), a.opened
	}
	if dryRun {
		opts.State = lifecycle.NewOverlay(opts.State)
		opts.Receivers = []alert.Receiver{{Name: "dry-run", Notifier: alert.NewWriter(stdout, alert.FormatText)}}
		opts.Policy.Immediate = true
		// One account at a time, in the config's order: what a dry run
		// prints is read by people and compared with what it printed
		// before, so it comes in one order, not in the order polls return.
		opts.Poller.Concurrency, opts.Poller.PerGroup = 1, nil
	} else {
		a.store, a.beat = a.opened, cfg.Heartbeat.New(log)
	}
	a.receivers, a.policy = opts.Receivers, opts.Policy
	a.guard = guard.New(accounts, opts)
	if err := a.guard.Load(ctx, now); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}
