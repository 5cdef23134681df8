package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/config"
)

// testRule is the rule name of the test alerts guardd notify test sends.
const testRule = "notify-test"

// notifyTestFlags are guardd notify test's flags.
type notifyTestFlags struct {
	config, receiver *string
	resolve          *bool
}

func (f *notifyTestFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.receiver = fs.String("receiver", "", "the notifier to test, by `NAME` (required)")
	f.resolve = fs.Bool("resolve", true, "resolve the test alert right after, so that none stays open")
}

func cmdNotifyTest(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f notifyTestFlags
	fs := newFlagSet("notify test", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd notify test --config FILE --receiver NAME [--resolve=false]\n\n"+
			"Sends a test alert, clearly marked as one, through one configured notifier, then its\n"+
			"resolution, and reports what the receiver answered. It ignores the notifier's\n"+
			"min_severity and accounts, and keeps no state.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" || *f.receiver == "" {
		return usagef("notify test: --config and --receiver are required")
	}
	// Only the receiver under test needs its secrets.
	cfg, err := config.LoadFile(*f.config, getenv, config.NoSecrets)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cfg.Notifiers, func(n config.Notifier) bool { return n.Name == *f.receiver })
	if i < 0 {
		if len(cfg.Notifiers) == 0 {
			return usagef("notify test: unknown receiver %q: the config has no notifiers", *f.receiver)
		}
		names := make([]string, len(cfg.Notifiers))
		for j, n := range cfg.Notifiers {
			names[j] = n.Name
		}
		return usagef("notify test: unknown receiver %q (want one of %s)", *f.receiver, strings.Join(names, ", "))
	}
	if cfg, err = config.LoadFile(*f.config, getenv, config.SecretsUnder(fmt.Sprintf("notifiers[%d]", i))); err != nil {
		return err
	}
	nc := cfg.Notifiers[i]
	log, err := newLogger(cfg.Log.Format.S, cfg.Log.Level.S, stderr)
	if err != nil {
		return err
	}
	r, err := buildReceiver(cfg, i, stdout, log, false)
	if err != nil {
		return err
	}

	n := testNotification(cfg, nc, time.Now().UTC())
	// One attempt: the point is to see what the receiver answers.
	d := &alert.Dispatcher{Attempts: 1, Log: log}
	ref, err := d.Deliver(ctx, r, n)
	if err != nil {
		return fmt.Errorf("notify test: receiver %s (%s) failed: %w", r.Name, nc.Describe(), err)
	}
	fmt.Fprintf(stdout, "notify test: sent a test alert to %s (%s)", r.Name, nc.Describe())
	if !ref.IsZero() {
		fmt.Fprintf(stdout, ": message %s", ref.MessageID)
		if ref.Channel != "" {
			fmt.Fprintf(stdout, " in %s", ref.Channel)
		}
	}
	fmt.Fprintln(stdout)
	if !*f.resolve {
		return nil
	}
	res := n
	res.Status, res.At, res.Ref = alert.StatusResolved, time.Now().UTC(), ref
	if _, err := d.Deliver(ctx, r, res); err != nil {
		return fmt.Errorf("notify test: receiver %s took the test alert but not its resolution: %w", r.Name, err)
	}
	fmt.Fprintf(stdout, "notify test: resolved the test alert at %s\n", r.Name)
	return nil
}

// testNotification is the test alert: rule notify-test, at the receiver's
// least severity, about the receiver's first account (or the config's).
func testNotification(cfg *config.Config, nc config.Notifier, now time.Time) alert.Notification {
	account := "guardd"
	switch {
	case len(nc.Accounts) > 0:
		account = nc.Accounts[0]
	case len(cfg.Accounts) > 0:
		account = cfg.Accounts[0].Name
	}
	sev := nc.MinSeverity
	if sev.Rank() == 0 {
		sev = billing.SeverityInfo
	}
	f := billing.Finding{
		Rule:     testRule,
		Severity: sev,
		Account:  account,
		// A new entity per run, so that a test never threads under or
		// resolves another one.
		Entity: "test:" + now.Format(time.RFC3339Nano),
		At:     now,
		Summary: fmt.Sprintf("TEST ALERT from `guardd notify test`: notifier %s can reach this receiver. "+
			"Nothing is wrong with %s; no action is needed.", nc.Name, account),
		Evidence:       []billing.Evidence{{What: "test", At: now, Note: "sent by guardd notify test"}},
		Recommendation: "None: this is a test. A resolution follows unless the test ran with --resolve=false.",
	}
	return alert.Notification{Status: alert.StatusFiring, Finding: f, At: now}
}
