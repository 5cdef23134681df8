// Package setting holds the typed leaves of guardd's configuration
// (durations, amounts, counts, URLs, paths, texts and secret references)
// and the strict codec that reads them from a YAML tree and writes them
// back.
//
// Each leaf keeps where it was written (its YAML path, line and the user's
// own text), so that every problem names the setting and quotes what the
// user wrote, never a value rebuilt from a float or a default. A component
// (a provider's source, a receiver, a rule) declares its configuration as a
// struct of leaves with yaml tags and defaults; Decode fills it from its
// block of the file, reporting unknown keys and wrong shapes; the component's
// own Validate adds the problems only it can judge.
package setting

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is where a setting was written.
type Pos struct {
	// Path names the setting as written ("accounts[1].source.timeout"), or
	// the environment variable its value came from ("GUARDD_LOG_LEVEL").
	Path string
	// Line and Column locate the value in the file; 0 when it did not come
	// from the file.
	Line, Column int
	// Text is the value exactly as written.
	Text string
	// set reports whether the value was written at all (in the file or the
	// environment); a leaf that is not set holds its default.
	set bool
}

// IsSet reports whether the setting was written, in the file or the
// environment, rather than left at its default.
func (p Pos) IsSet() bool { return p.set }

// pos gives a leaf's position; every leaf embeds Pos.
func (p *Pos) pos() *Pos { return p }

// FromEnv records that a setting's value came from the environment variable
// name.
func (p *Pos) FromEnv(name, value string) {
	*p = Pos{Path: name, Text: value, set: true}
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path names the setting ("accounts[1].auto_recharge.threshold"), or the
	// environment variable its value came from; empty for problems with the
	// YAML itself, which carry a Line.
	Path string
	// Line and Column locate the problem in the file; 0 when unknown (the
	// caller may look the path up).
	Line, Column int
	Msg          string
	// Shape is set for problems with the YAML's shape (an unknown key, a
	// list where a value belongs): a file with any is not validated
	// further, since what follows would only echo them.
	Shape bool
}

func (p Problem) Error() string {
	switch {
	case p.Path != "":
		return p.Path + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// Problems collects the problems of one block of a configuration. Paths
// given to Add are relative to the block.
type Problems struct {
	base string
	list *[]Problem
}

// NewProblems returns an empty collector for the block at base ("" for the
// whole file).
func NewProblems(base string) *Problems { return &Problems{base: base, list: new([]Problem)} }

// In returns a collector for the block at rel inside this one, adding to
// the same list.
func (p *Problems) In(rel string) *Problems { return &Problems{base: Join(p.base, rel), list: p.list} }

// Base is the block's path.
func (p *Problems) Base() string { return p.base }

// Add records a problem with the setting at rel ("" for the block itself).
func (p *Problems) Add(rel, format string, args ...any) {
	*p.list = append(*p.list, Problem{Path: Join(p.base, rel), Msg: fmt.Sprintf(format, args...)})
}

// At records a problem with a leaf where it was written.
func (p *Problems) At(at Pos, format string, args ...any) {
	*p.list = append(*p.list, Problem{Path: at.Path, Line: at.Line, Column: at.Column, Msg: fmt.Sprintf(format, args...)})
}

// shape records a problem with the YAML's shape.
func (p *Problems) shape(path string, line, col int, format string, args ...any) {
	*p.list = append(*p.list, Problem{Path: path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...), Shape: true})
}

// List returns the problems: only those with the YAML's shape when there
// are any, else all of them.
func (p *Problems) List() []Problem {
	var shape []Problem
	for _, pr := range *p.list {
		if pr.Shape {
			shape = append(shape, pr)
		}
	}
	if len(shape) > 0 {
		return shape
	}
	return slices.Clone(*p.list)
}

// Len counts the problems recorded so far.
func (p *Problems) Len() int { return len(*p.list) }

// Sort puts problems in file order: by line, keeping the order they were
// found in on one line (which follows the file). Problems with no line
// (about something the file does not have at all) come first, those from
// environment variables last.
func Sort(ps []Problem, fromEnv func(Problem) bool) {
	key := func(p Problem) (int, int) {
		if fromEnv(p) {
			return 1, 0
		}
		return 0, p.Line
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		ag, al := key(a)
		bg, bl := key(b)
		return cmp.Or(cmp.Compare(ag, bg), cmp.Compare(al, bl))
	})
}

// Join appends rel to the path base: "accounts[0]" and "source" give
// "accounts[0].source"; an index ("[2]") is appended as it is.
func Join(base, rel string) string {
	switch {
	case base == "":
		return rel
	case rel == "":
		return base
	case strings.HasPrefix(rel, "["):
		return base + rel
	}
	return base + "." + rel
}

// AndList joins words as "a, b and c".
func AndList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// OrList joins words as "a, b or c".
func OrList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
