package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// proc is what a command gets from the process around it: the environment,
// the output streams and, for guardd run, the reload requests (SIGHUP).
type proc struct {
	getenv         getenvFunc
	stdout, stderr io.Writer
	// reload delivers a request to reload the config; nil means none come.
	reload <-chan struct{}
}

// command is one subcommand. The table below is the one list of them:
// dispatch and the help text both come from it.
type command struct {
	name string
	// synopsis follows the name in the help ("--config FILE [--dry-run]").
	synopsis string
	// summary says what it does, in a line.
	summary string
	run     func(ctx context.Context, args []string, p proc) error
}

func commands() []command {
	return []command{
		{"replay", "[--output text|json] [--config FILE] HISTORY.json", "play a recorded history through the rules",
			func(ctx context.Context, args []string, p proc) error {
				return cmdReplay(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"check", "--config FILE [--dry-run]", "poll every account once, evaluate, notify, exit",
			func(ctx context.Context, args []string, p proc) error {
				return cmdCheck(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"run", "--config FILE", "poll on the configured schedule until stopped",
			func(ctx context.Context, args []string, p proc) error {
				return cmdRun(ctx, args, p.getenv, p.stdout, p.stderr, p.reload)
			}},
		{"status", "--config FILE [--account NAME] [--output text|json]", "the real balance, runway, last poll, alerts and deliveries, from the state",
			func(ctx context.Context, args []string, p proc) error {
				return cmdStatus(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"balance", "--config FILE [--account NAME] [--output text|json]", "poll every account now and print its real balance and runway",
			func(ctx context.Context, args []string, p proc) error {
				return cmdBalance(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"silence", "add|list|expire", "mute a rule for a while (see guardd silence)",
			func(ctx context.Context, args []string, p proc) error {
				return cmdSilence(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"record", "--config FILE --out DIR", "poll every account once, append to DIR/ACCOUNT.json",
			func(ctx context.Context, args []string, p proc) error {
				return cmdRecord(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"validate", "--config FILE [--print]", "check a config file and report every problem",
			func(_ context.Context, args []string, p proc) error {
				return cmdValidate(args, p.getenv, p.stdout, p.stderr)
			}},
		{"test", "TEST.yaml...", "check the findings expected from a history",
			func(ctx context.Context, args []string, p proc) error {
				return cmdTest(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"receipts", "scan FILE...", "print what guardd reads from receipt emails",
			func(ctx context.Context, args []string, p proc) error {
				return cmdReceipts(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"notify", "test --config FILE --receiver NAME", "send a test alert through one notifier",
			func(ctx context.Context, args []string, p proc) error {
				return cmdNotify(ctx, args, p.getenv, p.stdout, p.stderr)
			}},
		{"version", "", "print the version",
			func(_ context.Context, _ []string, p proc) error { return cmdVersion(p.stdout) }},
		{"help", "", "print this help",
			func(_ context.Context, _ []string, p proc) error {
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
	return fs.String("config", def, "config file (required; default $"+configEnv+")")
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
	name, rest := args[0], args[1:]
	switch name {
	case "--version":
		name = "version"
	case "-h", "--help":
		name = "help"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, rest, p)
		}
	}
	io.WriteString(p.stderr, usage())
	return usagef("unknown command %q", name)
}

// parseFlags parses a subcommand's flags, turning flag errors into usage
// errors and -h into a clean exit.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (bool, error) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, usagef("%s: %v", fs.Name(), strings.TrimSpace(err.Error()))
	}
	return true, nil
}
