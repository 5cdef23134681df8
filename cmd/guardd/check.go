package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/setting"
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
			"what a Kubernetes CronJob runs.\n\n"+checkExitCodes+"\n")
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
	rep, err := cycleReport(ctx, a, clk)
	if *f.dryRun && err == nil && len(rep.Sent) == 0 {
		err = playAhead(ctx, a, clk, stdout)
	}
	if a.store != nil {
		resend(ctx, a, clk.Now())
		prune(ctx, a, clk.Now())
	}
	if err == nil {
		err = partlyRead(rep)
	}
	return err
}

// checkExitCodes is guardd check's exit status, in its -h (docs/deploy.md
// says the same).
const checkExitCodes = `Exit status:
  0  every account was read in full and every notification due was delivered
  1  an account could not be read at all, a notification could not be delivered,
     the state could not be written, check could not start (config, state) or
     SIGINT or SIGTERM stopped it
  2  the command line is wrong
  3  every account was read, but a part of one was unavailable (the log's "part of
     account not read" lines say which); nothing else failed
`

// exitPartlyRead is guardd check's exit status when every account was read
// but some only in part.
const exitPartlyRead = 3

// partlyReadError says which accounts a cycle read only in part.
type partlyReadError struct {
	accounts []string // "acme (balance and grants unavailable)"
	total    int
}

func (e *partlyReadError) Error() string {
	return fmt.Sprintf("%d of %d accounts read only in part: %s", len(e.accounts), e.total, strings.Join(e.accounts, "; "))
}

// ExitCode gives main the exit status.
func (e *partlyReadError) ExitCode() int { return exitPartlyRead }

// partlyRead returns a *partlyReadError when a part of some account was
// unavailable in rep, nil when every account was read in full.
func partlyRead(rep guard.Report) error {
	var names []string
	for name, ar := range rep.Accounts {
		if len(ar.Unavailable) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	e := &partlyReadError{total: len(rep.Accounts)}
	for _, name := range names {
		var parts []string
		for _, p := range billing.Parts {
			if _, ok := rep.Accounts[name].Unavailable[p]; ok {
				parts = append(parts, string(p))
			}
		}
		e.accounts = append(e.accounts, fmt.Sprintf("%s (%s unavailable)", name, setting.AndList(parts)))
	}
	return e
}

// resend sends every alert firing now again to the receivers that forget
// what they are not told again (alert.Resender: Alertmanager, which keeps
// alerts in memory only), after each cycle of check and run and, in run,
// between cycles (daemon.resendLoop). The lifecycle picks the alerts from
// the state store (lifecycle.Resend); the cycle itself does not, so that
// the guard and its replay stay as they are. A failure is logged, never
// fatal: the next cycle or tick sends them all again, and the outbox still
// delivers every first message and resolution with its own retries. A dry
// run has no state store to read and resends nothing.
func resend(ctx context.Context, a *app, now time.Time) {
	if a.store == nil {
		return
	}
	if err := lifecycle.Resend(ctx, a.store.Lifecycle(), a.receivers, now, a.policy); err != nil {
		a.log.Warn("firing alerts not resent", zap.Error(err))
	}
}

// playAhead is a dry run's answer to a next poll that would send nothing
// while every account replays recorded data (a demo's file source, which a
// dry run never moves on, so it would show the same nothing every time): it
// plays on through the recorded observations, in memory, until something
// would be sent, an account cannot be read or the recording ends (or
// starts again), and says how far it went.
func playAhead(ctx context.Context, a *app, clk clock.Clock, stdout io.Writer) error {
	ahead := a.guard.Ahead()
	if ahead == 0 {
		return nil
	}
	for n := 1; n <= ahead; n++ {
		rep, err := cycleReport(ctx, a, clk)
		if len(rep.Sent) > 0 || len(rep.Failed) > 0 || err != nil {
			later := fmt.Sprintf("%d polls later", n)
			if n == 1 {
				later = "one poll later"
			}
			fmt.Fprintf(stdout, "(dry run: the next poll would send nothing; played on in memory, the recorded history brings the above %s)\n", later)
			return err
		}
	}
	fmt.Fprintf(stdout, "(dry run: nothing would be sent at the next poll, nor at any of the %d after it that the recorded history holds)\n", ahead)
	return nil
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
// an account could not be read, state could not be written or a
// notification was not delivered.
func cycle(ctx context.Context, a *app, clk clock.Clock) error {
	_, err := cycleReport(ctx, a, clk)
	return err
}

// cycleReport is cycle, also returning the cycle's report.
func cycleReport(ctx context.Context, a *app, clk clock.Clock) (rep guard.Report, err error) {
	a.beat.Start(ctx)
	defer func() { pingCycle(ctx, a, rep, err) }()
	rep, err = a.guard.Cycle(ctx, clk.Now())
	return rep, logCycle(a.log, rep, err, true)
}

func deliveryFields(res lifecycle.DrainResult) []zap.Field {
	return []zap.Field{zap.Int("delivered", res.Sent), zap.Int("delivery_failed", res.Failed), zap.Int("given_up", res.GaveUp)}
}

// logCycle logs what a cycle (or guardd run's polls, delivered apart)
// did, and returns its error: err as the cycle said it (writing state,
// reading mail, delivering), or else how many accounts could not be read.
// delivered says whether the cycle delivered what it decided.
func logCycle(log *zap.Logger, rep guard.Report, err error, delivered bool) error {
	for _, f := range rep.Failed {
		log.Error("account not read", zap.String("account", f.Account), zap.Error(f.Err))
	}
	for _, h := range rep.Held {
		log.Warn("suspect reading held until the next poll", zap.String("account", h.Account), zap.String("why", h.Err.Error()))
	}
	for name, ar := range rep.Accounts {
		for _, p := range billing.Parts {
			if st, ok := ar.Unavailable[p]; ok {
				log.Warn("part of account not read", zap.String("account", name), zap.String("part", string(p)),
					zap.String("cause", string(st.Cause)), zap.String("why", st.Unavailable))
			}
		}
	}
	for name, s := range rep.States {
		log.Info("account polled", zap.String("account", name),
			zap.String("effective", s.Effective.String()), zap.Bool("effective_known", s.EffectiveKnown),
			zap.String("shown", s.Shown.String()), zap.Bool("shown_known", s.ShownKnown))
	}
	fields := []zap.Field{zap.Int("polled", rep.Polled), zap.Int("failed", len(rep.Failed)),
		zap.Int("findings", rep.Findings), zap.Int("notifications", len(rep.Sent))}
	if delivered {
		fields = append(fields, deliveryFields(rep.Delivery)...)
	}
	log.Info("cycle done", fields...)
	switch {
	case err != nil:
		return err
	case len(rep.Failed) > 0:
		return fmt.Errorf("%d of %d accounts could not be read", len(rep.Failed), len(rep.Failed)+rep.Polled)
	}
	return nil
}
