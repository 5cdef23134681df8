package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/rules"
)

const silenceUsage = `Usage:
  guardd silence add --config FILE --rule RULE [--account NAME] --for DURATION --comment TEXT [--by NAME]
  guardd silence list --config FILE [--all]
  guardd silence expire --config FILE ID

A silenced finding is still recorded, but not sent; it fires when the silence ends if it
still holds. --account empty silences the rule on every account.
`

// cmdSilence manages silences in the state database.
func cmdSilence(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, silenceUsage)
		return usagef("silence: want add, list or expire")
	}
	fs := flag.NewFlagSet("silence "+args[0], flag.ContinueOnError)
	fs.Usage = func() { io.WriteString(fs.Output(), silenceUsage) }
	cfgPath := configFlag(fs, getenv)
	now := clock.Clock{}.Now()
	switch args[0] {
	case "add":
		rule := fs.String("rule", "", "rule to silence (required)")
		account := fs.String("account", "", "account to silence it on (default: every account)")
		dur := fs.Duration("for", 0, "how long, e.g. 24h (required)")
		comment := fs.String("comment", "", "why (required)")
		by := fs.String("by", "", "who (default: $USER)")
		if ok, err := parseFlags(fs, args[1:], stderr); !ok {
			return err
		}
		if *cfgPath == "" || *rule == "" || *dur <= 0 || *comment == "" {
			return usagef("silence add: --config, --rule, --for (above 0) and --comment are required")
		}
		if names := rules.New(rules.DefaultParams()).Names(); !slices.Contains(names, *rule) {
			return usagef("silence add: unknown rule %q (want one of %v)", *rule, names)
		}
		if *by == "" {
			*by, _ = getenv("USER")
			if *by == "" {
				*by = "guardd silence"
			}
		}
		cfg, st, err := openState(ctx, *cfgPath, getenv)
		if err != nil {
			return err
		}
		defer st.Close()
		if *account != "" && !slices.ContainsFunc(cfg.Accounts, func(a config.Account) bool { return a.Name == *account }) {
			return usagef("silence add: account %q is not in %s", *account, *cfgPath)
		}
		var id int64
		if err := st.Lifecycle().Update(ctx, func(tx lifecycle.Tx) error {
			id, err = tx.AddSilence(lifecycle.Silence{Rule: *rule, Account: *account, Start: now, End: now.Add(*dur), Comment: *comment, CreatedBy: *by})
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "silence #%d: %s on %s until %s\n", id, *rule, orEvery(*account), alert.FormatTime(now.Add(*dur)))
		return nil
	case "list":
		all := fs.Bool("all", false, "include ended silences")
		if ok, err := parseFlags(fs, args[1:], stderr); !ok {
			return err
		}
		if *cfgPath == "" {
			return usagef("silence list: --config is required")
		}
		_, st, err := openState(ctx, *cfgPath, getenv)
		if err != nil {
			return err
		}
		defer st.Close()
		at := now
		if *all {
			at = time.Time{}
		}
		var ss []lifecycle.Silence
		if err := st.Lifecycle().View(ctx, func(tx lifecycle.Tx) error { ss, err = tx.Silences(at); return err }); err != nil {
			return err
		}
		if len(ss) == 0 {
			fmt.Fprintln(stdout, "no silences")
		}
		for _, s := range ss {
			state := "active"
			switch {
			case !s.ExpiredAt.IsZero():
				state = "expired " + alert.FormatTime(s.ExpiredAt)
			case !s.End.After(now):
				state = "ended"
			}
			fmt.Fprintf(stdout, "#%d  %s on %s  %s to %s  %s  by %s: %s\n", s.ID, orAny(s.Rule), orEvery(s.Account),
				alert.FormatTime(s.Start), alert.FormatTime(s.End), state, s.CreatedBy, s.Comment)
		}
		return nil
	case "expire":
		if ok, err := parseFlags(fs, args[1:], stderr); !ok {
			return err
		}
		if *cfgPath == "" || fs.NArg() != 1 {
			return usagef("silence expire: want --config FILE and one silence ID")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return usagef("silence expire: %q is not a silence ID", fs.Arg(0))
		}
		_, st, err := openState(ctx, *cfgPath, getenv)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Lifecycle().Update(ctx, func(tx lifecycle.Tx) error { return tx.ExpireSilence(id, now) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "silence #%d expired\n", id)
		return nil
	}
	io.WriteString(stderr, silenceUsage)
	return usagef("silence: unknown subcommand %q (want add, list or expire)", args[0])
}

func orEvery(account string) string {
	if account == "" {
		return "every account"
	}
	return account
}
