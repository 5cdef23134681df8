// Package ruletest runs rule tests: a history file played through the rules,
// and the findings expected at given evaluation times, including times when
// nothing may hold and resolutions. It is what `guardd test` runs, for users
// who tune thresholds, and what guardd's own rule tests use.
//
// A test file is YAML:
//
//	history: history.json        # relative to the test file
//	config: ../guardd.yaml       # optional: take rule parameters from this config
//	evaluations:
//	  - at: 2026-10-14T03:00:00Z # the time of an observation in the history
//	    active:                  # exactly the findings that hold ([] = none)
//	      - rule: recharge-burst
//	        entity: recharges    # optional
//	        severity: critical   # optional
//	      - rule: recharge-above-threshold
//	        inhibited: true      # optional: folded into another finding
//	    notified:                # exactly the notifications sent ([] = none)
//	      - firing recharge-burst
//	      - resolved phantom-balance
//	throughout:                  # optional: checked after every observation
//	  active: []                 # (a healthy history: nothing may ever hold)
//
// Omitting active or notified leaves it unchecked at that time.
package ruletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/suggest"
	"gopkg.in/yaml.v3"
)

// File is a decoded rule test file.
type File struct {
	History     string       `yaml:"history"`
	Config      string       `yaml:"config"`
	Evaluations []Evaluation `yaml:"evaluations"`
	Throughout  *Throughout  `yaml:"throughout"`
}

// Throughout is what must hold after every observation.
type Throughout struct {
	Active   *[]Finding `yaml:"active"`
	Notified *[]string  `yaml:"notified"`
}

// Evaluation is what must hold after the observation at At.
type Evaluation struct {
	At       time.Time  `yaml:"at"`
	Active   *[]Finding `yaml:"active"`
	Notified *[]string  `yaml:"notified"`
}

// Finding is an expected finding; empty fields match anything.
type Finding struct {
	Rule      string `yaml:"rule"`
	Entity    string `yaml:"entity"`
	Severity  string `yaml:"severity"`
	Inhibited *bool  `yaml:"inhibited"`
}

func (f Finding) matches(g billing.Finding) bool {
	return f.Rule == g.Rule && (f.Entity == "" || f.Entity == g.Entity) &&
		(f.Severity == "" || f.Severity == string(g.Severity)) &&
		(f.Inhibited == nil || *f.Inhibited == (g.InhibitedBy != ""))
}

func (f Finding) String() string {
	s := f.Rule
	if f.Entity != "" {
		s += " " + f.Entity
	}
	if f.Severity != "" {
		s += " (" + f.Severity + ")"
	}
	if f.Inhibited != nil && *f.Inhibited {
		s += " inhibited"
	}
	return s
}

func describe(g billing.Finding) string {
	s := fmt.Sprintf("%s %s (%s)", g.Rule, g.Entity, g.Severity)
	if g.InhibitedBy != "" {
		s += " inhibited by " + g.InhibitedBy
	}
	return s
}

// Result is the outcome of one test file.
type Result struct {
	Path string
	// Failures lists every difference, one per line, each starting with the
	// evaluation time.
	Failures []string
}

// Passed reports whether the test held.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Load reads a test file and checks it; errors name the field and value.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var problems []string
	names := rules.New(rules.DefaultParams()).Names()
	checkRule := func(path, rule string) {
		if !slices.Contains(names, rule) {
			problems = append(problems, path+": "+suggest.Unknown("rule", rule, names))
		}
	}
	if f.History == "" {
		problems = append(problems, "history: required")
	}
	if len(f.Evaluations) == 0 && f.Throughout == nil {
		problems = append(problems, "evaluations: at least one is required (or throughout)")
	}
	check := func(path string, active *[]Finding, notified *[]string) {
		if active == nil && notified == nil {
			problems = append(problems, path+": set active, notified or both")
		}
		if active != nil {
			for j, a := range *active {
				if a.Rule == "" {
					problems = append(problems, fmt.Sprintf("%s.active[%d].rule: required", path, j))
				} else {
					checkRule(fmt.Sprintf("%s.active[%d].rule", path, j), a.Rule)
				}
				if a.Severity != "" {
					if _, err := billing.ParseSeverity(a.Severity); err != nil {
						problems = append(problems, fmt.Sprintf("%s.active[%d].severity: %v", path, j, err))
					}
				}
			}
		}
		if notified != nil {
			for j, n := range *notified {
				if st, rule, ok := strings.Cut(n, " "); !ok || (st != string(alert.StatusFiring) && st != string(alert.StatusResolved)) {
					problems = append(problems, fmt.Sprintf("%s.notified[%d]: %q: want \"firing RULE\" or \"resolved RULE\"", path, j, n))
				} else {
					checkRule(fmt.Sprintf("%s.notified[%d]", path, j), rule)
				}
			}
		}
	}
	for i, e := range f.Evaluations {
		if e.At.IsZero() {
			problems = append(problems, fmt.Sprintf("evaluations[%d].at: required", i))
		}
		check(fmt.Sprintf("evaluations[%d]", i), e.Active, e.Notified)
	}
	if f.Throughout != nil {
		check("throughout", f.Throughout.Active, f.Throughout.Notified)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
	}
	return &f, nil
}

// Run loads and runs the test file at path. getenv serves the config's
// environment variables, if the test names a config. When ctx ends the
// replay stops and Run returns its *guard.StoppedError, naming path.
func Run(ctx context.Context, path string, getenv func(string) (string, bool)) (Result, error) {
	f, err := Load(path)
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Dir(path)
	params, lopts := rules.DefaultParams(), ledger.DefaultOptions()
	policy := lifecycle.Policy{ResolveAfter: config.DefaultResolveAfter}
	if f.Config != "" {
		cfg, err := config.LoadFile(resolve(dir, f.Config), getenv, config.NoSecrets)
		if err != nil {
			return Result{}, fmt.Errorf("%s: config: %w", path, err)
		}
		params, lopts, policy.ResolveAfter = cfg.Params, cfg.Ledger, cfg.Alerting.ResolveAfter.N
	}
	history := resolve(dir, f.History)
	_, h, err := file.Open(history)
	if err != nil {
		return Result{}, fmt.Errorf("%s: history: %w", path, err)
	}
	type outcome struct {
		holding []billing.Finding
		sent    []string
	}
	got := make(map[time.Time]outcome, len(h.Observations))
	res := Result{Path: path}
	err = guard.Replay(ctx, h.Account, history, h.Observations, guard.Options{
		Params: params, Ledger: lopts, Policy: policy,
		Receivers: []alert.Receiver{{Name: "test", Notifier: recorder{}}},
	}, func(i int, rep guard.Report) error {
		at := h.Observations[i].At.UTC()
		var sent []string
		for _, n := range rep.Sent {
			sent = append(sent, string(n.Status)+" "+n.Finding.Rule)
		}
		holding := rep.Holding[h.Account.Name]
		got[at] = outcome{holding: holding, sent: sent}
		if t := f.Throughout; t != nil {
			res.Failures = append(res.Failures, compare(at.Format(time.RFC3339), t.Active, t.Notified, holding, sent)...)
		}
		return nil
	})
	var oe *guard.ObservationError
	if errors.As(err, &oe) {
		return Result{}, fmt.Errorf("%s: history %w", path, err)
	}
	var se *guard.StoppedError
	if errors.As(err, &se) {
		return Result{}, fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return Result{}, err
	}

	for i, e := range f.Evaluations {
		at := e.At.UTC()
		out, ok := got[at]
		stamp := at.Format(time.RFC3339)
		if !ok {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: evaluations[%d].at is not the time of any observation in %s", stamp, i, f.History))
			continue
		}
		res.Failures = append(res.Failures, compare(stamp, e.Active, e.Notified, out.holding, out.sent)...)
	}
	return res, nil
}

// compare lists the differences between what was expected at one
// evaluation and what happened.
func compare(stamp string, active *[]Finding, notified *[]string, holding []billing.Finding, sent []string) []string {
	var out []string
	if active != nil {
		out = append(out, diffActive(stamp, *active, holding)...)
	}
	if notified != nil {
		want := slices.Clone(*notified)
		slices.Sort(want)
		have := slices.Clone(sent)
		slices.Sort(have)
		if !slices.Equal(want, have) {
			out = append(out, fmt.Sprintf("%s: notified: got %q, want %q", stamp, have, want))
		}
	}
	return out
}

// resolve makes a path in a test file relative to the file's directory.
func resolve(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// diffActive pairs expected findings with holding ones and lists the rest.
func diffActive(stamp string, want []Finding, holding []billing.Finding) []string {
	used := make([]bool, len(holding))
	var out []string
	for _, w := range want {
		found := false
		for i, g := range holding {
			if !used[i] && w.matches(g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s: active: missing    %s", stamp, w))
		}
	}
	for i, g := range holding {
		if !used[i] {
			out = append(out, fmt.Sprintf("%s: active: unexpected %s", stamp, describe(g)))
		}
	}
	return out
}

// recorder is a notifier that accepts everything; the cycle's report says
// what was sent.
type recorder struct{}

var _ alert.Notifier = recorder{}

func (recorder) Send(context.Context, alert.Notification) (alert.Ref, bool, error) {
	return alert.Ref{}, false, nil
}
