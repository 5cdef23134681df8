package config

import (
	"reflect"
	"strings"

	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config: its path (or, for the YAML
// itself, its line) and what is wrong.
type Problem = setting.Problem

// Error is a config that did not load. It lists every problem found, in file
// order, one per line.
type Error struct {
	// File is the config file's path when it was loaded with LoadFile; each
	// line of the message then starts with it.
	File     string
	Problems []*Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteString(": ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap gives the problems, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// finish gives each problem without a line the line of its setting, or of
// the nearest enclosing one, and puts them in file order.
func finish(ps []Problem, root *yaml.Node) []*Problem {
	fromEnv := func(p Problem) bool { return strings.HasPrefix(p.Path, EnvPrefix) }
	for i := range ps {
		if ps[i].Line == 0 && ps[i].Path != "" && !fromEnv(ps[i]) {
			ps[i].Line, ps[i].Column = setting.LineOf(root, ps[i].Path)
		}
	}
	setting.Sort(ps, fromEnv)
	out := make([]*Problem, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}

// reflectType is the struct type behind a part's configuration.
func reflectType(v any) reflect.Type { return reflect.Indirect(reflect.ValueOf(v)).Type() }
