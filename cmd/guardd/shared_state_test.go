package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/store/storetest"
)

// TestRefusedStateIsLeftAlone points status and check at a state database
// they must refuse, beside the -wal and -shm of a process that had it open:
// each prints the refusal and leaves the three files byte for byte as they
// were.
func TestRefusedStateIsLeftAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string) []string
		want string
	}{
		{"corrupt", func(t *testing.T, path string) []string {
			names := storetest.LeftOpen(t, path, nil, storetest.Poll)
			storetest.Corrupt(t, path)
			return names
		}, "the database is corrupt"},
		{"newer schema", func(t *testing.T, path string) []string {
			return storetest.LeftOpen(t, path, nil, storetest.Newer)
		}, "schema version 99 is newer than this guardd understands"},
	} {
		for _, cmd := range []string{"status", "check"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				dir := t.TempDir()
				cfg := stateConfig(t, dir, "expired-grants-counted.json")
				path := filepath.Join(dir, "state.db")
				names := tc.make(t, path)
				before := storetest.ReadAll(t, names)
				_, _, err := runCmd(t, map[string]string{"TEAM_SLACK_URL": "http://127.0.0.1:9/unused"}, cmd, "--config", cfg)
				if want := "open state database " + path + ": " + tc.want; err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("got error %v, want %s…", err, want)
				}
				storetest.Unchanged(t, names, before)
			})
		}
	}
}
