package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const usage = `guardd watches prepaid LLM API accounts for billing anomalies.

Usage:
  guardd replay [--output text|json] [--config FILE] HISTORY.json
                                   play a recorded history through the rules
  guardd check --config FILE [--dry-run]
                                   poll every account once, evaluate, notify, exit
  guardd run --config FILE         poll on the configured schedule until stopped
  guardd status --config FILE      the real balance, runway, last poll and alerts of each account
  guardd silence add|list|expire   mute a rule for a while (see guardd silence)
  guardd record --config FILE --out DIR
                                   poll every account once, append to DIR/ACCOUNT.json
  guardd validate --config FILE [--print]
                                   check a config file and report every problem
  guardd test TEST.yaml...         check the findings expected from a history
  guardd notify test --config FILE --receiver NAME
                                   send a test alert through one notifier
  guardd version                   print the version

Run "guardd COMMAND -h" for a command's flags.
`

// usageError is a mistake on the command line; main exits 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// getenvFunc looks up an environment variable (os.LookupEnv in main).
type getenvFunc func(string) (string, bool)

// run is guardd without the process around it: tests call it directly.
func run(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "replay":
		return cmdReplay(ctx, rest, getenv, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, getenv, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, getenv, stdout, stderr)
	case "record":
		return cmdRecord(ctx, rest, getenv, stdout, stderr)
	case "validate":
		return cmdValidate(rest, getenv, stdout, stderr)
	case "test":
		return cmdTest(ctx, rest, getenv, stdout, stderr)
	case "notify":
		return cmdNotify(ctx, rest, getenv, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, getenv, stdout, stderr)
	case "silence":
		return cmdSilence(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		return cmdVersion(stdout)
	case "help", "-h", "--help":
		io.WriteString(stdout, usage)
		return nil
	}
	io.WriteString(stderr, usage)
	return usagef("unknown command %q", cmd)
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
