// Package systemd_test checks deploy/systemd/guardd.service with systemd's
// own tools: `systemd-analyze verify` (any warning fails) and
// `systemd-analyze security --offline=yes` (exposure at most 2.0).
package systemd_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	unitFile      = "guardd.service"
	installedPath = "/usr/local/bin/guardd"
	// maxExposure is the highest overall exposure allowed (the scale runs
	// from 0.0 to 10.0). systemd-analyze's --threshold takes it times ten as
	// an integer: "--threshold=2.0" is rejected ("Failed to parse
	// threshold"), and --threshold=20 means 2.0.
	maxExposure = 2.0
)

// TestUnitDirectives pins the settings docs/deploy.md relies on.
func TestUnitDirectives(t *testing.T) {
	unit := readUnit(t)
	want := map[string][]string{
		"Type":                   {"notify"},
		"NotifyAccess":           {"main"},
		"WatchdogSec":            {"120s"},
		"ExecStart":              {installedPath + " run --config /etc/guardd/config.yaml"},
		"Restart":                {"on-failure"},
		"DynamicUser":            {"yes"},
		"StateDirectory":         {"guardd"},
		"ConfigurationDirectory": {"guardd"},
		"EnvironmentFile":        {"-/etc/guardd/guardd.env"},
		"Environment":            {"GUARDD_STATE_PATH=/var/lib/guardd/state.db"},
		"ProtectSystem":          {"strict"},
		"NoNewPrivileges":        {"yes"},
		"CapabilityBoundingSet":  {""},
	}
	for key, values := range want {
		if got := unit[key]; !slices.Equal(got, values) {
			t.Errorf("%s: got %q, want %q", key, got, values)
		}
	}
}

// TestSystemdAnalyze runs systemd-analyze on a copy of the unit whose
// ExecStart is a guardd binary built from this module (verify insists that
// the executable exists).
func TestSystemdAnalyze(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is not installed (%v): run .ci/run, which installs Debian's systemd package", err)
	}
	dir := t.TempDir()
	// verify wants ExecStart to name an executable; it never runs it, so
	// this test binary stands in for guardd (building guardd took seconds).
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	src, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	old := "\nExecStart=" + installedPath + " "
	if n := bytes.Count(src, []byte(old)); n != 1 {
		t.Fatalf("%s: got %d lines starting %q, want 1", unitFile, n, strings.TrimSpace(old))
	}
	unit := filepath.Join(dir, unitFile)
	if err := os.WriteFile(unit, bytes.Replace(src, []byte(old), []byte("\nExecStart="+bin+" "), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("verify", func(t *testing.T) {
		// Unknown keys and bad values are only warnings: the exit status
		// stays 0, so any output on stderr fails the test.
		stdout, stderr, err := runCmd(analyze, "verify", "--man=no", unit)
		if err != nil || stderr != "" {
			t.Errorf("systemd-analyze verify --man=no %s: %v\nstdout:\n%s\nstderr:\n%s", unitFile, err, stdout, stderr)
		}
	})
	t.Run("security", func(t *testing.T) {
		stdout, stderr, err := runCmd(analyze, "security", "--offline=yes", "--threshold="+strconv.Itoa(int(maxExposure*10)), unit)
		if err != nil {
			t.Fatalf("systemd-analyze security --offline=yes --threshold=%d %s (exposure at most %.1f): %v\n%s%s", int(maxExposure*10), unitFile, maxExposure, err, stdout, stderr)
		}
		m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(unitFile) + `: ([0-9.]+)`).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("no overall exposure level in systemd-analyze security's output:\n%s%s", stdout, stderr)
		}
		got, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		if got > maxExposure {
			t.Errorf("exposure: got %.1f, want at most %.1f", got, maxExposure)
		}
		t.Logf("systemd-analyze security exposure: %.1f", got)
	})
}

func runCmd(name string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// readUnit returns the unit's settings, key to values in file order; an empty
// assignment is kept as "".
func readUnit(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string][]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", unitFile, line)
		}
		unit[k] = append(unit[k], v)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return unit
}
