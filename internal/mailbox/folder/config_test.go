package folder_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/guardd/guardd/internal/mailbox/folder"
	"github.com/guardd/guardd/internal/setting"
)

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.eml"), []byte("Subject: a\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"folder", "path: .", ""},
		{"no path", "type: folder", "mailbox.path: is required for a folder mailbox: a Maildir or a folder of .eml files"},
		{"missing", "path: receipts", "mailbox.path: open receipts: no such file or directory"},
		{"a file", "path: a.eml", "mailbox.path: a.eml is a file, want a folder (a Maildir or a folder of .eml files)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &root); err != nil {
				t.Fatal(err)
			}
			p := setting.NewProblems("mailbox")
			c := folder.Kind.Config().(*folder.Config)
			(&setting.Decoder{Dir: dir}).Decode(p, &root, c, setting.Options{Ignore: []string{"type"}})
			c.Validate(p)
			var got []string
			for _, pr := range p.List() {
				got = append(got, pr.Error())
			}
			if strings.Join(got, "\n") != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.want != "" {
				return
			}
			if d := c.Describe(); d != "folder "+dir {
				t.Errorf("Describe: got %q, want %q", d, "folder "+dir)
			}
			if _, err := c.Open(); err != nil {
				t.Errorf("Open: %v", err)
			}
		})
	}
}
