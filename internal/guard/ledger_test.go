package guard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
)

// judge is what the rules make of a ledger at one poll, as the guard asks:
// every finding that holds, explained (a finding that held at the previous
// poll too is explained as a repeat, with when it started holding), and the
// account's state. since carries the start of each finding from poll to
// poll; as in the guard, a failed poll judges only the source and a held
// reading nothing, so the others keep holding through them.
func judge(e *rules.Engine, l *ledger.Ledger, p lt.Poll, since map[string]time.Time) string {
	var fs []billing.Finding
	switch _, held := l.Held(); {
	case p.Err != nil:
		fs = e.CheckSource(l, p.At)
	case held:
		return "held\n"
	default:
		fs = e.Check(l, p.At)
	}
	var b strings.Builder
	seen := make(map[string]time.Time, len(fs))
	for _, f := range fs {
		key := f.Rule + "/" + f.Entity
		start, ok := since[key]
		if !ok {
			start = p.At
		}
		seen[key] = start
		if start.Before(p.At) {
			f.FiringSince = start
		}
		b.WriteString(lt.FindingText(e.Explain(l, p.At, f, fs)))
	}
	if p.Err == nil {
		b.WriteString("state " + lt.StateText(l.State(p.At, rules.DefaultParams().BurnWindow.Duration)) + "\n")
	}
	for k := range since {
		if _, ok := seen[k]; !ok && (p.Err == nil || strings.HasPrefix(k, rules.SourceRule+"/")) {
			delete(since, k)
		}
	}
	for k, v := range seen {
		since[k] = v
	}
	return b.String()
}

// feed gives l one generated poll, as the guard's cycle does.
func feed(t *testing.T, l *ledger.Ledger, p lt.Poll) {
	t.Helper()
	if err := p.Feed(l); err != nil {
		t.Fatal(err)
	}
}

func yearOfPolls(t *testing.T) int {
	if testing.Short() {
		return 24 * 80
	}
	return 24 * 365
}

// A ledger that keeps only the rules' history, its points and cost
// windows only the rules' point history (as the guard's do), finds what
// one that keeps everything finds, word for word, and reports the same
// state, at every poll of a year of each shape of account.
func TestTrimmedLedgerFindsTheSame(t *testing.T) {
	params := rules.DefaultParams()
	for _, shape := range lt.Shapes {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			e := rules.New(params)
			a, polls := lt.History(shape, time.Hour, yearOfPolls(t))
			full := ledger.New(a, ledger.DefaultOptions())
			opts := ledger.DefaultOptions()
			opts.Keep, opts.KeepPoints, opts.NoGrantHistory = e.History(), e.PointHistory(), true
			trimmed := ledger.New(a, opts)
			sinceFull, sinceTrimmed := map[string]time.Time{}, map[string]time.Time{}
			findings := 0
			for i, p := range polls {
				feed(t, full, p)
				feed(t, trimmed, p)
				want := judge(e, full, p, sinceFull)
				if got := judge(e, trimmed, p, sinceTrimmed); got != want {
					t.Fatalf("poll %d at %s: the trimmed ledger judges otherwise:\n%s", i, p.At, lt.Diff(got, want))
				}
				findings += strings.Count(want, "\n  recommendation")
			}
			if findings == 0 {
				t.Fatal("no finding in a year: the comparison proves little")
			}
		})
	}
}
