package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/store"
)

// stateCopyFlags are guardd state copy's flags.
type stateCopyFlags struct {
	config, from, to, dsnEnv *string
}

func (f *stateCopyFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.from = fs.String("from", "", "the SQLite state database to copy, a `FILE` (required; it is brought to this guardd's schema, then only read)")
	f.to = fs.String("to", "", "where to copy it: `postgres` (required), the database in the config's state section (driver: postgres), or in $NAME with --dsn-env")
	f.dsnEnv = fs.String("dsn-env", "", "the environment variable, by `NAME`, holding the PostgreSQL connection string (instead of --config)")
}

// cmdStateCopy copies the SQLite state at --from into the PostgreSQL
// database, which must hold no state yet, and verifies each table's count
// and checksum.
func cmdStateCopy(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f stateCopyFlags
	fs := newFlagSet("state copy", f.define, getenv)
	c, _ := find(stateCommands(), "copy")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd state copy %s\n\n%s\n", c.synopsis,
			"Copies history, alerts, silences, outbox, mailbox cursors and receipts into a PostgreSQL database\n"+
				"that holds no guardd state yet, then compares each table's row count and checksum.")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	switch {
	case *f.from == "" || *f.to == "":
		return usagef("state copy: --from and --to are required")
	case *f.to != store.DriverPostgres:
		return usagef("state copy: --to %q: want postgres", *f.to)
	case *f.dsnEnv == "" && *f.config == "":
		return usagef("state copy: --config (whose state section has driver: postgres) or --dsn-env is required")
	case fs.NArg() > 0:
		return usagef("state copy: unexpected argument %q", fs.Arg(0))
	}
	dsn, where, err := copyTarget(f, getenv)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*f.from); err != nil {
		return fmt.Errorf("state copy: %w", err)
	}
	src, err := store.Open(ctx, *f.from, store.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := store.OpenPostgres(ctx, dsn, store.Options{})
	if err != nil {
		return err
	}
	defer dst.Close()
	tables, err := store.Copy(ctx, dst, src)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TABLE\tROWS\tSHA-256\t")
	var rows int64
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%d\t%.16s\t\n", t.Table, t.Rows, t.Checksum)
		rows += t.Rows
	}
	tw.Flush()
	fmt.Fprintf(stdout, "copied %s to %s (%s): %d rows in %d tables, each table's count and checksum verified\n",
		*f.from, dst.Name(), where, rows, len(tables))
	return nil
}

// copyTarget reads the connection string from $--dsn-env or the config's
// state section, and says where it came from.
func copyTarget(f stateCopyFlags, getenv getenvFunc) (dsn, where string, err error) {
	if *f.dsnEnv != "" {
		v, ok := getenv(*f.dsnEnv)
		if v = strings.TrimSpace(v); !ok || v == "" {
			return "", "", usagef("state copy: --dsn-env: environment variable %s is not set", *f.dsnEnv)
		}
		if msg := store.CheckDSN(v); msg != "" {
			return "", "", usagef("state copy: --dsn-env: the value of %s is %s", *f.dsnEnv, msg)
		}
		return v, "connection string in $" + *f.dsnEnv, nil
	}
	cfg, err := config.LoadFile(*f.config, getenv, config.SecretsUnder("state"))
	if err != nil {
		return "", "", err
	}
	if !cfg.State.Postgres() {
		return "", "", errors.New("state copy: the state section of " + *f.config + " is not on PostgreSQL: set driver: postgres and dsn_env or dsn_file, or pass --dsn-env")
	}
	return cfg.State.DSN.Value.Reveal(), "connection string in " + cfg.State.DSN.From(), nil
}
