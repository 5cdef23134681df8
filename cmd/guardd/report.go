package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/web"
)

// reportFlags are guardd report's flags.
type reportFlags struct {
	config, account, out, from, to *string
}

func (f *reportFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.account = fs.String("account", "", "the account, by `NAME` (required)")
	f.out = fs.String("out", "", "write the page to `FILE.html` (required; - for stdout)")
	f.from = fs.String("from", "", "the period's first `DAY` (YYYY-MM-DD, UTC; with --to); default: the last 30 days of history")
	f.to = fs.String("to", "", "the period's last `DAY` (YYYY-MM-DD, UTC, included; with --from)")
}

// cmdReport writes an account's page, as guardd run serves it, as one
// self-contained HTML file: the CSS and the timeline's SVG inline, no
// script, nothing fetched. It reads the state database and no secret.
func cmdReport(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f reportFlags
	fs := newFlagSet("report", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd report --config FILE --account NAME --out FILE.html [--from DAY --to DAY]\n\n"+
			"Writes the account's page as guardd run serves it (the real and shown balance, the timeline\n"+
			"of balances, recharges, grants, costs and findings, where the money went, the alerts and\n"+
			"silences) as one HTML file that opens offline: for a CronJob's users, or to attach to a\n"+
			"ticket. Reads the state database and no secret.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	switch {
	case *f.config == "":
		return usagef("report: --config is required")
	case *f.account == "":
		return usagef("report: --account is required")
	case *f.out == "":
		return usagef("report: --out is required")
	case (*f.from == "") != (*f.to == ""):
		return usagef("report: --from and --to go together")
	}
	period, err := web.ParsePeriod(*f.from, *f.to)
	if err != nil {
		return usagef("report: %v", err)
	}
	cfg, st, err := openState(ctx, *f.config, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	if !slices.ContainsFunc(cfg.Accounts, func(a config.Account) bool { return a.Name == *f.account }) {
		return usagef("report: account %q is not in %s (want one of %s)", *f.account, *f.config, accountNames(cfg))
	}
	page, err := web.LoadAccount(ctx, cfg, st, *f.account, period, clock.Clock{}.Now())
	if err != nil {
		return err
	}
	page.Report = true
	var b bytes.Buffer
	if err := web.RenderAccount(&b, page); err != nil {
		return err
	}
	if *f.out == "-" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := writeFileAtomic(*f.out, b.Bytes()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (%d KB): %s from %s to %s\n", *f.out, (b.Len()+1023)/1024, *f.account,
		page.Period.From.Format("2006-01-02 15:04 UTC"), page.Period.To.Format("2006-01-02 15:04 UTC"))
	return err
}
