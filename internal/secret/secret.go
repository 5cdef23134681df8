// Package secret holds credentials (webhook URLs, API keys, tokens) so that
// printing, logging or marshalling them never shows their value.
package secret

import (
	"strconv"
	"strings"
)

// Redacted is what a Value prints as.
const Redacted = "<secret>"

// Value is a credential. Its String, GoString, MarshalText, MarshalJSON and
// MarshalYAML all give "<secret>"; only Reveal gives the value. It holds the
// credential behind a pointer, so that even fmt's fallback printing (which
// prints a nested struct's fields without calling their String methods, as
// it does for a pointer printed with %s) shows an address, never the value.
type Value struct{ v *string }

// New wraps s.
func New(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{v: &s}
}

// Reveal returns the credential itself. Call it only where the value is sent
// to the system it belongs to.
func (s Value) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether no credential is set.
func (s Value) IsZero() bool { return s.v == nil }

func (s Value) String() string   { return Redacted }
func (s Value) GoString() string { return Redacted }

// MarshalText keeps the value out of JSON, YAML and text encodings.
func (s Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalYAML keeps the value out of YAML dumps.
func (s Value) MarshalYAML() (any, error) { return Redacted, nil }

// Scrub replaces every occurrence of the given secrets in text with
// "<secret>". It is the last line of defence for error messages built by
// libraries that quote URLs.
func Scrub(text string, secrets ...Value) string {
	for _, s := range secrets {
		if v := s.Reveal(); len(v) >= 4 {
			text = strings.ReplaceAll(text, v, Redacted)
		}
	}
	return text
}

// ScrubError returns err with every given secret removed from its message,
// keeping the original reachable through errors.Is/As. It returns nil for a
// nil err.
func ScrubError(err error, secrets ...Value) error {
	if err == nil {
		return nil
	}
	return &scrubbed{msg: Scrub(err.Error(), secrets...), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// MaxQuote bounds what Quote keeps of a value, in characters.
const MaxQuote = 80

// Quote renders a value for an error message, in Go quotes: the secrets
// scrubbed out first, then cut to MaxQuote characters ending in "…", so
// that no error carries a long value, or much of one it should not.
func Quote(s string, secrets ...Value) string {
	s = Scrub(s, secrets...)
	if r := []rune(s); len(r) > MaxQuote {
		s = string(r[:MaxQuote-1]) + "…"
	}
	return strconv.Quote(s)
}
