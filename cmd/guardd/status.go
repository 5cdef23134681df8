package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/status"
	"github.com/guardd/guardd/internal/store"
)

// openState loads the config, reading no secret but the state's own (a
// PostgreSQL connection string), and opens its existing state database:
// commands that only read the state need no other credentials.
func openState(ctx context.Context, cfgPath string, getenv getenvFunc) (*config.Config, *store.Store, error) {
	cfg, err := config.LoadFile(cfgPath, getenv, config.SecretsUnder("state"))
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(cfg.State.Path.Name); !cfg.State.Postgres() && errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("no state database at %s yet: run guardd check or guardd run first", cfg.State.Path.Name)
	}
	st, err := openStore(ctx, cfg.State)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// statusFlags are guardd status's flags.
type statusFlags struct {
	config, account, output *string
}

func (f *statusFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.account = fs.String("account", "", "show this account, by `NAME`, in detail: what guardd sees, why a part is unavailable, each alert's delivery")
	f.output = fs.String("output", "text", "output format: `text|json`")
}

// cmdStatus prints what guardd knows now, from the state database: one
// line per account and the delivery state of each receiver, or one
// account in detail, as text or JSON.
func cmdStatus(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	var f statusFlags
	fs := newFlagSet("status", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd status --config FILE [--account NAME] [--output text|json]\n\n"+
			"Shows, from the state database, one line per account (the real balance next to the one the\n"+
			"provider shows, the runway and burn, the last poll and its age, the firing alerts) and the\n"+
			"notifications each receiver has not delivered. Reads no secret.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	switch {
	case *f.config == "":
		return usagef("status: --config is required")
	case *f.output != "text" && *f.output != "json":
		return usagef("status: --output %q: want text or json", *f.output)
	}
	cfg, st, err := openState(ctx, *f.config, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	if *f.account != "" && !slices.ContainsFunc(cfg.Accounts, func(a config.Account) bool { return a.Name == *f.account }) {
		return usagef("status: account %q is not in %s (want one of %s)", *f.account, *f.config, accountNames(cfg))
	}
	rep, err := status.Gather(ctx, cfg, st, clock.Clock{}.Now(), *f.account)
	if err != nil {
		return err
	}
	if *f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	var b strings.Builder
	if *f.account != "" {
		writeAccountDetail(&b, rep.Accounts[0], rep.At, true)
	} else {
		writeAccountLines(&b, rep.Accounts, rep.At, true)
		writeDelivery(&b, rep.Receivers)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func accountNames(cfg *config.Config) string {
	names := make([]string, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// writeAccountLines writes one line per account, with its firing alerts
// when withAlerts.
func writeAccountLines(b *strings.Builder, accounts []status.Account, now time.Time, withAlerts bool) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	head := "ACCOUNT\tREAL\tSHOWN\tRUNWAY\tBURN\tLAST POLL"
	if withAlerts {
		head += "\tALERTS"
	}
	fmt.Fprintln(tw, head)
	for _, a := range accounts {
		s := a.State
		real, shown := "unknown", "-"
		if s.EffectiveKnown {
			real = s.Effective.Display()
			if s.DerivedFrom != nil {
				real += " derived"
			}
		}
		if s.ShownKnown {
			shown = s.Shown.Display()
		}
		runway, burn := status.Runway(s)
		line := strings.Join([]string{a.Name, real, shown, runway, burn, pollCell(a, now)}, "\t")
		if withAlerts {
			line += "\t" + alertsCell(a.Alerts)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// pollCell gives the last poll column: "04:00 UTC, 3 minutes ago, ok".
func pollCell(a status.Account, now time.Time) string {
	p := a.LastPoll
	if p == nil {
		return "never"
	}
	at := alert.FormatTime(p.At) + ", " + billing.Words(now.Sub(p.At)) + " ago"
	switch {
	case !p.OK:
		return fmt.Sprintf("%s, FAILED (%d in a row)", at, a.FailedPolls)
	case len(p.Unavailable) > 0:
		return fmt.Sprintf("%s, %s unavailable", at, status.PartList(p.Unavailable))
	}
	return at + ", ok"
}

// alertsCell gives the alerts column: "none" or the rules firing, the most
// severe first, marking those not delivered.
func alertsCell(as []status.Alert) string {
	if len(as) == 0 {
		return "none"
	}
	sorted := slices.Clone(as)
	slices.SortStableFunc(sorted, func(x, y status.Alert) int { return y.Severity.Rank() - x.Severity.Rank() })
	var out []string
	for _, a := range sorted {
		s := fmt.Sprintf("%s (%s)", a.Rule, a.Severity)
		if len(a.Undelivered) > 0 {
			s += " NOT DELIVERED"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// writeDelivery writes the receivers that owe notifications, or that all
// is delivered.
func writeDelivery(b *strings.Builder, rs []status.Receiver) {
	var owing []status.Receiver
	for _, r := range rs {
		if r.Pending+r.GivenUp > 0 {
			owing = append(owing, r)
		}
	}
	if len(rs) > 0 && len(owing) == 0 {
		fmt.Fprintf(b, "\ndelivery: every notification delivered (%s)\n", billing.Count(len(rs), "receiver"))
		return
	}
	for _, r := range owing {
		fmt.Fprintf(b, "\nreceiver %s: ", r.Name)
		var parts []string
		if r.Pending > 0 {
			parts = append(parts, fmt.Sprintf("%d not delivered yet, next attempt %s", r.Pending, alert.FormatTime(*r.NextAttempt)))
		}
		if r.GivenUp > 0 {
			parts = append(parts, fmt.Sprintf("%d given up on (see guardd's log)", r.GivenUp))
		}
		fmt.Fprintf(b, "%s; oldest queued %s\n", strings.Join(parts, "; "), alert.FormatTime(*r.Oldest))
		if r.LastError != "" {
			fmt.Fprintf(b, "  last error: %s\n", r.LastError)
		}
	}
}

// writeAccountDetail writes one account in detail, with its alerts and
// silences when withAlerts.
func writeAccountDetail(b *strings.Builder, a status.Account, now time.Time, withAlerts bool) {
	fmt.Fprintf(b, "%s (%s, %s)\n", a.Name, a.Provider, a.Currency)
	fmt.Fprintf(b, "  sees         %s\n", a.Sees)
	s := a.State
	switch {
	case a.LastPoll == nil:
		b.WriteString("  never polled\n")
	case !s.EffectiveKnown:
		b.WriteString("  balance      unknown: no balance or grants read yet\n")
	default:
		shown := "not shown by the provider"
		if s.ShownKnown {
			shown = "the provider shows " + s.Shown.Display()
			if gap := s.Shown.Amount().Sub(s.Effective.Amount()); gap.IsPositive() {
				shown += fmt.Sprintf(" (%s more than can be spent)", billing.NewMoney(gap, s.Shown.Currency()).Display())
			}
		}
		if d := s.DerivedFrom; d != nil {
			shown = fmt.Sprintf("derived from the %s read off the console at %s, plus receipts since, minus costs since", d.Amount.Display(), alert.FormatTime(d.At))
		}
		fmt.Fprintf(b, "  balance      %s effective; %s\n", s.Effective.Display(), shown)
		fmt.Fprintf(b, "  as of        %s (%s ago)\n", alert.FormatTime(s.ObservedAt), billing.Words(now.Sub(s.ObservedAt)))
		fmt.Fprintf(b, "  %s\n", strings.Replace(alert.RunwayText(s.Runway, s.Effective), "runway ", "runway       ", 1))
	}
	if p := a.LastPoll; p != nil {
		if p.OK {
			fmt.Fprintf(b, "  last poll    %s ok (%s ago)\n", alert.FormatTime(p.At), billing.Words(now.Sub(p.At)))
		} else {
			fmt.Fprintf(b, "  last poll    %s FAILED (%d in a row): %s\n", alert.FormatTime(p.At), a.FailedPolls, p.Error)
		}
		for _, part := range billing.Parts {
			if why, ok := p.Unavailable[part]; ok {
				fmt.Fprintf(b, "  unavailable  %s: %s\n", part, why)
			}
		}
	}
	if !withAlerts {
		return
	}
	if len(a.Alerts) == 0 {
		b.WriteString("  alerts       none firing\n")
	}
	for _, al := range a.Alerts {
		ack := ""
		if al.AckedBy != "" {
			ack = ", acknowledged by " + al.AckedBy
		}
		notified := "not notified"
		if al.NotifiedAt != nil {
			notified = "notified " + alert.FormatTime(*al.NotifiedAt)
		}
		fmt.Fprintf(b, "  alert        [%s] %s %s since %s (%s%s)\n", strings.ToUpper(string(al.Severity)), al.Rule,
			al.Entity, alert.FormatTime(al.FiredAt), notified, ack)
		for _, u := range al.Undelivered {
			state := fmt.Sprintf("not delivered to %s yet (%d attempts)", u.Receiver, u.Attempts)
			if u.GivenUp {
				state = fmt.Sprintf("never delivered to %s: given up after %d attempts", u.Receiver, u.Attempts)
			}
			if u.LastError != "" {
				state += ": " + u.LastError
			}
			fmt.Fprintf(b, "               %s\n", state)
		}
	}
	for _, sl := range a.Silences {
		fmt.Fprintf(b, "  silence      #%d %s until %s by %s: %s\n", sl.ID, orAny(sl.Rule), alert.FormatTime(sl.End), sl.By, sl.Comment)
	}
}

func orAny(s string) string {
	if s == "" {
		return "every rule"
	}
	return s
}
