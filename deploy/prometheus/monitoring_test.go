// Package prometheus_test checks the monitoring files shipped for teams
// that run Prometheus and Grafana: the alerting rules here
// (guardd-rules.yml, with promtool's check and its unit tests in
// guardd-rules.test.yml) and the dashboard in ../grafana (every query
// parses as PromQL and names only metrics guardd exports). The metric names
// come from internal/metrics, not from a list kept here.
package prometheus_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/metrics"
	"gopkg.in/yaml.v3"
)

const (
	rulesFile = "guardd-rules.yml"
	testsFile = "guardd-rules.test.yml"
	dashboard = "../grafana/guardd.json"
)

// promtool returns the path of Debian's promtool (package prometheus); it
// skips the test when it is absent, except in CI (.ci/run installs it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found: .ci/run installs Debian's prometheus package, which has it")
		}
		t.Skip("promtool not found (apt-get install prometheus): the rules and the dashboard's queries are not checked")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// exported is every series name guardd's /metrics may hold.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	fs, err := metrics.New(metrics.Build{Version: "test"}).Families()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool)
	for _, f := range fs {
		for _, s := range f.Series() {
			out[s] = true
		}
	}
	return out
}

// metricName finds the names of guardd's, Go's and the process's series
// in a query; label values, in quotes, are skipped.
var (
	metricName = regexp.MustCompile(`\b(?:guardd|go|process)_[a-zA-Z0-9_]+\b`)
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

func namesIn(expr string) []string {
	return metricName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
}

func TestAlertingRules(t *testing.T) {
	runPromtool(t, "check", "rules", rulesFile)
	runPromtool(t, "test", "rules", testsFile)
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	known := exported(t)
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			n++
			names := namesIn(r.Expr)
			if len(names) == 0 && !strings.Contains(r.Expr, "up{") {
				t.Errorf("%s: %q names no guardd metric", r.Alert, r.Expr)
			}
			for _, name := range names {
				if !known[name] {
					t.Errorf("%s: %q: guardd exports no metric %s", r.Alert, r.Expr, name)
				}
			}
			// Every rule is unit-tested.
			if !fileHas(t, testsFile, "alertname: "+r.Alert+"\n") {
				t.Errorf("%s: no test in %s", r.Alert, testsFile)
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s: no rules", rulesFile)
	}
}

// The dashboard: every query parses (promtool checks each as a recording
// rule, Grafana's variables replaced) and names only metrics guardd
// exports; every metric of guardd's own is on it.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID, Title string
		Panels     []struct {
			ID      int
			Title   string
			GridPos struct{ X, Y, W, H int }
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name, Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: want a uid, a title and panels", dashboard)
	}
	known := exported(t)
	used := make(map[string]bool)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	ids := make(map[int]bool)
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: grid position %+v outside Grafana's 24 columns", p.Title, p.GridPos)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
		for i, q := range p.Targets {
			names := namesIn(q.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, q.Expr)
			}
			for _, name := range names {
				used[name] = true
				if !known[name] {
					t.Errorf("panel %q: query %q: guardd exports no metric %s", p.Title, q.Expr, name)
				}
			}
			expr := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h").Replace(q.Expr)
			fmt.Fprintf(&rules, "      - record: dashboard:panel%d:query%d\n        expr: %s\n", p.ID, i, strconv(expr))
		}
	}
	for _, v := range d.Templating.List {
		for _, name := range namesIn(v.Definition) {
			if !known[name] {
				t.Errorf("variable %s: %q: guardd exports no metric %s", v.Name, v.Definition, name)
			}
		}
	}
	for name := range known {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "guardd_") && name == base && !used[name] && !used[name+"_bucket"] {
			t.Errorf("guardd's metric %s is on no panel of the dashboard", name)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", path)
}

// strconv quotes s as a YAML (and JSON) string.
func strconv(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func fileHas(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), s)
}
