package file

import (
	"os"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the file source type: it serves any provider's account.
var Kind = poller.Kind{Name: "file", Config: func() poller.Config { return &Config{} }}

// Config is a file source's block of the configuration.
type Config struct {
	// Path is the history file to serve.
	Path setting.Path `yaml:"path"`
	// Loop starts the history again, later in time, once it has been
	// served (Source.Loop): a demo account that never runs dry.
	Loop setting.Bool `yaml:"loop"`
}

// Validate implements poller.Config.
func (c *Config) Validate(p *setting.Problems) {
	if c.Path.Name == "" {
		p.Add("path", "is required for a file source")
		return
	}
	// Stat, not open: the file is only checked here, and opening a FIFO
	// would block.
	if fi, err := os.Stat(c.Path.Name); err != nil {
		p.At(c.Path.Pos, "%s", setting.PathError("open", c.Path.Text, err))
	} else if fi.IsDir() {
		p.At(c.Path.Pos, "%s is a directory, want a file", c.Path.Text)
	} else if c.Loop.B {
		if _, h, err := Open(c.Path.Name); err == nil && len(h.Observations) < 2 {
			p.At(c.Loop.Pos, "a looping history needs two observations or more (%s has %d)", c.Path.Text, len(h.Observations))
		}
	}
}

// Open implements poller.Config.
func (c *Config) Open(billing.Account) (poller.Source, error) {
	src, _, err := Open(c.Path.Name)
	if err == nil && c.Loop.B {
		err = src.Loop()
	}
	if err != nil {
		return nil, err
	}
	return src, nil
}

// Describe implements poller.Config.
func (c *Config) Describe() string {
	if c.Loop.B {
		return "file " + c.Path.Name + ", looping"
	}
	return "file " + c.Path.Name
}

// Sight implements poller.Config: whatever the history holds, read off its
// observations.
func (c *Config) Sight() billing.Sight {
	var s billing.Sight
	_, h, err := Open(c.Path.Name)
	if err != nil {
		for _, p := range billing.Parts {
			s.Not(string(p), "the history file cannot be read")
		}
		return s
	}
	for _, o := range h.Observations {
		s.Costs = s.Costs || o.Has(billing.PartCosts)
		s.Charges = s.Charges || o.Has(billing.PartCharges)
		s.Grants = s.Grants || o.Has(billing.PartGrants)
		s.Balance = s.Balance || o.Has(billing.PartBalance)
		s.Split = s.Split || (o.Has(billing.PartBalance) && o.Balance.HasSplit)
	}
	s.Recharges = s.Charges || s.Grants || s.Split
	for _, p := range []struct {
		what string
		seen bool
	}{{"costs", s.Costs}, {"charges", s.Charges}, {"balance", s.Balance}, {"grants", s.Grants}} {
		if !p.seen {
			s.Not(p.what, "not in the history")
		}
	}
	return s
}
