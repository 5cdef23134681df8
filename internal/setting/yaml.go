package setting

// YAML documents: parsing one, and finding a setting's line in it.

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LineOf finds the setting at path ("accounts[1].source.path") in the
// document tree: the line and column of its key, or of the deepest
// enclosing node that exists.
func LineOf(root *yaml.Node, path string) (line, col int) {
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

// Parse parses data, a YAML document, into its tree. Syntax errors and a second
// document are problems.
func Parse(data []byte) (*yaml.Node, []*Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, []*Problem{yamlProblem(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &root, nil
	case err != nil:
		return nil, []*Problem{yamlProblem(err)}
	}
	line := next.Line
	if len(next.Content) > 0 {
		line = next.Content[0].Line
	}
	return nil, []*Problem{{Line: line, Msg: "found a second YAML document (the config must be a single document)"}}
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
