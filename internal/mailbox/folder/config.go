package folder

import (
	"os"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the folder mailbox type.
var Kind = mailbox.Kind{Name: "folder", Config: func() mailbox.Config { return &Config{} }}

// Config is a folder mailbox's block of the configuration.
type Config struct {
	// Path is a Maildir (with new/ and cur/) or a folder of .eml files.
	Path setting.Path `yaml:"path"`
}

// Validate implements mailbox.Config.
func (c *Config) Validate(p *setting.Problems) {
	if c.Path.Name == "" {
		p.Add("path", "is required for a folder mailbox: a Maildir or a folder of .eml files")
		return
	}
	if fi, err := os.Stat(c.Path.Name); err != nil {
		p.At(c.Path.Pos, "%s", setting.PathError("open", c.Path.Text, err))
	} else if !fi.IsDir() {
		p.At(c.Path.Pos, "%s is a file, want a folder (a Maildir or a folder of .eml files)", c.Path.Text)
	}
}

// Open implements mailbox.Config.
func (c *Config) Open() (mailbox.Reader, error) { return New(Options{Path: c.Path.Name}) }

// Describe implements mailbox.Config.
func (c *Config) Describe() string { return "folder " + c.Path.Name }
