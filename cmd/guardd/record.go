package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/poller"
	"go.uber.org/zap"
)

// recordFlags are guardd record's flags.
type recordFlags struct {
	config, out *string
}

func (f *recordFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.out = fs.String("out", "", "write the history files, one per account, to `DIR` (required; created if missing)")
}

func cmdRecord(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f recordFlags
	fs := newFlagSet("record", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd record --config FILE --out DIR\n\n"+
			"Polls every account once and appends what it read to DIR/ACCOUNT.json, a history file that\n"+
			"guardd replay plays back and that can be attached to a bug report. A new file takes the\n"+
			"account's settings from the config. No credential is ever written. Exits 1 when an account\n"+
			"could not be read or its file could not be written; the others are still recorded.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" || *f.out == "" {
		return usagef("record: --config and --out are required")
	}
	cfg, err := config.LoadFile(*f.config, getenv, config.SecretsUnder("accounts"))
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log.Format.S, cfg.Log.Level.S, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	for i, a := range cfg.Accounts {
		if err := checkFileName(a.Name); err != nil {
			return fmt.Errorf("accounts[%d]: %w", i, err)
		}
	}
	accounts, err := buildAccounts(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*f.out, 0o755); err != nil {
		return fmt.Errorf("record: %w", err)
	}

	targets := make([]poller.Target, len(accounts))
	for i, a := range accounts {
		targets[i] = poller.Target{Account: a.Account.Name, Source: a.Source, Group: a.Group}
	}
	failed := 0
	for i, res := range pollerOf(cfg).Poll(ctx, targets, clock.Clock{}.Now()) {
		a := accounts[i].Account
		if res.Err != nil {
			failed++
			log.Error("account not read", zap.String("account", a.Name), zap.Error(res.Err))
			continue
		}
		path := filepath.Join(*f.out, a.Name+".json")
		n, err := appendHistory(path, a, res.Observation)
		if err != nil {
			failed++
			log.Error("observation not recorded", zap.String("account", a.Name), zap.Error(err))
			continue
		}
		fmt.Fprintf(stdout, "%s: observation %d appended to %s: %s\n", a.Name, n, path, partsWords(res.Observation))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d accounts could not be recorded", failed, len(accounts))
	}
	return nil
}

// checkFileName rejects an account name that cannot be a file name in the
// output directory.
func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("account name %q cannot name a history file", name)
	}
	return nil
}

// appendHistory appends o to the history file at path, creating it with the
// account's settings if missing, and returns how many observations the file
// holds. The file is replaced atomically and only with content that decodes:
// a crash or a bad observation never leaves it broken.
func appendHistory(path string, a billing.Account, o billing.Observation) (int, error) {
	h := &history.File{Account: a}
	switch f, err := os.Open(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, err
	default:
		h, err = history.Decode(f)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
	}
	if n := len(h.Observations); n > 0 && !o.At.After(h.Observations[n-1].At) {
		return 0, fmt.Errorf("%s: the new observation at %s is not after the last one at %s", path,
			o.At.UTC().Format(time.RFC3339Nano), h.Observations[n-1].At.UTC().Format(time.RFC3339Nano))
	}
	o.Account = h.Account.Name
	h.Observations = append(h.Observations, o)

	var buf bytes.Buffer
	if err := history.Encode(&buf, h); err != nil {
		return 0, err
	}
	if _, err := history.Decode(bytes.NewReader(buf.Bytes())); err != nil {
		return 0, fmt.Errorf("the observation cannot be recorded in %s: %w", path, err)
	}
	if err := writeFileAtomic(path, buf.Bytes()); err != nil {
		return 0, err
	}
	return len(h.Observations), nil
}

// partsWords says what an observation holds: "costs read (8 days); balance
// unavailable (…); grants, charges not read".
func partsWords(o billing.Observation) string {
	var read, notRead, out []string
	for _, p := range billing.Parts {
		st, ok := o.Status(p)
		switch {
		case !ok:
			notRead = append(notRead, string(p))
		case st.Unavailable != "":
			out = append(out, fmt.Sprintf("%s unavailable (%s)", p, st.Unavailable))
		case p == billing.PartGrants:
			read = append(read, fmt.Sprintf("grants read (%d)", len(o.Grants)))
		case p == billing.PartCharges:
			read = append(read, fmt.Sprintf("charges read (%d)", len(o.Charges)))
		case p == billing.PartCosts:
			read = append(read, fmt.Sprintf("costs read (%d days)", len(o.Costs)))
		default:
			read = append(read, fmt.Sprintf("balance read (%s)", o.Balance.Shown.Display()))
		}
	}
	out = append(read, out...)
	if len(notRead) > 0 {
		out = append(out, strings.Join(notRead, ", ")+" not read")
	}
	return strings.Join(out, "; ")
}
