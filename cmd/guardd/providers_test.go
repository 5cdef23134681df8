package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/poller/pollertest"
)

// t0 is when the scripted polls start; they run hourly from there.
var t0 = time.Date(2026, 10, 14, 8, 0, 0, 0, time.UTC)

// provider is one provider's fake, set up for a recharge loop, and the
// config and environment that point guardd at it.
type provider struct {
	name    string
	account string // the account's YAML, indented as a list item
	env     map[string]string
	secrets []string
	// setClock and fault control the fake.
	setClock func(func() time.Time)
	fault    func(pollertest.Fault)
	// want is the notifications (severity and rule) the recharge loop must
	// produce over the polls, in order.
	want []string
}

func openAIProvider(t *testing.T) provider {
	f := pollertest.NewOpenAI(t)
	// Bought last month, nearly used up: below the 5.00 threshold.
	g := pollertest.PurchaseGrant("cg_0", "10.00", t0.AddDate(0, -1, 0))
	g.Used = "6.00"
	f.SetGrants(g)
	f.SetCost(t0.AddDate(0, 0, -1), "3.21")
	f.RechargeLoop("10.00")
	return provider{
		name: "openai",
		account: fmt.Sprintf(`  - name: acme-openai
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}
    source: {type: openai, base_url: %q, admin_key_env: OPENAI_ADMIN_KEY, session_key_env: OPENAI_SESSION_KEY}
`, f.URL()),
		env:      map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": f.SessionKey},
		secrets:  []string{f.AdminKey, f.SessionKey},
		setClock: f.SetClock,
		fault:    f.SetFault,
		want:     []string{"[WARNING] recharge-above-threshold", "[CRITICAL] recharge-burst"},
	}
}

func anthropicProvider(t *testing.T) provider {
	f := pollertest.NewAnthropic(t)
	f.SetCost(t0.AddDate(0, 0, -1), "12345.6")
	f.SetCost(t0, "250")
	return provider{
		name: "anthropic",
		account: fmt.Sprintf(`  - name: acme-anthropic
    provider: anthropic
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: true, threshold: "10.00", mode: restore, target: "50.00"}
    source: {type: anthropic, base_url: %q, admin_key_env: ANTHROPIC_ADMIN_KEY}
`, f.URL()),
		env:      map[string]string{"ANTHROPIC_ADMIN_KEY": f.AdminKey},
		secrets:  []string{f.AdminKey},
		setClock: f.SetClock,
		fault:    f.SetFault,
		// Anthropic shows no balance and no recharges: costs alone cannot
		// show a recharge loop, and nothing fires.
		want: nil,
	}
}

func deepSeekProvider(t *testing.T) provider {
	f := pollertest.NewDeepSeek(t)
	f.SetBalances(pollertest.DeepSeekBalance{Currency: "CNY", Granted: "0.00", ToppedUp: "15.00"})
	f.RechargeLoop("CNY", "50.00")
	return provider{
		name: "deepseek",
		account: fmt.Sprintf(`  - name: acme-deepseek
    provider: deepseek
    currency: CNY
    drawdown: grants-first
    auto_recharge: {enabled: true, threshold: "20.00", mode: add, amount: "50.00"}
    source: {type: deepseek, base_url: %q, api_key_env: DEEPSEEK_API_KEY}
`, f.URL()),
		env:      map[string]string{"DEEPSEEK_API_KEY": f.APIKey},
		secrets:  []string{f.APIKey},
		setClock: f.SetClock,
		fault:    f.SetFault,
		want:     []string{"[WARNING] recharge-above-threshold", "[CRITICAL] recharge-burst"},
	}
}

func openRouterProvider(t *testing.T) provider {
	f := pollertest.NewOpenRouter(t)
	f.SetCredits("30", "20")
	f.RechargeLoop("25")
	return provider{
		name: "openrouter",
		account: fmt.Sprintf(`  - name: acme-openrouter
    provider: openrouter
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: true, threshold: "15.00", mode: add, amount: "25.00"}
    source: {type: openrouter, base_url: %q, management_key_env: OPENROUTER_MANAGEMENT_KEY}
`, f.URL()),
		env:      map[string]string{"OPENROUTER_MANAGEMENT_KEY": f.Key},
		secrets:  []string{f.Key},
		setClock: f.SetClock,
		fault:    f.SetFault,
		want:     []string{"[WARNING] recharge-above-threshold", "[CRITICAL] recharge-burst"},
	}
}

var providers = []func(*testing.T) provider{openAIProvider, anthropicProvider, deepSeekProvider, openRouterProvider}

// providerConfig writes a config watching the given accounts, notifying on
// stdout, polling every second when run as a daemon, serving no HTTP (so
// that daemons of tests running in parallel do not share a port).
func providerConfig(t *testing.T, accounts ...string) string {
	t.Helper()
	cfg := "schedule: \"@every 1s\"\nlog: {level: debug, format: json}\nhttp: {addr: off}\naccounts:\n" + strings.Join(accounts, "") +
		"notifiers:\n  - {name: console, type: stdout}\n"
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var titleRE = regexp.MustCompile(`(?m)^\[(WARNING|CRITICAL|INFO|RESOLVED)\] [a-z-]+`)

// pollHourly runs n guard cycles an hour apart through the same factory and
// cycle as guardd check and guardd run, with the fake's clock in step, and
// returns stdout, stderr and each cycle's error.
func pollHourly(t *testing.T, p provider, cfg string, n int) (string, string, []error) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := p.env[k]; return v, ok }
	a, err := setup(context.Background(), cfg, getenv, &out, &errOut, false, false, t0)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	defer a.Close()
	var errs []error
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Hour)
		p.setClock(func() time.Time { return at })
		errs = append(errs, cycle(context.Background(), a, clock.Fixed(at)))
	}
	return out.String(), errOut.String(), errs
}

// TestProvidersRechargeLoop polls each provider's fake hourly while its
// auto-recharge fires at every poll, and checks the findings.
func TestProvidersRechargeLoop(t *testing.T) {
	t.Parallel()
	for _, newProvider := range providers {
		p := newProvider(t)
		t.Run(p.name, func(t *testing.T) {
			cfg := providerConfig(t, p.account)
			out, errOut, errs := pollHourly(t, p, cfg, 5)
			for i, err := range errs {
				if err != nil {
					t.Errorf("cycle %d: %v\nlog:\n%s", i, err, errOut)
				}
			}
			if got := titleRE.FindAllString(out, -1); !slices.Equal(got, p.want) {
				t.Errorf("notifications: got %q, want %q\nstdout:\n%s", got, p.want, out)
			}
			if !strings.Contains(errOut, `"account polled"`) {
				t.Errorf("log lacks the polled account:\n%s", errOut)
			}
			checkNoSecret(t, p.secrets, out, errOut)
		})
	}
}

// TestProvidersFailing runs the same polls against a fake that refuses the
// key or answers with an HTML page: every cycle reports the account as not
// read, and the only finding is source-blind, once three polls in a row
// have failed.
func TestProvidersFailing(t *testing.T) {
	t.Parallel()
	for _, newProvider := range providers {
		p := newProvider(t)
		t.Run(p.name, func(t *testing.T) {
			for _, fault := range []pollertest.Fault{pollertest.Unauthorized, pollertest.HTML} {
				p.fault(fault)
				out, errOut, errs := pollHourly(t, p, providerConfig(t, p.account), 5)
				if got, want := titleRE.FindAllString(out, -1), []string{"[CRITICAL] source-blind"}; !slices.Equal(got, want) {
					t.Errorf("%s: notifications: got %q, want %q\nstdout:\n%s", fault, got, want, out)
				}
				for i, err := range errs {
					if err == nil || !strings.Contains(err.Error(), "1 of 1 accounts could not be read") {
						t.Errorf("%s: cycle %d: got %v, want the account reported as not read", fault, i, err)
					}
				}
				if n := strings.Count(errOut, `"account not read"`); n != 5 {
					t.Errorf("%s: log has %d account-not-read lines, want 5:\n%s", fault, n, errOut)
				}
				checkNoSecret(t, p.secrets, out, errOut)
			}
		})
	}
}

// TestRunDaemonAgainstFake runs guardd run with an "@every 1s" schedule
// against DeepSeek's recharge loop until the burst is notified.
func TestRunDaemonAgainstFake(t *testing.T) {
	t.Parallel()
	p := deepSeekProvider(t)
	cfg := providerConfig(t, p.account)
	getenv := func(k string) (string, bool) { v, ok := p.env[k]; return v, ok }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg}, proc{getenv: getenv, stdout: out, stderr: errOut})
	}()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(out.String(), "recharge-burst") {
		select {
		case <-deadline:
			cancel()
			t.Fatalf("no recharge-burst within 60s; stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	checkNoSecret(t, p.secrets, out.String(), errOut.String())
}

// TestRecord records two polls of every provider, plus one account that
// cannot be read, and checks the history files.
func TestRecord(t *testing.T) {
	var ps []provider
	env := map[string]string{}
	var accounts, secrets []string
	for _, newProvider := range providers {
		p := newProvider(t)
		ps = append(ps, p)
		accounts = append(accounts, p.account)
		secrets = append(secrets, p.secrets...)
		for k, v := range p.env {
			env[k] = v
		}
	}
	broken := pollertest.NewDeepSeek(t)
	broken.SetFault(pollertest.Truncated)
	accounts = append(accounts, fmt.Sprintf(`  - name: broken-deepseek
    provider: deepseek
    currency: CNY
    drawdown: grants-first
    auto_recharge: {enabled: false}
    source: {type: deepseek, base_url: %q, api_key_env: BROKEN_KEY}
`, broken.URL()))
	env["BROKEN_KEY"] = broken.APIKey
	secrets = append(secrets, broken.APIKey)
	cfg := providerConfig(t, accounts...)
	dir := filepath.Join(t.TempDir(), "recorded")

	var seen strings.Builder
	for i := range 2 {
		out, errOut, err := runCmd(t, env, "record", "--config", cfg, "--out", dir)
		fmt.Fprintf(&seen, "%s\n%s\n%v\n", out, errOut, err)
		if err == nil || !strings.Contains(err.Error(), "1 of 5 accounts could not be recorded") {
			t.Errorf("record %d: got %v, want the broken account reported", i, err)
		}
		if !strings.Contains(errOut, `"account":"broken-deepseek"`) || !strings.Contains(errOut, "cut short") {
			t.Errorf("record %d: log lacks the broken account's reason:\n%s", i, errOut)
		}
		for _, want := range []string{
			fmt.Sprintf("acme-openai: observation %d appended", i+1),
			"balance read ($4.00); grants read (1); costs read (8 days); charges not read",
			"acme-anthropic: observation",
			"acme-deepseek: observation",
			"acme-openrouter: observation",
		} {
			if i == 0 && !strings.Contains(out, want) || i == 1 && !strings.Contains(out, strings.Replace(want, "$4.00); grants read (1)", "$14.00); grants read (2)", 1)) {
				t.Errorf("record %d output lacks %q:\n%s", i, want, out)
			}
		}
	}
	for _, p := range ps {
		path := filepath.Join(dir, "acme-"+p.name+".json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		seen.Write(data)
		h, err := history.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(h.Observations) != 2 || h.Account.Name != "acme-"+p.name || !h.Account.AutoRecharge.Enabled {
			t.Errorf("%s: got %d observations of %+v, want 2 with the config's settings", path, len(h.Observations), h.Account)
		}
		// What was recorded replays.
		if _, _, err := runCmd(t, nil, "replay", path); err != nil {
			t.Errorf("replay %s: %v", path, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "broken-deepseek.json")); !os.IsNotExist(err) {
		t.Errorf("a file was written for the account that could not be read: %v", err)
	}
	checkNoSecret(t, secrets, seen.String())
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestRecordUsage(t *testing.T) {
	for _, args := range [][]string{{"record"}, {"record", "--config", "x.yaml"}, {"record", "--out", "d"}} {
		_, _, err := runCmd(t, nil, args...)
		if u, ok := err.(*usageError); !ok || !strings.Contains(u.Error(), "--config and --out are required") {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

func TestValidateNamesMissingKeys(t *testing.T) {
	p := openAIProvider(t)
	cfg := providerConfig(t, p.account)
	_, _, err := runCmd(t, map[string]string{"OPENAI_ADMIN_KEY": p.env["OPENAI_ADMIN_KEY"]}, "validate", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "accounts[0].source.session_key_env: environment variable OPENAI_SESSION_KEY is not set; it must hold a browser session key (sess-…)") {
		t.Errorf("validate: got %v, want the missing session key named and explained", err)
	}
	out, _, err := runCmd(t, p.env, "validate", "--print", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "admin_key_env: OPENAI_ADMIN_KEY") {
		t.Errorf("validate --print lacks where the admin key comes from:\n%s", out)
	}
	checkNoSecret(t, p.secrets, out)
}

func checkNoSecret(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Fatalf("output contains a key:\n%s", text)
			}
			// Providers quote keys masked ("sk-adm***f3a"): the tail of a
			// key must not show either.
			if tail := s[len(s)-12:]; strings.Contains(text, tail) {
				t.Fatalf("output contains the end of a key (%s):\n%s", tail, text)
			}
		}
	}
}

// BenchmarkCheck1000Accounts times one `guardd check` over 1,000 accounts
// against one fake per provider that adds 50 ms to every answer. The
// poller runs 4 fetches at a time, so the ideal is 1000/4 × 50 ms per
// request an account makes: 12.5 s for DeepSeek (1 request), 25 s for
// OpenAI with a session key (costs and grants). Run it with
//
//	go test ./cmd/guardd -run '^$' -bench Check1000 -benchtime 1x
func BenchmarkCheck1000Accounts(b *testing.B) {
	const n, latency, inFlight = 1000, 50 * time.Millisecond, 4
	cases := []struct {
		name     string
		requests int
		account  func(b *testing.B) (string, map[string]string)
	}{
		{"deepseek", 1, func(b *testing.B) (string, map[string]string) { return slowDeepSeek(b, latency) }},
		{"openai", 2, func(b *testing.B) (string, map[string]string) {
			f := pollertest.NewOpenAI(b)
			f.SetLatency(latency)
			f.SetGrants(pollertest.PurchaseGrant("cg_1", "10", time.Now()))
			return fmt.Sprintf(`    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: openai, base_url: %q, admin_key_env: KEY, session_key_env: SESS}
`, f.URL()), map[string]string{"KEY": f.AdminKey, "SESS": f.SessionKey}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			body, env := tc.account(b)
			path := benchConfig(b, "", n, body)
			getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			for b.Loop() {
				var out, errOut bytes.Buffer
				if err := run(context.Background(), []string{"check", "--config", path}, proc{getenv: getenv, stdout: &out, stderr: &errOut}); err != nil {
					b.Fatalf("check: %v\n%s", err, errOut.String())
				}
			}
			ideal := time.Duration(n/inFlight*tc.requests) * latency
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/check")
			b.ReportMetric(float64(ideal.Milliseconds()), "ideal-ms")
		})
	}
}

func TestAppendHistoryKeepsFileValid(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("examples", "healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := history.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	last := h.Observations[len(h.Observations)-1]
	unchanged := func(what string) {
		t.Helper()
		if got, _ := os.ReadFile(path); !bytes.Equal(got, src) {
			t.Errorf("%s: the file changed", what)
		}
	}

	early := last
	if _, err := appendHistory(path, h.Account, early); err == nil || !strings.Contains(err.Error(), "is not after the last one") {
		t.Errorf("append at the same time: got %v, want an ordering error", err)
	}
	unchanged("out of order")

	bad := last
	bad.At = last.At.Add(time.Hour)
	bad.Grants = append([]billing.Grant(nil), last.Grants...)
	if len(bad.Grants) == 0 || !bad.Has(billing.PartGrants) {
		t.Fatal("example's last observation has no grants")
	}
	bad.Grants[0].Amount = bad.Grants[0].Amount.Neg()
	if _, err := appendHistory(path, h.Account, bad); err == nil || !strings.Contains(err.Error(), "cannot be recorded") {
		t.Errorf("append of an invalid observation: got %v, want it refused", err)
	}
	unchanged("invalid observation")

	good := last
	good.At = last.At.Add(time.Hour)
	n, err := appendHistory(path, h.Account, good)
	if err != nil || n != len(h.Observations)+1 {
		t.Fatalf("append: got %d, %v; want %d observations", n, err, len(h.Observations)+1)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if h2, err := history.Decode(f); err != nil || len(h2.Observations) != n {
		t.Errorf("file after append: %v", err)
	}
}
