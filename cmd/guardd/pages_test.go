package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/ledger"
)

// examplesConfig watches every bundled example (examples/*.json), each
// account with the settings of its history file, with a Slack receiver
// and a state database in dir; the pages are served on 127.0.0.1.
func examplesConfig(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("examples", "*.json"))
	if err != nil || len(files) < 6 {
		t.Fatalf("examples: got %d (%v), want at least 6", len(files), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "schedule: \"@every 1h\"\nlog: {level: info, format: json}\nstate: {path: %q}\nhttp: {addr: \"127.0.0.1:0\"}\naccounts:\n",
		filepath.Join(dir, "state.db"))
	for _, f := range files {
		h := readHistory(t, f)
		a := h.Account
		abs, _ := filepath.Abs(f)
		ar := "{enabled: false}"
		if r := a.AutoRecharge; r.Enabled {
			switch r.Mode {
			case "restore":
				ar = fmt.Sprintf("{enabled: true, threshold: %q, mode: restore, target: %q}", r.Threshold.Exact(), r.Target.Exact())
			default:
				ar = fmt.Sprintf("{enabled: true, threshold: %q, mode: add, amount: %q}", r.Threshold.Exact(), r.Amount.Exact())
			}
		}
		fmt.Fprintf(&b, "  - {name: %s, provider: %s, currency: %s, drawdown: %s, auto_recharge: %s, source: {type: file, path: %q}}\n",
			a.Name, a.Provider, a.Currency, a.Drawdown, ar, abs)
	}
	b.WriteString("notifiers:\n  - {name: team-slack, type: slack, webhook_url_env: TEAM_SLACK_URL}\n")
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readHistory(t *testing.T, path string) *history.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := history.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h
}

// seedExamples plays every example into the state database, one cycle per
// observation as guardd check would run them, until every history has run
// out: the pages then have a history, alerts and deliveries to show.
func seedExamples(t *testing.T, cfg string, getenv getenvFunc) {
	t.Helper()
	ctx := context.Background()
	a, err := setup(ctx, cfg, getenv, io.Discard, io.Discard, false, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := 0; ; i++ {
		rep, err := a.guard.Cycle(ctx, time.Now())
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if rep.Polled == 0 {
			return
		}
	}
}

// slackEnv is an environment holding only the Slack receiver's URL.
func slackEnv(url string) getenvFunc {
	return func(k string) (string, bool) {
		if k == "TEAM_SLACK_URL" {
			return url, true
		}
		return "", false
	}
}

// hourlyRecharges is how many recharges the ledger finds in the bundled
// hourly-recharge example: what its page must mark.
func hourlyRecharges(t *testing.T) int {
	t.Helper()
	h := readHistory(t, filepath.Join("examples", "hourly-recharge.json"))
	l := ledger.New(h.Account, ledger.DefaultOptions())
	for _, o := range h.Observations {
		if err := l.Append(o); err != nil {
			t.Fatal(err)
		}
	}
	first, _ := l.First()
	return len(l.Recharges(first.Add(-time.Hour), h.Observations[len(h.Observations)-1].At))
}

var (
	rechargeMarker = regexp.MustCompile(`<a class="rc[ "]`)
	// external is anything a page would fetch or send from elsewhere.
	external = regexp.MustCompile(`(?i)<script|\ssrc=|href="(https?:)?//|url\(|@import`)
)

// guardd report writes the account's page as one file that opens offline:
// no script, nothing fetched, every recharge of the loop marked; it reads
// no secret.
func TestReport(t *testing.T) {
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := examplesConfig(t, dir)
	secret := slack.srv.URL + "/services/T0/B0/secret"
	seedExamples(t, cfg, slackEnv(secret))

	out := filepath.Join(dir, "acme-openai.html")
	stdout, _, err := runCmd(t, nil, "report", "--config", cfg, "--account", "acme-openai", "--out", out)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if !strings.HasPrefix(stdout, "wrote "+out+" (") || !strings.Contains(stdout, "acme-openai from 2026-10-14 00:00 UTC to 2026-10-15 06:00 UTC") {
		t.Errorf("report: got %q", stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	if got, want := len(rechargeMarker.FindAllString(html, -1)), hourlyRecharges(t); got != want || want == 0 {
		t.Errorf("recharge markers: got %d, want %d (one per recharge)", got, want)
	}
	if m := external.FindString(html); m != "" {
		t.Errorf("the report would fetch something (%q); it must open offline", m)
	}
	for _, want := range []string{"<style>", "<svg", "Where the money went", "recharge-burst", "Written by guardd report at "} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(html, `href="/`) {
		t.Errorf("the report links to the daemon's pages; it must stand alone")
	}
	checkNoSecret(t, []string{secret}, html)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--config", cfg, "--account", "nope", "--out", out}, `account "nope" is not in`},
		{[]string{"report", "--config", cfg, "--out", out}, "--account is required"},
		{[]string{"report", "--config", cfg, "--account", "acme-openai"}, "--out is required"},
		{[]string{"report", "--config", cfg, "--account", "acme-openai", "--out", out, "--from", "2026-10-14"}, "--from and --to go together"},
		{[]string{"report", "--config", cfg, "--account", "acme-openai", "--out", out, "--from", "2026-10-15", "--to", "2026-10-13"}, "is before from"},
	} {
		if _, _, err := runCmd(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	// A chosen period: the first day only.
	stdout, _, err = runCmd(t, nil, "report", "--config", cfg, "--account", "acme-openai", "--out", "-", "--from", "2026-10-14", "--to", "2026-10-14")
	if err != nil || !strings.Contains(stdout, "From 2026-10-14 00:00 UTC to 2026-10-15 00:00 UTC.") {
		t.Errorf("report --from --to: got %v\n%.300s", err, stdout)
	}
}

// guardd run serves the pages beside /metrics: the overview, each
// account's page, the alerts page; an unknown account and a bad period
// are errors a person can read; no page holds a secret.
func TestDaemonServesPages(t *testing.T) {
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := examplesConfig(t, dir)
	secret := slack.srv.URL + "/services/T0/B0/secret"
	getenv := slackEnv(secret)
	seedExamples(t, cfg, getenv)
	base := startDaemon(t, cfg, getenv)

	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/", `<a href="/accounts/acme-openai">acme-openai</a>`, 200},
		{"/accounts/acme-openai", "Where the money went", 200},
		{"/accounts/acme-openai?from=2026-10-14&to=2026-10-14", "From 2026-10-14 00:00 UTC to 2026-10-15 00:00 UTC.", 200},
		{"/alerts", "recharge-burst", 200},
		{"/accounts/nope", `no such account &#34;nope&#34; in the config.`, 404},
		{"/accounts/acme-openai?from=yesterday&to=2026-10-14", `from &#34;yesterday&#34;: want a day such as 2026-10-14`, 400},
		{"/nowhere", "guardd has no page at /nowhere.", 404},
	} {
		code, body := get(t, base+tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: got %d, want %d with %q:\n%.2000s", tc.path, code, tc.code, tc.want, body)
		}
		checkNoSecret(t, []string{secret}, body)
	}
	if code, _ := get(t, base+"/metrics"); code != 200 {
		t.Errorf("/metrics beside the pages: got %d", code)
	}
}

// startDaemon runs guardd run on cfg until the test ends and returns the
// base URL of its HTTP listener.
func startDaemon(t *testing.T, cfg string, getenv getenvFunc) string {
	t.Helper()
	errOut, done, cancel := runInProcess(t, getenv, "--config", cfg)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v\n%s", err, errOut.String())
		}
	})
	addr := logLine(t, errOut, "serving metrics and health")["addr"].(string)
	logLine(t, errOut, "cycle done")
	return "http://" + addr
}

// With http.external_url set, Slack messages link the account's page.
func TestMessagesLinkTheAccountPage(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := stateConfig(t, dir, "hourly-recharge.json")
	text, _ := os.ReadFile(cfg)
	withURL := strings.Replace(string(text), "http: {addr: off}", `http: {addr: off, external_url: "https://guardd.example.com"}`, 1)
	if err := os.WriteFile(cfg, []byte(withURL), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEAM_SLACK_URL": srv.URL + "/services/T0/B0/secret"}
	for range 3 { // the second recharge, at 02:00, fires recharge-above-threshold
		if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) == 0 {
		t.Fatal("no Slack message sent")
	}
	want := "https://guardd.example.com/accounts/acme-openai"
	for _, b := range bodies {
		if !strings.Contains(b, want) {
			t.Errorf("a Slack message does not link %s:\n%s", want, b)
		}
	}
}
