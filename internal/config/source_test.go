package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/anthropic"
	"github.com/guardd/guardd/internal/poller/deepseek"
	"github.com/guardd/guardd/internal/poller/openai"
	"github.com/guardd/guardd/internal/poller/openrouter"
)

func TestAPISources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "or-key"), []byte("\n  sk-or-v1-fromfile \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := `
accounts:
  - name: oa
    provider: openai
    currency: usd
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: openai, admin_key_env: OA_ADMIN, session_key_env: OA_SESS}
  - name: an
    provider: anthropic
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source:
      type: anthropic
      base_url: http://127.0.0.1:8080/anthropic/
      admin_key_env: AN_ADMIN
      timeout: 5s
      max_requests: 3
      cost_lookback: 720h
  - name: ds
    provider: deepseek
    currency: CNY
    drawdown: grants-first
    auto_recharge: {enabled: false}
    source: {type: deepseek, api_key_env: DS_KEY}
  - name: or
    provider: openrouter
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: openrouter, management_key_file: or-key}
`
	env := map[string]string{"OA_ADMIN": "sk-admin-1", "OA_SESS": " sess-2\n", "AN_ADMIN": "sk-ant-admin01-3", "DS_KEY": "sk-4"}
	c, err := Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	oa := c.Accounts[0].Source.Config.(*openai.Config)
	if c.Accounts[0].Source.Type != "openai" || oa.BaseURL.S != "https://api.openai.com" || oa.AdminKey.Value.Reveal() != "sk-admin-1" ||
		oa.AdminKey.Env != "OA_ADMIN" || oa.SessionKey.Value.Reveal() != "sess-2" || oa.Timeout.Duration != 30*time.Second ||
		oa.MaxRequests.N != 20 || oa.CostLookback.Duration != 168*time.Hour {
		t.Errorf("openai source: got %+v", oa)
	}
	an := c.Accounts[1].Source.Config.(*anthropic.Config)
	if an.BaseURL.S != "http://127.0.0.1:8080/anthropic" || an.Timeout.Duration != 5*time.Second || an.MaxRequests.N != 3 ||
		an.CostLookback.Duration != 720*time.Hour || an.AdminKey.Value.Reveal() != "sk-ant-admin01-3" {
		t.Errorf("anthropic source: got %+v", an)
	}
	ds := c.Accounts[2].Source.Config.(*deepseek.Config)
	if ds.BaseURL.S != "https://api.deepseek.com" || ds.APIKey.Value.Reveal() != "sk-4" {
		t.Errorf("deepseek source: got %+v", ds)
	}
	or := c.Accounts[3].Source.Config.(*openrouter.Config)
	if or.BaseURL.S != "https://openrouter.ai" || or.ManagementKey.Value.Reveal() != "sk-or-v1-fromfile" || or.ManagementKey.File != "or-key" {
		t.Errorf("openrouter source: got %+v", or)
	}

	descs := []string{
		"openai at https://api.openai.com: admin key from $OA_ADMIN; session key from $OA_SESS",
		"anthropic at http://127.0.0.1:8080/anthropic: admin key from $AN_ADMIN",
		"deepseek at https://api.deepseek.com: api key from $DS_KEY",
		"openrouter at https://openrouter.ai: management key from file or-key",
	}
	for i, want := range descs {
		if got := c.Accounts[i].Source.Describe(); got != want {
			t.Errorf("Describe %d: got %q, want %q", i, got, want)
		}
	}
	delete(env, "OA_SESS")
	text = strings.Replace(text, ", session_key_env: OA_SESS", "", 1)
	c, err = Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Accounts[0].Source.Describe(), "openai at https://api.openai.com: admin key from $OA_ADMIN; no session key, so no grants or balance"; got != want {
		t.Errorf("Describe without a session key: got %q, want %q", got, want)
	}

	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	dump := buf.String()
	for _, want := range []string{
		"      type: openai\n      base_url: https://api.openai.com\n      timeout: 30s\n      max_requests: 20\n      admin_key_env: OA_ADMIN\n      cost_lookback: 168h\n",
		"      management_key_file: or-key\n",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("Dump lacks %q:\n%s", want, dump)
		}
	}
	for _, key := range []string{"sk-admin-1", "sk-ant-admin01-3", "sk-4", "fromfile"} {
		if strings.Contains(dump, key) {
			t.Errorf("Dump shows the key %q", key)
		}
	}
}

// TestSourceProblemsHideKeys checks that no problem quotes a key, wherever
// the user put it by mistake.
func TestSourceProblemsHideKeys(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "bad", "source-key-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Load(f, "testdata", mapEnv(readEnvFile(t, filepath.Join("testdata", "bad", "source-key-values.env"))), AllSecrets)
	if err == nil {
		t.Fatal("Load: no error")
	}
	for _, leak := range []string{"PASTEDKEY", "PASTEDSESSION", "SECRETPART", "hunter2", "sess-abc"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error shows %q:\n%v", leak, err)
		}
	}
}

// TestExampleProviderAccounts uncomments the example's provider accounts:
// without keys, validation names each missing one; with them, all load.
func TestExampleProviderAccounts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		// Commented YAML is "  #- " or "  #  key"; prose is "  # text".
		if strings.HasPrefix(l, "  #- ") || (strings.HasPrefix(l, "  #  ") && len(l) > 5 && l[5] != ' ') {
			l = "  " + l[3:]
			n++
		}
		out = append(out, l)
	}
	if n != 24 {
		t.Fatalf("uncommented %d lines, want 24 (four accounts of six lines)", n)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hourly-recharge.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(strings.Join(out, "\n"), "path: examples/hourly-recharge.json", "path: hourly-recharge.json", 1)

	_, err = Load(strings.NewReader(text), dir, mapEnv(nil), AllSecrets)
	if err == nil {
		t.Fatal("Load without keys: no error")
	}
	var got []string
	for _, p := range err.(*Error).Problems {
		got = append(got, p.Path+": "+strings.SplitN(p.Msg, ";", 2)[0])
	}
	want := []string{
		"accounts[1].source.admin_key_env: environment variable OPENAI_ADMIN_KEY is not set",
		"accounts[1].source.session_key_env: environment variable OPENAI_SESSION_KEY is not set",
		"accounts[2].source.admin_key_env: environment variable ANTHROPIC_ADMIN_KEY is not set",
		"accounts[3].source.api_key_env: environment variable DEEPSEEK_API_KEY is not set",
		"accounts[4].source.management_key_env: environment variable OPENROUTER_MANAGEMENT_KEY is not set",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems without keys:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	env := map[string]string{
		"OPENAI_ADMIN_KEY": "sk-admin-x", "OPENAI_SESSION_KEY": "sess-x", "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-x",
		"DEEPSEEK_API_KEY": "sk-x", "OPENROUTER_MANAGEMENT_KEY": "sk-or-v1-x",
	}
	c, err := Load(strings.NewReader(text), dir, mapEnv(env), AllSecrets)
	if err != nil {
		t.Fatalf("Load with keys: %v", err)
	}
	var types []string
	for _, a := range c.Accounts {
		types = append(types, a.Source.Type)
	}
	if got, want := strings.Join(types, " "), "file openai anthropic deepseek openrouter"; got != want {
		t.Errorf("source types: got %q, want %q", got, want)
	}
}

// TestAPISourcesProbe: every source type that reads a provider's API can
// have its keys tried online (guardd validate --online), so a new provider
// cannot be added without its probe.
func TestAPISourcesProbe(t *testing.T) {
	for _, k := range SourceKinds {
		_, ok := k.Config().(poller.Prober)
		if want := k.Provider != ""; ok != want {
			t.Errorf("source type %s: implements poller.Prober %v, want %v", k.Name, ok, want)
		}
	}
}
