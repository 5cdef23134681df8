package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/guardd/guardd/internal/setting"
	"github.com/guardd/guardd/internal/suggest"
)

// proc is what a command gets from the process around it: the environment,
// the output streams and, for guardd run, the reload requests (SIGHUP).
type proc struct {
	getenv         getenvFunc
	stdout, stderr io.Writer
	// reload delivers a request to reload the config; nil means none come.
	reload <-chan struct{}
}

// plain adapts a command that needs only the environment and the output
// streams (every one but run, which also takes reloads) to the table's run.
func plain(f func(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error) func(context.Context, []string, proc) error {
	return func(ctx context.Context, args []string, p proc) error {
		return f(ctx, args, p.getenv, p.stdout, p.stderr)
	}
}

// command is one subcommand. The table below is the one list of them:
// dispatch, the help text, shell completion and the man page come from it.
type command struct {
	name string
	// synopsis follows the name in the help ("--config FILE [--dry-run]").
	synopsis string
	// summary says what it does, in a line.
	summary string
	// flags declares the command's flags on fs; nil when it takes none.
	// The command's run declares them through it too (newFlagSet), so
	// completion and the man page list exactly the flags it parses.
	flags func(fs *flag.FlagSet, getenv getenvFunc)
	// run runs the command with the arguments after its name; nil for a
	// command of subcommands.
	run func(ctx context.Context, args []string, p proc) error
	// subs are the subcommands (guardd silence add), each with its own
	// synopsis, flags and run.
	subs []command
}

func commands() []command {
	return []command{
		{name: "replay", synopsis: "[--output text|json] [--config FILE] HISTORY.json", summary: "play a recorded history through the rules",
			flags: new(replayFlags).define,
			run:   plain(cmdReplay)},
		{name: "check", synopsis: "--config FILE [--dry-run]", summary: "poll every account once, evaluate, notify, exit",
			flags: new(checkFlags).define,
			run:   plain(cmdCheck)},
		{name: "run", synopsis: "--config FILE", summary: "poll on the configured schedule until stopped",
			flags: new(runFlags).define,
			run: func(ctx context.Context, args []string, p proc) error {
				return cmdRun(ctx, args, p.getenv, p.stdout, p.stderr, p.reload)
			}},
		{name: "status", synopsis: "--config FILE [--account NAME] [--output text|json]", summary: "the real balance, runway, last poll, alerts and deliveries, from the state",
			flags: new(statusFlags).define,
			run:   plain(cmdStatus)},
		{name: "report", synopsis: "--config FILE --account NAME --out FILE.html [--from DAY --to DAY]", summary: "write an account's page as one HTML file that opens offline",
			flags: new(reportFlags).define,
			run:   plain(cmdReport)},
		{name: "evidence", synopsis: "--config FILE --account NAME --since TIME [--until TIME] [--format md|csv] [--all]",
			summary: "the charges findings cite, with receipts, credit and totals, for a refund request",
			flags:   new(evidenceFlags).define,
			run:     plain(cmdEvidence)},
		{name: "balance", synopsis: "--config FILE [--account NAME] [--output text|json]", summary: "poll every account now and print its real balance and runway",
			flags: new(balanceFlags).define,
			run:   plain(cmdBalance)},
		{name: "silence", synopsis: "add|list|expire", summary: "mute a rule for a while (see guardd silence)",
			subs: silenceCommands()},
		{name: "state", synopsis: "check|copy", summary: "check the state database for damage, or copy it to PostgreSQL (see guardd state)",
			subs: stateCommands()},
		{name: "record", synopsis: "--config FILE --out DIR", summary: "poll every account once, append to DIR/ACCOUNT.json",
			flags: new(recordFlags).define,
			run:   plain(cmdRecord)},
		{name: "validate", synopsis: "--config FILE [--print] [--online]", summary: "check a config file and report every problem",
			flags: new(validateFlags).define,
			run:   plain(cmdValidate)},
		{name: "test", synopsis: "TEST.yaml...", summary: "check the findings expected from a history",
			run: plain(cmdTest)},
		{name: "receipts", synopsis: "scan FILE...", summary: "print what guardd reads from receipt emails",
			subs: []command{{name: "scan", synopsis: "FILE...", summary: "print what guardd reads from each message",
				run: plain(cmdReceiptsScan)}}},
		{name: "notify", synopsis: "test --config FILE --receiver NAME", summary: "send a test alert through one notifier",
			subs: []command{{name: "test", synopsis: "--config FILE --receiver NAME [--resolve=false]", summary: "send a test alert and its resolution",
				flags: new(notifyTestFlags).define,
				run:   plain(cmdNotifyTest)}}},
		{name: "completion", synopsis: strings.Join(shellNames(), "|"), summary: "print the shell completion script",
			run: func(_ context.Context, args []string, p proc) error { return cmdCompletion(args, p.stdout, p.stderr) }},
		{name: "man", summary: "print the man page (roff)",
			run: func(_ context.Context, args []string, p proc) error { return cmdMan(args, p.stdout, p.stderr) }},
		{name: "version", summary: "print the version",
			run: func(_ context.Context, _ []string, p proc) error { return cmdVersion(p.stdout) }},
		{name: "help", summary: "print this help",
			run: func(_ context.Context, _ []string, p proc) error {
				_, err := io.WriteString(p.stdout, usage())
				return err
			}},
	}
}

// usage is the help text, made from the table of commands.
func usage() string {
	var b strings.Builder
	b.WriteString("guardd watches prepaid LLM API accounts for billing anomalies.\n\nUsage:\n")
	for _, c := range commands() {
		line := strings.TrimSpace("guardd " + c.name + " " + c.synopsis)
		if len(line) > 33 {
			fmt.Fprintf(&b, "  %s\n  %-33s%s\n", line, "", c.summary)
		} else {
			fmt.Fprintf(&b, "  %-33s%s\n", line, c.summary)
		}
	}
	fmt.Fprintf(&b, "\nCommands that take --config read it from $%s when the flag is not given.\n", configEnv)
	b.WriteString("Run \"guardd COMMAND -h\" for a command's flags.\n")
	return b.String()
}

// configEnv names the variable that gives --config its default.
const configEnv = "GUARDD_CONFIG"

// configFlag defines a command's --config flag, whose default is
// $GUARDD_CONFIG.
func configFlag(fs *flag.FlagSet, getenv getenvFunc) *string {
	def, _ := getenv(configEnv)
	return fs.String("config", def, "read the config from `FILE` (required; default $"+configEnv+")")
}

// usageError is a mistake on the command line; main exits 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// exitCode is the process's exit status for run's error: 0 for none, 2 for
// a usage error, the status an error gives itself with an ExitCode method
// (guardd check's 3: read only in part), 1 for any other.
func exitCode(err error) int {
	var u *usageError
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	case errors.As(err, &coded):
		return coded.ExitCode()
	}
	return 1
}

// getenvFunc looks up an environment variable (os.LookupEnv in main).
type getenvFunc func(string) (string, bool)

// run is guardd without the process around it: tests call it directly.
func run(ctx context.Context, args []string, p proc) error {
	if len(args) == 0 {
		io.WriteString(p.stderr, usage())
		return usagef("no command given")
	}
	name := args[0]
	switch name {
	case "--version":
		name = "version"
	case "-h", "--help":
		name = "help"
	}
	cmds := commands()
	c, ok := find(cmds, name)
	if !ok {
		io.WriteString(p.stderr, usage())
		return usagef("unknown command %q%s", name, suggest.DidYouMean(name, names(cmds)))
	}
	if c.subs == nil {
		return c.run(ctx, args[1:], p)
	}
	// A command of subcommands: its first argument picks one.
	args = args[1:]
	subs := names(c.subs)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		io.WriteString(p.stderr, subUsage(c))
		if len(args) == 0 {
			return usagef("%s: want a subcommand: %s", c.name, setting.OrList(subs))
		}
		return nil
	}
	sub, ok := find(c.subs, args[0])
	if !ok {
		io.WriteString(p.stderr, subUsage(c))
		if s := suggest.DidYouMean(args[0], subs); s != "" {
			return usagef("%s: unknown subcommand %q%s", c.name, args[0], s)
		}
		return usagef("%s: unknown subcommand %q (want %s)", c.name, args[0], setting.OrList(subs))
	}
	return sub.run(ctx, args[1:], p)
}

func find(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func names(cmds []command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.name
	}
	return out
}

// subUsage is the help of a command of subcommands.
func subUsage(c command) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, s := range c.subs {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace("guardd "+c.name+" "+s.name+" "+s.synopsis))
	}
	fmt.Fprintf(&b, "\nRun \"guardd %s SUBCOMMAND -h\" for a subcommand's flags.\n", c.name)
	return b.String()
}

// newFlagSet returns the flag set of the command called name (such as
// "silence add") with the flags define declares; define may be nil.
func newFlagSet(name string, define func(*flag.FlagSet, getenvFunc), getenv getenvFunc) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if define != nil {
		define(fs, getenv)
	}
	return fs
}

// parseFlags parses a command's flags, turning flag errors into usage
// errors and -h into a clean exit. Flags may come before, between or after
// the positional arguments (guardd replay x.json --output json); "--" ends
// the flags. fs.Args() returns the positional arguments, in order.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (bool, error) {
	fs.SetOutput(stderr)
	flags, positional, complete := splitArgs(fs, args)
	if complete {
		// Parse stops at "--" and leaves the positional arguments in fs.Args().
		flags = append(append(flags, "--"), positional...)
	}
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, usagef("%s: %v", fs.Name(), strings.TrimSpace(err.Error()))
	}
	return true, nil
}

// splitArgs separates the flags of args (each with its value) from the
// positional arguments, by the flag package's rules: a word starting with
// "-" (but not "-" alone) is a flag; a flag that is not boolean and has no
// "=value" takes the next word as its value; "--" ends the flags. An
// unknown flag is kept with the flags, for fs.Parse to report; complete is
// false when the last flag lacks its value.
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string, complete bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(positional, args[i+1:]...), true
		case len(a) < 2 || a[0] != '-':
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := fs.Lookup(name)
		if hasValue || f == nil || isBool(f) {
			continue
		}
		if i+1 == len(args) {
			return flags, positional, false
		}
		i++
		flags = append(flags, args[i])
	}
	return flags, positional, true
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
