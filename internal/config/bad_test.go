package config

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from what Load returns")

// TestBadConfigs loads every testdata/bad/NAME.yaml (with the environment in
// NAME.env, if present, as KEY=VALUE lines) and compares the error with
// NAME.err. Relative paths in the files resolve against testdata.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("got %d bad configs, want at least 20", len(files))
	}
	for _, file := range files {
		base := strings.TrimSuffix(file, ".yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			env := readEnvFile(t, base+".env")
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			c, err := Load(f, "testdata", mapEnv(env), AllSecrets)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, nil; want an error", file, c)
			}
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Errorf("Load(%s) error is %T, want *config.Error", file, err)
			}
			got := err.Error()
			if *update {
				if err := os.WriteFile(base+".err", []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(base + ".err")
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if want := strings.TrimSuffix(string(b), "\n"); got != want {
				t.Errorf("Load(%s) error:\ngot:\n%s\nwant:\n%s", file, got, want)
			}
			for name, v := range env {
				if overrides[name] {
					continue // an override's value is quoted when it is wrong
				}
				// Neither a secret nor its tail: a message may name a key's
				// documented prefix (sk-proj-…), never what follows.
				if tail := v[max(0, len(v)-8):]; strings.Contains(got, v) || len(v) >= 12 && strings.Contains(got, tail) {
					t.Errorf("Load(%s) error shows the value of %s:\n%s", file, name, got)
				}
			}
			for _, leak := range []string{"config.file", "fileAccount", "scalar", "!!", "yaml: "} {
				if strings.Contains(got, leak) {
					t.Errorf("Load(%s) error contains %q, want no Go or YAML internals:\n%s", file, leak, got)
				}
			}
		})
	}
}

// overrides are the environment overrides of the config's settings, whose
// values are not secrets.
var overrides = map[string]bool{"GUARDD_SCHEDULE": true, "GUARDD_LOG_LEVEL": true, "GUARDD_LOG_FORMAT": true,
	"GUARDD_STATE_PATH": true, "GUARDD_HTTP_ADDR": true}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return env
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// mapEnv is a getenv over a map.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}
