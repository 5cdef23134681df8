package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

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

// Problem is one thing wrong with a config.
type Problem struct {
	// Path names the setting as written in the YAML
	// ("accounts[1].auto_recharge.threshold"), or the environment variable
	// its value came from ("GUARDD_LOG_LEVEL"). It is empty for problems
	// with the YAML itself (syntax, unknown keys), which carry a Line.
	Path string
	// Line is the line of the file the problem is at: the line of its key,
	// or of the nearest enclosing key or list item when the key is missing.
	// It is 0 when there is no such line (a missing top-level key, an
	// environment variable).
	Line int
	Msg  string
}

func (p *Problem) Error() string {
	switch {
	case p.Path != "":
		return p.Path + ": " + p.Msg
	case p.Line > 0:
		return "line " + strconv.Itoa(p.Line) + ": " + p.Msg
	}
	return p.Msg
}

// parseTree parses data into a document tree. Syntax errors and a second
// document are problems.
func parseTree(data []byte) (*yaml.Node, []*Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlProblems(err, nil)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &root, nil
	case err != nil:
		return nil, yamlProblems(err, nil)
	}
	line := next.Line
	if len(next.Content) > 0 {
		line = next.Content[0].Line
	}
	return nil, []*Problem{{Line: line, Msg: "found a second YAML document (the config must be a single document)"}}
}

var (
	lineRE       = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownKeyRE = regexp.MustCompile(`^field (.*) not found in type \S+$`)
	cannotRE     = regexp.MustCompile(`^cannot unmarshal (!!\w+).* into (\S+)$`)
	scalarRE     = regexp.MustCompile(`^column (\d+): (.*)$`)
)

// yamlProblems turns a yaml.v3 error into problems for people: line numbers
// kept, Go type names gone.
func yamlProblems(err error, root *yaml.Node) []*Problem {
	te, ok := errors.AsType[*yaml.TypeError](err)
	if !ok {
		// A syntax error: "yaml: line 3: did not find expected key".
		return []*Problem{yamlLine(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	var ps []*Problem
	for _, s := range te.Errors {
		p := yamlLine(s)
		if m := unknownKeyRE.FindStringSubmatch(p.Msg); m != nil {
			p.Msg = fmt.Sprintf("unknown key %q", m[1])
		} else if m := cannotRE.FindStringSubmatch(p.Msg); m != nil {
			want := "a mapping"
			if strings.HasPrefix(m[2], "[]") {
				want = "a list"
			}
			p.Msg = fmt.Sprintf("got %s, want %s", tagWord(m[1]), want)
			p.Path = pathAt(root, p.Line, func(n *yaml.Node) bool { return n.ShortTag() == m[1] })
		} else if m := scalarRE.FindStringSubmatch(p.Msg); m != nil {
			// From scalar.UnmarshalYAML, which gives the column too.
			col, _ := strconv.Atoi(m[1])
			p.Msg = m[2]
			p.Path = pathAt(root, p.Line, func(n *yaml.Node) bool { return n.Column == col })
		}
		ps = append(ps, p)
	}
	return ps
}

// pathAt names the first node, in file order, that starts at line and
// matches: "accounts[0].name". It gives "" (the problem keeps its line
// number) if there is none.
func pathAt(root *yaml.Node, line int, match func(*yaml.Node) bool) string {
	if root == nil {
		return ""
	}
	var walk func(n *yaml.Node, path string) (string, bool)
	walk = func(n *yaml.Node, path string) (string, bool) {
		if n.Line > line {
			return "", false
		}
		if n.Line == line && path != "" && match(n) {
			return path, true
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p, ok := walk(c, path); ok {
					return p, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				if p, ok := walk(n.Content[i+1], p); ok {
					return p, true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if p, ok := walk(c, fmt.Sprintf("%s[%d]", path, i)); ok {
					return p, true
				}
			}
		}
		return "", false
	}
	p, _ := walk(root, "")
	return p
}

// yamlLine splits "line 7: msg" into a problem at line 7.
func yamlLine(s string) *Problem {
	if m := lineRE.FindStringSubmatch(s); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return &Problem{Line: n, Msg: m[2]}
		}
	}
	return &Problem{Msg: "invalid YAML: " + s}
}

// lineOf finds the line of the setting at path ("accounts[1].source.path")
// in the document tree: the line of its key, or of the deepest enclosing
// node that exists.
func lineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	n, line := root, 0
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return 0
		}
		n = n.Content[0]
	}
	for _, seg := range splitPath(path) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if seg.index >= 0 {
			if n.Kind != yaml.SequenceNode || seg.index >= len(n.Content) {
				return line
			}
			n = n.Content[seg.index]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg.key {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
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

// sortProblems puts problems in file order: by line, keeping the order they
// were found in on the same line, with those from environment variables
// last.
func sortProblems(ps []*Problem) {
	key := func(p *Problem) int {
		if strings.HasPrefix(p.Path, EnvPrefix) {
			return math.MaxInt
		}
		return p.Line
	}
	slices.SortStableFunc(ps, func(a, b *Problem) int { return cmp.Compare(key(a), key(b)) })
}
