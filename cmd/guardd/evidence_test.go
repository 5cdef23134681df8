package main

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/evidence"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/shopspring/decimal"
)

// seedHourly plays the whole hourly-recharge example into a state
// database, one cycle per observation as guardd check runs them, and
// returns the config.
func seedHourly(t *testing.T) string {
	t.Helper()
	cfg := stateConfig(t, t.TempDir(), "hourly-recharge.json")
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer slack.Close()
	a, err := setup(context.Background(), cfg, slackEnv(slack.URL+"/services/T0/B0/x"), io.Discard, io.Discard, false, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := 0; ; i++ {
		rep, err := a.guard.Cycle(context.Background(), time.Now())
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if rep.Polled == 0 {
			return cfg
		}
	}
}

// The refund pack of the hourly-recharge loop lists every recharge of the
// loop, each cited by a finding, and their total.
func TestEvidenceListsEveryChargeOfTheLoop(t *testing.T) {
	t.Parallel()
	cfg := seedHourly(t)
	h := readHistory(t, filepath.Join("examples", "hourly-recharge.json"))
	l := ledger.New(h.Account, ledger.DefaultOptions())
	for _, o := range h.Observations {
		if err := l.Append(o); err != nil {
			t.Fatal(err)
		}
	}
	first, last := h.Observations[0].At, h.Observations[len(h.Observations)-1].At
	want := l.Recharges(first.Add(-time.Hour), last)
	if len(want) < 5 {
		t.Fatalf("the example has %d recharges, want a loop of at least 5", len(want))
	}
	total := decimal.Zero
	for _, r := range want {
		total = total.Add(r.Charge.Amount.Amount())
	}
	args := []string{"evidence", "--config", cfg, "--account", "acme-openai", "--since", first.Format(time.DateOnly),
		"--until", last.Add(time.Hour).Format(time.RFC3339)}

	md, _, err := runCmd(t, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range want {
		row := "| " + r.At.UTC().Format("2006-01-02 15:04 UTC") + " | $" + r.Charge.Amount.Amount().StringFixed(2) + " |"
		if !strings.Contains(md, row) {
			t.Errorf("markdown: no row for the recharge at %s (want %q)", r.At, row)
		}
		if !strings.Contains(md, "grant "+r.GrantID) {
			t.Errorf("markdown: the recharge at %s does not say it became grant %s", r.At, r.GrantID)
		}
	}
	if w := "| | **Total** | **$" + total.StringFixed(2) + "** |"; !strings.Contains(md, w) {
		t.Errorf("markdown: no total row %q:\n%s", w, md)
	}
	for _, rule := range []string{"recharge-burst", "recharge-above-threshold"} {
		if !strings.Contains(md, "`"+rule+"`") {
			t.Errorf("markdown: finding %s not listed:\n%s", rule, md)
		}
	}
	if t.Failed() {
		t.Logf("markdown:\n%s", md)
	}

	out, _, err := runCmd(t, nil, append(args, "--format", "csv")...)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	if got, want := len(rows), len(want)+2; got != want {
		t.Fatalf("csv: got %d rows, want %d (header, charges, total):\n%s", got, want, out)
	}
	if strings.Join(rows[0], ",") != strings.Join(evidence.CSVHeader, ",") {
		t.Errorf("csv: header %v", rows[0])
	}
	sum := decimal.Zero
	for i, r := range want {
		row := rows[i+1]
		if row[0] != r.At.UTC().Format(time.RFC3339) || row[11] == "" {
			t.Errorf("csv row %d: got %v, want the recharge at %s cited by a finding", i+1, row, r.At)
		}
		a, err := decimal.NewFromString(row[1])
		if err != nil {
			t.Fatalf("csv row %d amount: %v", i+1, err)
		}
		sum = sum.Add(a)
	}
	tot := rows[len(rows)-1]
	if got, err := decimal.NewFromString(tot[1]); tot[0] != "total" || err != nil || !got.Equal(total) || !sum.Equal(total) {
		t.Errorf("csv total: got %v (rows sum to %s), want %s", tot, sum, total)
	}
}

func TestEvidenceRefusesBadFlags(t *testing.T) {
	t.Parallel()
	cfg := stateConfig(t, t.TempDir(), "hourly-recharge.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--account", "acme-openai", "--since", "7d"}, "--config is required"},
		{[]string{"--config", cfg, "--since", "7d"}, "--account is required"},
		{[]string{"--config", cfg, "--account", "acme-openai"}, "--since is required"},
		{[]string{"--config", cfg, "--account", "acme-openai", "--since", "last week"}, `--since: "last week": want a day`},
		{[]string{"--config", cfg, "--account", "acme-openai", "--since", "7d", "--format", "pdf"}, `--format "pdf": want md or csv`},
		{[]string{"--config", cfg, "--account", "acme-openai", "--since", "2026-10-15", "--until", "2026-10-14"}, "is not after --since"},
	} {
		_, _, err := runCmd(t, nil, append([]string{"evidence"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
