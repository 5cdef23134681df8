package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/heartbeat/heartbeattest"
	"github.com/guardd/guardd/internal/poller/pollertest"
)

// withHeartbeat adds a heartbeat section to the config at path.
func withHeartbeat(t *testing.T, path, section string) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "heartbeat: %s\n", section); err != nil {
		t.Fatal(err)
	}
	return path
}

// noKey fails the test if any of texts shows the ping URL's secret part.
func noKey(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, heartbeattest.Key) || strings.Contains(s, heartbeattest.Key[9:21]) {
			t.Errorf("output shows the ping URL:\n%s", s)
		}
	}
}

func kinds(ps []heartbeattest.Ping) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Kind)
	}
	return out
}

// TestCheckPingsOnce: guardd check pings the dead-man's switch once, with
// the outcome its exit status gives: the URL when the cycle completed,
// /fail with the reason when an account could not be read, and for an
// account read only in part (exit status 3) what on_partial says. A dry
// run pings nothing; start: true adds /start before the outcome.
func TestCheckPingsOnce(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	f.SetGrants(pollertest.PurchaseGrant("cg_0", "10.00", t0.AddDate(0, -1, 0)))
	session := map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": f.SessionKey}
	// The credit grants endpoint refuses a session key it does not know (an expired one): balance and grants
	// are unavailable, the costs read.
	partial := map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": "sess-expired0000000000000000000000"}
	for _, tc := range []struct {
		name, section string
		env           map[string]string
		fault         pollertest.Fault
		dryRun        bool
		code          int
		want          []string // ping kinds
		body          string   // in the last ping's body
	}{
		{name: "read in full", section: "{url_env: HB_URL}", env: session, code: 0,
			want: []string{"success"}, body: "1 of 1 accounts read; findings: "},
		{name: "account not read", section: "{url_env: HB_URL}", env: session, fault: pollertest.Unauthorized, code: 1,
			want: []string{"fail"}, body: "cycle failed: 1 of 1 accounts could not be read"},
		{name: "read in part counts as ok", section: "{url_env: HB_URL}", env: partial, code: 3,
			want: []string{"success"}, body: "read only in part: 1 of 1 accounts read only in part: acme-openai (balance and grants unavailable)"},
		{name: "read in part fails when asked", section: "{url_env: HB_URL, on_partial: fail}", env: partial, code: 3,
			want: []string{"fail"}, body: "cycle read accounts only in part: 1 of 1 accounts read only in part: acme-openai"},
		{name: "start", section: "{url_env: HB_URL, start: true}", env: session, code: 0,
			want: []string{"start", "success"}, body: "1 of 1 accounts read"},
		{name: "dry run", section: "{url_env: HB_URL}", env: session, dryRun: true, code: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := heartbeattest.New(t)
			env := map[string]string{"HB_URL": hb.URL()}
			for k, v := range tc.env {
				env[k] = v
			}
			f.SetFault(tc.fault)
			defer f.SetFault(pollertest.OK)
			cfg := withHeartbeat(t, providerConfig(t, openAIAccount(f)), tc.section)
			args := []string{"check", "--config", cfg}
			if tc.dryRun {
				args = append(args, "--dry-run")
			}
			out, errOut, err := runCmd(t, env, args...)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit code: got %d (%v), want %d\n%s", got, err, tc.code, errOut)
			}
			pings := hb.Pings()
			if fmt.Sprint(kinds(pings)) != fmt.Sprint(tc.want) {
				t.Fatalf("pings: got %v, want %v\n%s", kinds(pings), tc.want, errOut)
			}
			if len(pings) > 0 && !strings.Contains(pings[len(pings)-1].Body, tc.body) {
				t.Errorf("ping body: got %q, want it to hold %q", pings[len(pings)-1].Body, tc.body)
			}
			noKey(t, out, errOut, fmt.Sprint(err))
		})
	}
}

// cycleOutcomes reads the "cycle done" lines of a JSON log, in order: the
// ping each must have sent ("fail" for a cycle that failed to read an
// account).
func cycleOutcomes(t *testing.T, log string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["msg"] != "cycle done" {
			continue
		}
		if failed, _ := m["failed"].(float64); failed > 0 {
			out = append(out, "fail")
		} else {
			out = append(out, "success")
		}
	}
	return out
}

// TestRunPingsEveryCycle runs guardd run every second against a fake
// DeepSeek that goes down for a while and comes back: the dead-man's
// switch sees exactly one ping per cycle, in order, the URL for each cycle
// that read the account and /fail with the reason for each that could not.
func TestRunPingsEveryCycle(t *testing.T) {
	ds := pollertest.NewDeepSeek(t)
	hb := heartbeattest.New(t)
	cfg := withHeartbeat(t, providerConfig(t, fmt.Sprintf(`  - name: acme-deepseek
    provider: deepseek
    currency: CNY
    drawdown: grants-first
    auto_recharge: {enabled: false}
    source: {type: deepseek, base_url: %q, api_key_env: DEEPSEEK_API_KEY, max_requests: 1}
`, ds.URL())), "{url_env: HB_URL}")
	env := map[string]string{"DEEPSEEK_API_KEY": ds.APIKey, "HB_URL": hb.URL()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg}, proc{getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			stdout: &out, stderr: &errOut})
	}()
	// waitPing waits for a ping of kind, taking every ping before it.
	waitPing := func(kind string) heartbeattest.Ping {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			select {
			case p := <-hb.Received():
				if p.Kind == kind {
					return p
				}
			case <-deadline:
				t.Fatalf("no %s ping within a minute; got %v\n%s", kind, kinds(hb.Pings()), errOut.String())
			}
		}
	}
	for range 3 {
		waitPing("success")
	}
	ds.SetFault(pollertest.Unauthorized)
	failed := waitPing("fail")
	ds.SetFault(pollertest.OK)
	waitPing("success")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not stop")
	}

	// Every cycle has finished: each pinged once, with its outcome.
	want := cycleOutcomes(t, errOut.String())
	got := kinds(hb.Pings())
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pings, one per cycle:\ngot  %v\nwant %v", got, want)
	}
	if len(want) < 5 {
		t.Errorf("got %d cycles, want at least 5 (3 read, 1 failed, 1 read)", len(want))
	}
	if !strings.HasPrefix(failed.Body, "cycle failed: 1 of 1 accounts could not be read") {
		t.Errorf("fail ping body: got %q, want the cycle's error", failed.Body)
	}
	for _, p := range hb.Pings() {
		if p.Method != "POST" {
			t.Errorf("ping method: got %s, want POST", p.Method)
		}
	}
	noKey(t, out.String(), errOut.String())
}

// TestHangingHeartbeatDoesNotHoldTheCycle: a dead-man's switch that never
// answers costs a cycle no more than the heartbeat's timeout, and its
// failure, logged, does not fail the cycle. Without the bound, check would
// wait until the test ends (the fake answers then), past the deadline.
func TestHangingHeartbeatDoesNotHoldTheCycle(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	hb := heartbeattest.New(t)
	hb.Hang()
	cfg := withHeartbeat(t, providerConfig(t, openAIAccount(f)), "{url_file: hb-url, timeout: 200ms, start: true}")
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "hb-url"), []byte(hb.URL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": f.SessionKey}
	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := runCmd(t, env, "check", "--config", cfg)
		done <- result{out, errOut, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("check still waits on a dead-man's switch that hangs")
	}
	if r.err != nil {
		t.Fatalf("check: got %v, want success (a ping failure never fails the cycle)\n%s", r.err, r.errOut)
	}
	if got := kinds(hb.Pings()); fmt.Sprint(got) != "[start success]" {
		t.Errorf("pings: got %v, want [start success]", got)
	}
	if n := countLines(r.errOut, "heartbeat ping failed"); n != 2 || !strings.Contains(r.errOut, "deadline exceeded") {
		t.Errorf("got %d \"heartbeat ping failed\" lines, want 2 naming the timeout:\n%s", n, r.errOut)
	}
	noKey(t, r.out, r.errOut)
}

// TestValidateShowsHeartbeat: validate names where the ping URL is kept,
// never the URL, and --print dumps the section the same way.
func TestValidateShowsHeartbeat(t *testing.T) {
	f := pollertest.NewOpenAI(t)
	hb := heartbeattest.New(t)
	cfg := withHeartbeat(t, providerConfig(t, openAIAccount(f)), "{url_env: HB_URL, on_partial: fail}")
	env := map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": f.SessionKey, "HB_URL": hb.URL()}
	out, errOut, err := runCmd(t, env, "validate", "--config", cfg)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "  heartbeat: pings the URL in $HB_URL after each cycle (timeout 10s; a cycle that read an account only in part is a failure)\n") {
		t.Errorf("validate lacks the heartbeat line:\n%s", out)
	}
	printed, errOut, err := runCmd(t, nil, "validate", "--print", "--config", cfg)
	if err != nil {
		t.Fatalf("validate --print: %v\n%s", err, errOut)
	}
	if !strings.Contains(printed, "heartbeat:\n  url_env: HB_URL\n  timeout: 10s\n  start: false\n  on_partial: fail\n") {
		t.Errorf("validate --print lacks the heartbeat section:\n%s", printed)
	}
	noKey(t, out, printed, errOut)
	if len(hb.Pings()) != 0 {
		t.Errorf("validate pinged: %v", hb.Pings())
	}
}
