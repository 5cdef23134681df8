package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/evidence"
	"github.com/guardd/guardd/internal/setting"
	"github.com/guardd/guardd/internal/store"
)

// evidenceFlags are guardd evidence's flags.
type evidenceFlags struct {
	config, account, since, until, format *string
	all                                   *bool
}

func (f *evidenceFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.account = fs.String("account", "", "the account, by `NAME` (required)")
	f.since = fs.String("since", "", "the period's start, `TIME`: 2026-10-14, 2026-10-14T06:00:00Z, or how long ago (7d) (required)")
	f.until = fs.String("until", "", "the period's end, `TIME` as for --since (default: now)")
	f.format = fs.String("format", "md", "output format: `md|csv`")
	f.all = fs.Bool("all", false, "list every charge of the period, not only those a finding cites")
}

// cmdEvidence prints the refund pack of an account: each charge a finding
// cites (every charge with --all) with its time, amount, tax, receipt or
// invoice number and source, the credit it became or did not, the findings
// that cite it, and totals. It reads the state database and no secret.
func cmdEvidence(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f evidenceFlags
	fs := newFlagSet("evidence", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd evidence --config FILE --account NAME --since TIME [--until TIME] [--format md|csv] [--all]\n\n"+
			"Prints the charges of a period that guardd's findings cite, to paste into a provider's support\n"+
			"form: each with its time, amount, tax, receipt or invoice number and source, the credit it became\n"+
			"(or that it became none), the findings citing it, and totals. The findings are worked out again\n"+
			"from the stored history. Reads the state database and no secret.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	switch {
	case *f.config == "":
		return usagef("evidence: --config is required")
	case *f.account == "":
		return usagef("evidence: --account is required")
	case *f.since == "":
		return usagef("evidence: --since is required")
	case *f.format != "md" && *f.format != "csv":
		return usagef("evidence: --format %q: want md or csv", *f.format)
	}
	now := clock.Clock{}.Now()
	since, err := parseWhen(*f.since, now)
	if err != nil {
		return usagef("evidence: --since: %v", err)
	}
	until := now
	if *f.until != "" {
		if until, err = parseWhen(*f.until, now); err != nil {
			return usagef("evidence: --until: %v", err)
		}
	}
	if !until.After(since) {
		return usagef("evidence: --until %s is not after --since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	cfg, st, err := openState(ctx, *f.config, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	var account *config.Account
	for i := range cfg.Accounts {
		if cfg.Accounts[i].Name == *f.account {
			account = &cfg.Accounts[i]
		}
	}
	if account == nil {
		return usagef("evidence: account %q is not in %s (want one of %s)", *f.account, *f.config, accountNames(cfg))
	}
	var obs []billing.Observation
	err = st.View(ctx, func(tx *store.Tx) error {
		var err error
		obs, err = tx.Observations(account.Account, since.Add(-evidence.HistoryBefore(cfg.Params)))
		return err
	})
	if err != nil {
		return err
	}
	pack, err := evidence.Build(account.Account, obs, since, until, evidence.Options{Params: cfg.Params, Ledger: cfg.Ledger, All: *f.all})
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if *f.format == "csv" {
		err = pack.WriteCSV(&b)
	} else {
		err = pack.WriteMarkdown(&b)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(b.Bytes())
	return err
}

// parseWhen reads a time: RFC 3339, a day (YYYY-MM-DD, midnight UTC), or
// a duration before now (7d, 12h).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := setting.ParseDuration(s, "7d"); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: want a day (2026-10-14), a time (2026-10-14T06:00:00Z) or how long ago (7d)", billing.Quote(s))
}
