package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/heartbeat"
	"github.com/guardd/guardd/internal/setting"
)

// TestHeartbeat loads the heartbeat section from an environment variable
// and from a file: the URL is read, the other keys keep their defaults or
// take the file's, and a dump shows where the URL is kept, never the URL.
func TestHeartbeat(t *testing.T) {
	const url = "https://hc-ping.com/5b1d0c3e-hbSECRETping"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "source.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hc-url"), []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, section, dump string
		timeout             time.Duration
		start, partialFails bool
	}{
		{"env, defaults", "heartbeat: {url_env: HC_URL}",
			"heartbeat:\n  url_env: HC_URL\n  timeout: 10s\n  start: false\n  on_partial: ok\n", heartbeat.DefaultTimeout, false, false},
		{"file, every key", "heartbeat: {url_file: hc-url, timeout: 3s, start: true, on_partial: fail}",
			"heartbeat:\n  url_file: hc-url\n  timeout: 3s\n  start: true\n  on_partial: fail\n", 3 * time.Second, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(strings.NewReader(minimal+tt.section+"\n"), dir, mapEnv(map[string]string{"HC_URL": url}), AllSecrets)
			if err != nil {
				t.Fatalf("Load: got error\n%v\nwant none", err)
			}
			hb := c.Heartbeat
			if got := hb.URL.Value.Reveal(); got != url {
				t.Errorf("url: got %d bytes, want the URL", len(got))
			}
			if hb.Timeout.Duration != tt.timeout || hb.Start.B != tt.start || (hb.OnPartial.S == heartbeat.PartialFail) != tt.partialFails {
				t.Errorf("got timeout %s start %v on_partial %s, want %s %v fail:%v", hb.Timeout.Duration, hb.Start.B, hb.OnPartial.S,
					tt.timeout, tt.start, tt.partialFails)
			}
			if hb.New(nil) == nil {
				t.Error("New: got no Pinger, want one")
			}
			var buf bytes.Buffer
			if err := c.Dump(&buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), tt.dump) {
				t.Errorf("Dump lacks\n%s\nin:\n%s", tt.dump, buf.String())
			}
			if strings.Contains(buf.String(), "SECRET") || strings.Contains(hb.Describe(), "SECRET") {
				t.Errorf("the URL shows in the dump or the description:\n%s\n%s", buf.String(), hb.Describe())
			}
		})
	}

	// Off by default: no Pinger, and the dump leaves the section out.
	c := mustLoad(t, minimal, nil)
	if c.Heartbeat.New(nil) != nil {
		t.Error("default: got a Pinger, want none")
	}
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "heartbeat") {
		t.Errorf("default dump shows a heartbeat section:\n%s", buf.String())
	}

	// Read without its secrets (validate --print): where the URL is kept,
	// no Pinger.
	c, err := Load(strings.NewReader(minimal+"heartbeat: {url_env: HC_URL}\n"), "testdata", mapEnv(nil), NoSecrets)
	if err != nil {
		t.Fatalf("Load with NoSecrets: %v", err)
	}
	if c.Heartbeat.New(nil) != nil || c.Heartbeat.URL.Env != "HC_URL" {
		t.Errorf("NoSecrets: got env %q and a Pinger %v, want HC_URL and none", c.Heartbeat.URL.Env, c.Heartbeat.New(nil) != nil)
	}
}

// TestExampleHeartbeat uncomments config.example.yaml's heartbeat section:
// it loads, and each key shows its default.
func TestExampleHeartbeat(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case l == "# heartbeat:":
			in = true
		case in && !strings.HasPrefix(l, "#   "):
			in = false
		}
		if in {
			l = strings.TrimPrefix(l, "# ")
		}
		out = append(out, l)
	}
	text := strings.Join(out, "\n")
	if !strings.Contains(text, "\nheartbeat:\n") {
		t.Fatal("config.example.yaml: found no commented-out heartbeat section")
	}
	const url = "https://hc-ping.com/0e1f2a3b-example"
	c, err := LoadFile(writeTemp(t, text), mapEnv(map[string]string{"GUARDD_HEARTBEAT_URL": url}), AllSecrets)
	if err != nil {
		t.Fatalf("uncommented heartbeat: got error\n%v\nwant none", err)
	}
	got, want := c.Heartbeat, heartbeat.Defaults()
	if got.URL.Value.Reveal() != url || got.Timeout.Duration != want.Timeout.Duration || got.Start.B != want.Start.B || got.OnPartial.S != want.OnPartial.S {
		t.Errorf("uncommented heartbeat: got timeout %s start %v on_partial %s, want the defaults %s %v %s and the URL",
			got.Timeout.Duration, got.Start.B, got.OnPartial.S, want.Timeout.Duration, want.Start.B, want.OnPartial.S)
	}
	for _, k := range setting.Keys(reflectType(&want)) {
		if !strings.Contains(readDoc(t, "docs/deploy.md"), "`"+k) {
			t.Errorf("docs/deploy.md never names heartbeat.%s", k)
		}
	}
}

// writeTemp writes the example's text beside a copy of its history file.
func writeTemp(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "examples"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "examples", "hourly-recharge.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
