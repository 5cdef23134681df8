// Package history reads and writes history files: one account's settings
// and its time-ordered observations, as guardd would have polled them. A
// history file is replayed through the rules (guardd replay), served by the
// fake "file" source, and appended to by guardd record.
//
// The wire format (version 1) is described in docs/history-format.md. Decode
// is strict: unknown keys, duplicate keys, amounts that are not exact
// decimals and out-of-order observations are all errors, and every error
// names the path and the value that caused it.
package history

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/guardd/guardd/internal/billing"
)

// Format is the value of a history file's "format" key.
const Format = "guardd-history"

// Version is the only version of the format this package reads and writes.
const Version = 1

// File is a decoded history file.
type File struct {
	Account billing.Account
	// Observations are in strictly increasing At order; each one's Account
	// is Account.Name.
	Observations []billing.Observation
}

// SyntaxError is malformed JSON. Line and Column (in characters) count from
// 1; Offset is the byte offset from the start of the input.
type SyntaxError struct {
	Line, Column int
	Offset       int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func newSyntaxError(data []byte, off int, msg string) *SyntaxError {
	line, start := 1, 0
	for i, c := range data[:off] {
		if c == '\n' {
			line++
			start = i + 1
		}
	}
	return &SyntaxError{
		Line:   line,
		Column: 1 + utf8.RuneCount(data[start:off]),
		Offset: off,
		Msg:    msg,
	}
}

// maxProblems caps how many problems one error lists.
const maxProblems = 20

// problems collects validation problems, keeping the first maxProblems and
// counting the rest.
type problems struct {
	list []error
	n    int
}

// full reports whether another problem would only be counted; callers check
// it to skip formatting a message nobody will read.
func (p *problems) full() bool { return p.n >= maxProblems }

func (p *problems) add(path, msg string) {
	p.n++
	if len(p.list) < maxProblems {
		p.list = append(p.list, &billing.FieldError{Path: path, Msg: msg})
	}
}

// err joins the problems, one per line, or returns nil when there are none.
func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	errs := p.list
	if more := p.n - len(p.list); more > 0 {
		noun := "problems"
		if more == 1 {
			noun = "problem"
		}
		errs = append(errs[:len(errs):len(errs)],
			&billing.FieldError{Msg: "… and " + strconv.Itoa(more) + " more " + noun})
	}
	return errors.Join(errs...)
}
