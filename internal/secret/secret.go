// Package secret holds credentials (webhook URLs, API keys, tokens) so that
// printing, logging or marshalling them never shows their value.
package secret

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
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

// MinRun is the shortest run of a secret's characters Scrub removes: a
// server that quotes part of a key ("…ef12345678"), its start or its end,
// gives away no more than 7 characters of it.
const MinRun = 8

// Scrub makes text fit for an error message or a log line. It replaces with
// "<secret>" every occurrence of the given secrets (of 4 characters or
// more) and every run of MinRun or more characters that is part of one of
// them, wherever it starts and ends; and every URL query in text with
// "?…", since a query often carries a key. Of a secret that is a URL (a
// webhook's), only what follows the host and the password are secret: its
// scheme and host may still show. Scrub is the last line of defence for
// error messages built by servers and libraries that quote what they got.
func Scrub(text string, secrets ...Value) string {
	var runs []string
	for _, s := range secrets {
		v := s.Reveal()
		if len(v) >= 4 {
			text = strings.ReplaceAll(text, v, Redacted)
		}
		for _, r := range secretParts(v) {
			if len(r) >= MinRun {
				runs = append(runs, r)
			}
		}
	}
	return stripQueries(scrubRuns(text, runs))
}

// secretParts returns the parts of a secret whose runs are secret: all of
// it, or for a URL with a host what follows the host and the password.
func secretParts(v string) []string {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return []string{v}
	}
	parts := []string{strings.TrimPrefix(v, u.Scheme+"://"+u.Host)}
	if u.User != nil {
		parts = append(parts, u.User.String())
	}
	if q, err := url.QueryUnescape(u.RawQuery); err == nil && q != u.RawQuery {
		parts = append(parts, q)
	}
	if p := u.Path; p != u.EscapedPath() {
		parts = append(parts, p)
	}
	return parts
}

// scrubRuns replaces every run of MinRun or more bytes of text that is part
// of one of runs (each at least MinRun long), widened to whole characters.
func scrubRuns(text string, runs []string) string {
	if len(runs) == 0 || len(text) < MinRun {
		return text
	}
	grams := make(map[string]bool)
	for _, r := range runs {
		for i := 0; i+MinRun <= len(r); i++ {
			grams[r[i:i+MinRun]] = true
		}
	}
	within := func(s string) bool {
		for _, r := range runs {
			if strings.Contains(r, s) {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	last := 0 // text[last:i] is not yet written
	for i := 0; i+MinRun <= len(text); {
		if !grams[text[i:i+MinRun]] {
			i++
			continue
		}
		j := i + MinRun
		for j < len(text) && within(text[i:j+1]) {
			j++
		}
		start, end := i, j
		for start > last && !utf8.RuneStart(text[start]) {
			start--
		}
		for end < len(text) && !utf8.RuneStart(text[end]) {
			end++
		}
		b.WriteString(text[last:start])
		b.WriteString(Redacted)
		last, i = end, end
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// queryRE matches the query of a URL in free text, up to white space or a
// quote.
var queryRE = regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#"'<>]*)\?[^\s"'<>]*`)

// stripQueries replaces the query of every URL in text with "?…".
func stripQueries(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return queryRE.ReplaceAllString(text, "$1?…")
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
	return strconv.Quote(Shorten(Scrub(s, secrets...), MaxQuote))
}

// Shorten cuts s to at most limit characters, ending in "…" when cut: what
// an error may carry of a value or of a server's answer.
func Shorten(s string, limit int) string {
	if r := []rune(s); len(r) > limit {
		return string(r[:limit-1]) + "…"
	}
	return s
}

// QuoteURL is Quote for a URL as written: without its query or fragment,
// which often carry a key, even where it is not a URL Scrub would know.
func QuoteURL(u string, secrets ...Value) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i] + "?…"
	}
	return Quote(u, secrets...)
}
