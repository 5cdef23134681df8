package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/poller/pollertest"
)

// openAIAccount is an OpenAI account read from the fake f; sessionKey is
// the session key the config gives it.
func openAIAccount(f *pollertest.OpenAI) string {
	return fmt.Sprintf(`  - name: acme-openai
    provider: openai
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: false}
    source: {type: openai, base_url: %q, admin_key_env: OPENAI_ADMIN_KEY, session_key_env: OPENAI_SESSION_KEY}
`, f.URL())
}

// TestCheckExitCodes: guardd check's exit status tells a full read (0), an
// account read only in part (3), an account not read or a notification not
// delivered (1) and a wrong command line (2) apart.
func TestCheckExitCodes(t *testing.T) {
	t.Parallel()
	f := pollertest.NewOpenAI(t)
	f.SetGrants(pollertest.PurchaseGrant("cg_0", "10.00", t0.AddDate(0, -1, 0)))
	cfg := providerConfig(t, openAIAccount(f))
	session := map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": f.SessionKey}
	// A session key whose browser session has ended: the credit grants
	// endpoint refuses it, so the balance and the grants are unavailable
	// while the costs are read. (A secret key where the session key
	// belongs is caught before: validation tells it by its prefix.)
	secretKey := map[string]string{"OPENAI_ADMIN_KEY": f.AdminKey, "OPENAI_SESSION_KEY": "sess-SignedOut0123456789"}
	slack := slacktest.NewWebhook(t)
	slack.SetFault(slacktest.NoService)

	for _, tc := range []struct {
		name  string
		env   map[string]string
		fault pollertest.Fault
		args  []string
		code  int
		err   string
	}{
		{name: "read in full", env: session, args: []string{"check", "--config", cfg}, code: 0},
		{name: "a part unavailable", env: secretKey, args: []string{"check", "--config", cfg}, code: 3,
			err: "1 of 1 accounts read only in part: acme-openai (balance and grants unavailable)"},
		{name: "a part unavailable, dry run", env: secretKey, args: []string{"check", "--dry-run", "--config", cfg}, code: 3,
			err: "1 of 1 accounts read only in part"},
		{name: "account not read", env: session, fault: pollertest.Unauthorized, args: []string{"check", "--config", cfg}, code: 1,
			err: "1 of 1 accounts could not be read"},
		{name: "notification not delivered", env: map[string]string{"TEAM_SLACK_URL": slack.URL()},
			args: []string{"check", "--config", writeConfig(t, "expired-grants-counted.json", "webhook_url_env: TEAM_SLACK_URL")}, code: 1,
			err: "deliver notifications"},
		{name: "usage", args: []string{"check", "--bogus"}, code: 2, err: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.SetFault(tc.fault)
			_, errOut, err := runCmd(t, tc.env, tc.args...)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("check: got %v, want %q\n%s", err, tc.err, errOut)
			}
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit code: got %d, want %d (error %v)", got, tc.code, err)
			}
		})
	}
	f.SetFault(pollertest.OK)

	// The process itself exits with it.
	cmd := guarddProc(t, secretKey, "check", "--config", cfg)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("guardd check process: got %v, want exit status 3\n%s", err, out)
	}
	if !strings.Contains(string(out), "guardd: 1 of 1 accounts read only in part: acme-openai (balance and grants unavailable)\n") {
		t.Errorf("guardd check process output lacks what was not read:\n%s", out)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{usagef("check: --config is required"), 2},
		{&partlyReadError{accounts: []string{"a (costs unavailable)"}, total: 2}, 3},
		{fmt.Errorf("wrapped: %w", &partlyReadError{total: 1}), 3},
		{context.Canceled, 1},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v): got %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestCheckExitCodesDocumented: check -h and docs/deploy.md list every
// status check exits with.
func TestCheckExitCodesDocumented(t *testing.T) {
	_, help, err := runCmd(t, nil, "check", "-h")
	if err != nil || !strings.Contains(help, checkExitCodes) {
		t.Errorf("check -h: got %q, %v; want the exit statuses", help, err)
	}
	doc, err := os.ReadFile(filepath.Join("docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "## Exit status of guardd check")
	for code := range 4 {
		if !strings.Contains(table, fmt.Sprintf("\n| %d | ", code)) || !strings.Contains(help, fmt.Sprintf("\n  %d  ", code)) {
			t.Errorf("exit status %d: missing from docs/deploy.md's table or from check -h", code)
		}
	}
}
