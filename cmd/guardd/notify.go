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

func cmdNotify(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprint(stderr, "Usage: guardd notify test --config FILE --receiver NAME [--resolve=false]\n")
		if len(args) == 0 {
			return usagef("notify: want a subcommand: test")
		}
		return usagef("notify: unknown subcommand %q (want test)", args[0])
	}
	fs := flag.NewFlagSet("notify test", flag.ContinueOnError)
	cfgPath := configFlag(fs, getenv)
	name := fs.String("receiver", "", "the notifier to test, by name (required)")
	resolve := fs.Bool("resolve", true, "resolve the test alert right after, so that none stays open")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd notify test --config FILE --receiver NAME [--resolve=false]\n\n"+
			"Sends a test alert, clearly marked as one, through one configured notifier, then its\n"+
			"resolution, and reports what the receiver answered. It ignores the notifier's\n"+
			"min_severity and accounts, and keeps no state.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args[1:], stderr); !ok {
		return err
	}
	if *cfgPath == "" || *name == "" {
		return usagef("notify test: --config and --receiver are required")
	}
	// Only the receiver under test needs its secrets.
	cfg, err := config.LoadFile(*cfgPath, getenv, config.NoSecrets)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cfg.Notifiers, func(n config.Notifier) bool { return n.Name == *name })
	if i < 0 {
		if len(cfg.Notifiers) == 0 {
			return usagef("notify test: unknown receiver %q: the config has no notifiers", *name)
		}
		names := make([]string, len(cfg.Notifiers))
		for j, n := range cfg.Notifiers {
			names[j] = n.Name
		}
		return usagef("notify test: unknown receiver %q (want one of %s)", *name, strings.Join(names, ", "))
	}
	if cfg, err = config.LoadFile(*cfgPath, getenv, config.SecretsUnder(fmt.Sprintf("notifiers[%d]", i))); err != nil {
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
	if !*resolve {
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
