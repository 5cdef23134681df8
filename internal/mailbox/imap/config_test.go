package imap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/guardd/guardd/internal/mailbox/imap"
	"github.com/guardd/guardd/internal/setting"
)

var configEnv = map[string]string{"IMAP_PASSWORD": "abcd efgh ijkl mnop", "IMAP_TOKEN": "ya29.env-token"}

// decodeConfig reads an imap block as the config package will: defaults,
// then the file's keys, then Validate.
func decodeConfig(t *testing.T, path string) (*imap.Config, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	d := &setting.Decoder{Getenv: func(k string) (string, bool) { v, ok := configEnv[k]; return v, ok }, Dir: filepath.Dir(path)}
	p := setting.NewProblems("mailbox")
	c := imap.Kind.Config().(*imap.Config)
	d.Decode(p, &root, c, setting.Options{Ignore: []string{"type"}})
	c.Validate(p)
	ps := p.List()
	setting.Sort(ps, func(setting.Problem) bool { return false })
	var msgs []string
	for _, pr := range ps {
		msgs = append(msgs, pr.Error())
	}
	return c, msgs
}

// TestConfigFiles decodes each testdata/config file and wants exactly the
// problems its "# want:" lines list.
func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no config cases: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, w)
				}
			}
			_, got := decodeConfig(t, f)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestConfigCanonicalAndOpen(t *testing.T) {
	c, _ := decodeConfig(t, "testdata/config/gmail-app-password.yaml")
	if c.Port.N != 993 || c.TLS.S != "tls" || c.Timeout.Duration != imap.DefaultTimeout || len(c.Senders) != len(imap.DefaultSenders) {
		t.Errorf("defaults: got port %d, tls %s, timeout %s, %d senders", c.Port.N, c.TLS.S, c.Timeout.Duration, len(c.Senders))
	}
	want := `imap me@gmail.com at imap.gmail.com:993 (tls), folder "Receipts", from stripe.com, mail.anthropic.com, tm.openai.com, openrouter.ai since 2026-01-01: password from $IMAP_PASSWORD`
	if got := c.Describe(); got != want {
		t.Errorf("Describe:\ngot  %s\nwant %s", got, want)
	}
	if _, err := c.Open(); err != nil {
		t.Errorf("Open: %v", err)
	}

	c, _ = decodeConfig(t, "testdata/config/oauth-starttls.yaml")
	if c.Port.N != 143 || c.TLS.S != "starttls" || c.Senders[1].S != "stripe.com" {
		t.Errorf("starttls: got port %d, tls %s, sender %q; want 143, starttls, stripe.com", c.Port.N, c.TLS.S, c.Senders[1].S)
	}
	d := c.Describe()
	if !strings.Contains(d, "OAuth token from file token.txt") || strings.Contains(d, "ya29") {
		t.Errorf("Describe: got %s; want where the token is from, never the token", d)
	}
	if _, err := c.Open(); err != nil {
		t.Errorf("Open: %v", err)
	}
}
