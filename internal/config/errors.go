package config

import (
	"reflect"
	"regexp"
	"strconv"
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

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 syntax error ("yaml: line 3: did not find
// expected key") into a problem at its line.
func yamlProblem(err error) *Problem {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(s); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return &Problem{Line: n, Msg: m[2]}
		}
	}
	return &Problem{Msg: "invalid YAML: " + s}
}

// finish gives each problem without a line the line of its setting, or of
// the nearest enclosing one, and puts them in file order.
func finish(ps []Problem, root *yaml.Node) []*Problem {
	fromEnv := func(p Problem) bool { return strings.HasPrefix(p.Path, EnvPrefix) }
	for i := range ps {
		if ps[i].Line == 0 && ps[i].Path != "" && !fromEnv(ps[i]) {
			ps[i].Line, ps[i].Column = lineOf(root, ps[i].Path)
		}
	}
	setting.Sort(ps, fromEnv)
	out := make([]*Problem, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}

// lineOf finds the setting at path ("accounts[1].source.path") in the
// document tree: the line and column of its key, or of the deepest
// enclosing node that exists.
func lineOf(root *yaml.Node, path string) (line, col int) {
	if root == nil {
		return 0, 0
	}
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return 0, 0
		}
		n = n.Content[0]
	}
	for _, seg := range splitPath(path) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if seg.index >= 0 {
			if n.Kind != yaml.SequenceNode || seg.index >= len(n.Content) {
				return line, col
			}
			n = n.Content[seg.index]
			line, col = n.Line, n.Column
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line, col
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg.key {
				line, col, n, found = n.Content[i].Line, n.Content[i].Column, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line, col
		}
	}
	return line, col
}

type pathSeg struct {
	key   string
	index int // -1 for a key
}

// splitPath splits "accounts[1].source" into accounts, [1], source.
func splitPath(path string) []pathSeg {
	var segs []pathSeg
	for part := range strings.SplitSeq(path, ".") {
		key, rest, _ := strings.Cut(part, "[")
		segs = append(segs, pathSeg{key: key, index: -1})
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if err != nil {
				break
			}
			segs = append(segs, pathSeg{index: i})
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return segs
}

// reflectType is the struct type behind a part's configuration.
func reflectType(v any) reflect.Type { return reflect.Indirect(reflect.ValueOf(v)).Type() }
