package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/rules"
)

// demoDir lays out a bundled demo in a temporary folder: the example config
// with the examples beside it, or the Kubernetes ConfigMap's files as the
// pod mounts them. It returns the config's path and the history the demo
// account serves.
func demoDir(t *testing.T, demo string) (cfg, hist string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) []byte { return []byte(readFile(t, path)) }
	switch demo {
	case "config.example.yaml":
		write("config.yaml", read("config.example.yaml"))
		write("examples/hourly-recharge.json", read("examples/hourly-recharge.json"))
		return filepath.Join(dir, "config.yaml"), filepath.Join(dir, "examples", "hourly-recharge.json")
	default: // the ConfigMap
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		if err := yaml.Unmarshal(read(demo), &cm); err != nil {
			t.Fatal(err)
		}
		for name, data := range cm.Data {
			write(name, []byte(data))
		}
		return filepath.Join(dir, "config.yaml"), filepath.Join(dir, "demo-history.json")
	}
}

// TestDemosNeverRunDry checks each bundled demo, as guardd check does from
// one run to the next (a new process every few polls, resuming from the
// state database), for three times as many polls as its history holds:
// every poll reads the account and source-blind never fires, on the
// console or in Slack.
func TestDemosNeverRunDry(t *testing.T) {
	for _, demo := range []string{"config.example.yaml", "deploy/kubernetes/base/configmap.yaml"} {
		t.Run(filepath.Base(demo), func(t *testing.T) {
			t.Parallel()
			cfg, hist := demoDir(t, demo)
			f, err := os.Open(hist)
			if err != nil {
				t.Fatal(err)
			}
			h, err := history.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			slack := slacktest.NewWebhook(t)
			env := map[string]string{"GUARDD_SLACK_WEBHOOK_URL": slack.URL(), "GUARDD_STATE_PATH": filepath.Join(t.TempDir(), "state.db")}
			getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			polls := 3 * len(h.Observations)
			var out, errOut bytes.Buffer
			var last time.Time
			for run := 0; run*7 < polls; run++ {
				a, err := setup(context.Background(), cfg, getenv, &out, &errOut, false, false, time.Now())
				if err != nil {
					t.Fatalf("setup: %v", err)
				}
				for i := run * 7; i < min(run*7+7, polls); i++ {
					rep, err := cycleReport(context.Background(), a, clock.Clock{})
					if err != nil || rep.Polled != 1 || len(rep.Failed) > 0 {
						t.Fatalf("poll %d: polled %d, failed %v, error %v; want the account read\nlog:\n%s", i, rep.Polled, rep.Failed, err, errOut.String())
					}
					statuses, err := a.guard.Status(time.Now())
					if err != nil {
						t.Fatal(err)
					}
					for _, st := range statuses {
						if !st.LastPoll.At.After(last) {
							t.Fatalf("poll %d: at %s, not after the last poll's %s", i, st.LastPoll.At, last)
						}
						last = st.LastPoll.At
					}
					for _, f := range rep.Holding[h.Account.Name] {
						if f.Rule == rules.SourceRule {
							t.Fatalf("poll %d: %s fired: %s", i, f.Rule, f.Summary)
						}
					}
				}
				a.Close()
			}
			if span := h.Observations[len(h.Observations)-1].At.Sub(h.Observations[0].At); last.Sub(h.Observations[0].At) < 2*span {
				t.Errorf("the polls reached %s, want far beyond the history's span %s", last, span)
			}
			for _, m := range slack.Messages() {
				if strings.Contains(m.Text, rules.SourceRule) {
					t.Errorf("slack got %q", m.Text)
				}
			}
			if strings.Contains(out.String(), rules.SourceRule) {
				t.Errorf("the console got source-blind:\n%s", out.String())
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
