package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/user"
	"slices"
	"strconv"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/suggest"
)

// silenceNote ends each silence subcommand's help.
const silenceNote = `A silenced finding is still recorded, but not sent; it fires when the silence ends if it
still holds. --account empty silences the rule on every account.
`

// silenceCommands are guardd silence's subcommands, which manage silences in
// the state database.
func silenceCommands() []command {
	return []command{
		{name: "add", synopsis: "--config FILE --rule RULE [--account NAME] --for DURATION --comment TEXT [--by NAME]",
			summary: "silence a rule, on one account or every one, for a while",
			flags:   new(silenceAddFlags).define,
			run:     plain(cmdSilenceAdd)},
		{name: "list", synopsis: "--config FILE [--all]", summary: "list the active silences (--all: the ended ones too)",
			flags: new(silenceListFlags).define,
			run:   plain(cmdSilenceList)},
		{name: "expire", synopsis: "--config FILE ID", summary: "end a silence now",
			flags: new(silenceExpireFlags).define,
			run:   plain(cmdSilenceExpire)},
	}
}

// silenceFlagSet is the flag set of guardd silence's subcommand sub, with
// its help.
func silenceFlagSet(sub string, define func(*flag.FlagSet, getenvFunc), getenv getenvFunc) *flag.FlagSet {
	fs := newFlagSet("silence "+sub, define, getenv)
	c, _ := find(silenceCommands(), sub)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd silence %s %s\n\n%s\n", sub, c.synopsis, silenceNote)
		fs.PrintDefaults()
	}
	return fs
}

// silenceAddFlags are guardd silence add's flags.
type silenceAddFlags struct {
	config, rule, account, comment, by *string
	dur                                *time.Duration
}

func (f *silenceAddFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.rule = fs.String("rule", "", "`RULE` to silence (required)")
	f.account = fs.String("account", "", "account to silence it on, by `NAME` (default: every account)")
	f.dur = durationFlag(fs, "for", 0, "how long, a `DURATION` such as 24h, 2d or 1d12h (required)")
	f.comment = fs.String("comment", "", "why, as `TEXT` (required)")
	f.by = fs.String("by", "", "who silences it, by `NAME` ("+byDefault+")")
}

func cmdSilenceAdd(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f silenceAddFlags
	fs := silenceFlagSet("add", f.define, getenv)
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" || *f.rule == "" || *f.dur <= 0 || *f.comment == "" {
		return usagef("silence add: --config, --rule, --for (above 0) and --comment are required")
	}
	if names := rules.New(rules.DefaultParams()).Names(); !slices.Contains(names, *f.rule) {
		return usagef("silence add: %s", suggest.Unknown("rule", *f.rule, names))
	}
	if *f.by == "" {
		by, err := whoAmI(getenv, user.Current)
		if err != nil {
			return usagef("silence add: %v", err)
		}
		*f.by = by
	}
	cfg, st, err := openState(ctx, *f.config, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	if *f.account != "" && !slices.ContainsFunc(cfg.Accounts, func(a config.Account) bool { return a.Name == *f.account }) {
		return usagef("silence add: account %q is not in %s", *f.account, *f.config)
	}
	now := clock.Clock{}.Now()
	var id int64
	if err := st.Lifecycle().Update(ctx, func(tx lifecycle.Tx) error {
		id, err = tx.AddSilence(lifecycle.Silence{Rule: *f.rule, Account: *f.account, Start: now, End: now.Add(*f.dur), Comment: *f.comment, CreatedBy: *f.by})
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "silence #%d: %s on %s until %s\n", id, *f.rule, orEvery(*f.account), alert.FormatTime(now.Add(*f.dur)))
	return nil
}

// silenceListFlags are guardd silence list's flags.
type silenceListFlags struct {
	config *string
	all    *bool
}

func (f *silenceListFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.all = fs.Bool("all", false, "include ended silences")
}

func cmdSilenceList(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f silenceListFlags
	fs := silenceFlagSet("list", f.define, getenv)
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" {
		return usagef("silence list: --config is required")
	}
	_, st, err := openState(ctx, *f.config, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	now := clock.Clock{}.Now()
	at := now
	if *f.all {
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
}

// silenceExpireFlags are guardd silence expire's flags.
type silenceExpireFlags struct{ config *string }

func (f *silenceExpireFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
}

func cmdSilenceExpire(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f silenceExpireFlags
	fs := silenceFlagSet("expire", f.define, getenv)
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" || fs.NArg() != 1 {
		return usagef("silence expire: want --config FILE and one silence ID")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return usagef("silence expire: %q is not a silence ID", fs.Arg(0))
	}
	_, st, err := openState(ctx, *f.config, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	now := clock.Clock{}.Now()
	if err := st.Lifecycle().Update(ctx, func(tx lifecycle.Tx) error { return tx.ExpireSilence(id, now) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "silence #%d expired\n", id)
	return nil
}

func orEvery(account string) string {
	if account == "" {
		return "every account"
	}
	return account
}
