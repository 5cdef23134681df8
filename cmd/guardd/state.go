package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/store"
	"go.uber.org/zap"
)

// stateCommands are guardd state's subcommands, which look after the state
// database itself and move it between databases.
func stateCommands() []command {
	return []command{
		{name: "check", synopsis: "--config FILE", summary: "check the whole state database for damage (PRAGMA quick_check)",
			flags: new(stateCheckFlags).define,
			run:   plain(cmdStateCheck)},
		{name: "copy", synopsis: "--from FILE --to postgres (--config FILE | --dsn-env NAME)",
			summary: "copy a SQLite state into a new PostgreSQL database and verify the copy",
			flags:   new(stateCopyFlags).define,
			run:     plain(cmdStateCopy)},
	}
}

// stateCheckFlags are guardd state check's flags.
type stateCheckFlags struct{ config *string }

func (f *stateCheckFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
}

// cmdStateCheck checks the state database the config names, read-only,
// and says what it checked; damage is an error (exit status 1).
func cmdStateCheck(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f stateCheckFlags
	fs := newFlagSet("state check", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd state check --config FILE\n\n"+
			"Checks every page of the state database (state.path) and its -wal with PRAGMA quick_check,\n"+
			"read-only, while guardd check and guardd run may use it, and says which processes have it\n"+
			"open or left it open. Exits 1 on damage, with the refusal guardd gives at open.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" {
		return usagef("state check: --config is required")
	}
	cfg, err := config.LoadFile(*f.config, getenv, config.NoSecrets)
	if err != nil {
		return err
	}
	if cfg.State.Postgres() {
		return usagef("state check: the state of %s is on PostgreSQL, which checks its own pages: this checks a SQLite file", *f.config)
	}
	r, err := store.Check(ctx, cfg.State.Path.Name, store.Options{})
	for _, who := range r.LeftOpen {
		fmt.Fprintf(stdout, "left open by %s, which ended without closing it\n", who)
	}
	for _, who := range r.OpenBy {
		fmt.Fprintf(stdout, "open now by %s\n", who)
	}
	if err != nil {
		return err
	}
	version := fmt.Sprintf("schema version %d", r.Version)
	if r.Version > r.Known {
		version += fmt.Sprintf(", newer than this guardd knows (%d)", r.Known)
	}
	fmt.Fprintf(stdout, "%s: no damage found (PRAGMA quick_check of every page, %d bytes and the -wal; %s)\n",
		r.Path, r.Bytes, version)
	return nil
}

// checkIntegrity runs guardd run's scheduled check of the whole state
// database; it returns the damage found (the store then leaves its open
// marker, so that the next open refuses the file).
func checkIntegrity(ctx context.Context, a *app) error {
	if a.store == nil {
		return nil
	}
	a.log.Info("checking the state database (PRAGMA quick_check)", zap.String("state", a.store.Path()))
	if err := a.store.IntegrityCheck(ctx); err != nil {
		if ctx.Err() != nil {
			a.log.Warn("state database check stopped", zap.Error(err))
			return nil
		}
		return err
	}
	a.log.Info("state database checked: no damage found", zap.String("state", a.store.Path()))
	return nil
}
