package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad gives Load configs the fuzzer changes, seeded with the example
// config and every bad config of the tests, each variable a config names
// set: an error
// naming what is wrong in lines of bounded length, or a config, never a
// panic, and never a secret's value in the error. Run it with
//
//	go test ./internal/config -run '^$' -fuzz FuzzLoad -fuzztime 1m
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range append(seeds, filepath.Join("..", "..", "config.example.yaml")) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	const value = "fuzz-secret-value-8b1d3f"
	// Every variable a config names is set to value; guardd's own
	// overrides (GUARDD_…, not secrets) are left unset.
	getenv := func(name string) (string, bool) {
		if strings.HasPrefix(name, EnvPrefix) {
			return "", false
		}
		return value, true
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Load(bytes.NewReader(data), dir, getenv, AllSecrets)
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.Contains(msg, value) {
			t.Errorf("a secret's value in the error: %.300s", msg)
		}
		for line := range strings.Lines(msg) {
			if len(line) > 1000 {
				t.Errorf("an error line of %d bytes: %.300s…", len(line), line)
			}
		}
	})
}
