package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Format is how a Writer prints notifications.
type Format string

const (
	// FormatText prints the human text of Text, separated by blank lines.
	FormatText Format = "text"
	// FormatJSON prints one JSON object (a Payload) per line.
	FormatJSON Format = "json"
)

// Writer is a notifier that prints notifications to an io.Writer: guardd's
// stdout receiver and the output of replay.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	format Format
	n      int
}

var _ Notifier = (*Writer)(nil)

// NewWriter returns a Writer printing to w in format f.
func NewWriter(w io.Writer, f Format) *Writer { return &Writer{w: w, format: f} }

// Send implements Notifier: it prints n. It creates no message to thread
// under, and a write error is not retryable.
func (s *Writer) Send(_ context.Context, n Notification) (Ref, bool, error) {
	return Ref{}, false, s.WriteAll([]Notification{n})
}

// WriteAll prints ns in order, as Send prints each, and stops at the first
// write error.
func (s *Writer) WriteAll(ns []Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range ns {
		var err error
		switch s.format {
		case FormatJSON:
			var b []byte
			if b, err = json.Marshal(NewPayload(n)); err == nil {
				_, err = s.w.Write(append(b, '\n'))
			}
		default:
			if s.n > 0 {
				if _, err = io.WriteString(s.w, "\n"); err != nil {
					break
				}
			}
			_, err = io.WriteString(s.w, Text(n))
		}
		if err != nil {
			return fmt.Errorf("write notification: %w", err)
		}
		s.n++
	}
	return nil
}

// Count returns how many notifications were written.
func (s *Writer) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
