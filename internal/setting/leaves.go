package setting

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/secret"
	"github.com/shopspring/decimal"
)

// leaf is a setting held in one YAML scalar. Every leaf embeds Pos.
type leaf interface {
	pos() *Pos
	// parse sets the value from the text as written; it returns what is
	// wrong with the text, or "". f describes the struct field (its tags).
	parse(text string, d *Decoder, f reflect.StructField) string
	// format renders the value for a dump and its YAML tag; ok false
	// leaves it out.
	format() (value, tag string, ok bool)
}

// Duration is a duration above zero, written as ParseDuration reads it
// ("30s", "168h", "7d").
type Duration struct {
	time.Duration
	Pos
}

// DurationOf returns a Duration of d, as a default.
func DurationOf(d time.Duration) Duration { return Duration{Duration: d} }

func (v *Duration) parse(text string, _ *Decoder, f reflect.StructField) string {
	example := f.Tag.Get("example")
	if example == "" && v.Duration > 0 {
		example = FormatDuration(v.Duration)
	}
	d, err := ParseDuration(text, example)
	switch {
	case err != nil:
		return err.Error()
	case d <= 0:
		return "must be greater than 0 (got " + text + ")"
	}
	v.Duration = d
	return ""
}

// ParseDuration reads a duration the way people write one, in the config
// and on the command line: Go's syntax ("90s", "15m", "6h", "1h30m") plus
// days, of 24 hours ("2d", "1d12h", "1.5d"). Its error names the text and
// gives example (default "6h") as one that works.
func ParseDuration(text, example string) (time.Duration, error) {
	s := strings.TrimSpace(text)
	d, ok := parseDays(s)
	if !ok {
		if example == "" {
			example = "6h"
		}
		return 0, fmt.Errorf("invalid duration %s (want a number and a unit, s, m, h or d, such as %q)", secret.Quote(text), example)
	}
	return d, nil
}

// parseDays parses s, a Go duration in which any number may also have the
// unit d.
func parseDays(s string) (time.Duration, bool) {
	sign, rest := time.Duration(1), s
	if r, ok := strings.CutPrefix(rest, "-"); ok {
		sign, rest = -1, r
	} else {
		rest = strings.TrimPrefix(rest, "+")
	}
	if !strings.Contains(rest, "d") {
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	// Each "<number>d" becomes 24 times "<number>h"; the rest is Go's.
	var total time.Duration
	var goPart strings.Builder
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return 0, false // a unit without a number, or a number without a unit
		}
		j := i + strings.IndexFunc(rest[i:], func(r rune) bool { return (r >= '0' && r <= '9') || r == '.' })
		if j < i {
			j = len(rest)
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if unit != "d" {
			goPart.WriteString(num + unit)
			continue
		}
		h, err := time.ParseDuration(num + "h")
		if err != nil || h > math.MaxInt64/24 {
			return 0, false
		}
		if total += 24 * h; total < 0 {
			return 0, false
		}
	}
	if goPart.Len() > 0 {
		d, err := time.ParseDuration(goPart.String())
		if err != nil || total+d < total {
			return 0, false
		}
		total += d
	}
	return sign * total, true
}

func (v *Duration) format() (string, string, bool) {
	return FormatDuration(v.Duration), "!!str", v.Duration > 0
}

// FormatDuration renders d in Go syntax without zero tails: "168h",
// "2h30m".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Interval is how often something is done: a duration as Duration reads
// it, or 0 for never.
type Interval struct {
	time.Duration
	Pos
}

// IntervalOf returns an Interval of d, as a default.
func IntervalOf(d time.Duration) Interval { return Interval{Duration: d} }

func (v *Interval) parse(text string, _ *Decoder, _ reflect.StructField) string {
	example := "24h"
	if v.Duration > 0 {
		example = FormatDuration(v.Duration)
	}
	d, err := ParseDuration(text, example)
	switch {
	case err != nil:
		return err.Error() + ", or 0 for never"
	case d < 0:
		return "must not be negative (got " + text + "; 0 turns it off)"
	}
	v.Duration = d
	return ""
}

func (v *Interval) format() (string, string, bool) {
	if v.Duration == 0 {
		return "0", "!!int", true
	}
	return FormatDuration(v.Duration), "!!str", true
}

// Amount is an exact decimal amount that is not negative, read from the
// text as written (never through a float).
type Amount struct {
	decimal.Decimal
	Pos
}

// AmountOf returns an Amount of d, as a default.
func AmountOf(d decimal.Decimal) Amount { return Amount{Decimal: d} }

func (v *Amount) parse(text string, _ *Decoder, _ reflect.StructField) string {
	d, err := billing.ParseAmount(text)
	switch {
	case err != nil:
		return err.Error()
	case d.IsNegative():
		return "must not be negative (got " + text + ")"
	}
	v.Decimal = d
	return ""
}

func (v *Amount) format() (string, string, bool) { return FormatAmount(v.Decimal), "!!str", true }

// FormatAmount renders d exactly, keeping the decimal places it was written
// with: "5.00" stays "5.00".
func FormatAmount(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

// Count is a whole number. The field's tags bound it: min (default 0) and
// max; hint, when set, ends the message for a number out of bounds.
type Count struct {
	N int
	Pos
}

// CountOf returns a Count of n, as a default.
func CountOf(n int) Count { return Count{N: n} }

func (v *Count) parse(text string, _ *Decoder, f reflect.StructField) string {
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil {
		return "invalid whole number " + secret.Quote(text)
	}
	lo, _ := strconv.Atoi(f.Tag.Get("min"))
	hi, bounded := 0, false
	if s := f.Tag.Get("max"); s != "" {
		hi, _ = strconv.Atoi(s)
		bounded = true
	}
	got := text
	if h := f.Tag.Get("hint"); h != "" {
		got += "; " + h
	}
	switch {
	case bounded && (n < lo || n > hi):
		return "must be between " + strconv.Itoa(lo) + " and " + strconv.Itoa(hi) + " (got " + got + ")"
	case n < lo && lo == 0:
		return "must not be negative (got " + got + ")"
	case n < lo:
		return "must be at least " + strconv.Itoa(lo) + " (got " + got + ")"
	}
	v.N = n
	return ""
}

func (v *Count) format() (string, string, bool) { return strconv.Itoa(v.N), "!!int", true }

// Bool is true or false (in any case).
type Bool struct {
	B bool
	Pos
}

func (v *Bool) parse(text string, _ *Decoder, _ reflect.StructField) string {
	switch {
	case strings.EqualFold(text, "true"):
		v.B = true
	case strings.EqualFold(text, "false"):
		v.B = false
	default:
		return "invalid boolean " + secret.Quote(text) + " (want true or false)"
	}
	return ""
}

func (v *Bool) format() (string, string, bool) { return strconv.FormatBool(v.B), "!!bool", true }

// Text is a value kept as written; the component validates it.
type Text struct {
	S string
	Pos
}

// TextOf returns a Text of s, as a default.
func TextOf(s string) Text { return Text{S: s} }

func (v *Text) parse(text string, _ *Decoder, _ reflect.StructField) string {
	v.S = text
	return ""
}

func (v *Text) format() (string, string, bool) { return v.S, "!!str", v.S != "" }

// CheckHost checks a server's host name: required (what names the server
// in the message: "the SMTP server"), a name or an IP address without a
// scheme, path, user or port; example is a host such as smtp.example.com,
// key the setting's key. It trims the value and reports whether it is
// usable.
func (v *Text) CheckHost(p *Problems, key, what, example string) bool {
	switch h := strings.TrimSpace(v.S); {
	case h == "":
		p.Add(key, "is required: %s's host name, such as %s", what, example)
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/ @"):
		p.At(v.Pos, "invalid host %s: want a host name only, such as %s", secret.Quote(v.S), example)
	case strings.Contains(h, ":") && net.ParseIP(h) == nil:
		p.At(v.Pos, "invalid host %s: want a host name without a port (set port)", secret.Quote(v.S))
	default:
		v.S = h
		return true
	}
	return false
}

// Path is a file's path: absolute as written, or joined to the directory
// the configuration was loaded from. Name is the resolved path; Pos.Text
// keeps what the user wrote, for messages.
type Path struct {
	Name string
	Pos
}

func (v *Path) parse(text string, d *Decoder, _ reflect.StructField) string {
	v.Name = d.Resolve(text)
	if strings.TrimSpace(text) == "" {
		v.Name = ""
	}
	return ""
}

func (v *Path) format() (string, string, bool) { return v.Name, "!!str", v.Name != "" }

// URL is an absolute http(s) URL with a host and without credentials, query
// or fragment; S holds it without a trailing slash. Its field's example tag
// (or its default) is the example messages give; its creds tag says where
// credentials go instead ("use bearer_token_env or bearer_token_file").
type URL struct {
	S string
	Pos
}

// URLOf returns a URL of s, as a default.
func URLOf(s string) URL { return URL{S: s} }

func (v *URL) parse(text string, _ *Decoder, f reflect.StructField) string {
	example := f.Tag.Get("example")
	if example == "" {
		example = v.S
	}
	u, err := url.Parse(strings.TrimSpace(text))
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		if strings.Contains(text, "@") {
			// Not quoted: it may hold a password.
			return "is not an absolute http(s) URL such as " + example
		}
		return "invalid URL " + secret.QuoteURL(text) + " (want an absolute http(s) URL such as " + example + ")"
	case u.User != nil:
		hint := f.Tag.Get("creds")
		if hint == "" {
			hint = "name the secret in its *_env or *_file setting"
		}
		return "must not hold credentials (user:password@): " + hint
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		// Not quoted: a query often carries a key.
		return "must not have a query or fragment"
	}
	v.S = strings.TrimSuffix(u.String(), "/")
	return ""
}

func (v *URL) format() (string, string, bool) { return v.S, "!!str", v.S != "" }

// RequireTLS reports a plain-http URL to another machine: what (such as
// "the key") would cross the network unencrypted.
func (v *URL) RequireTLS(p *Problems, what string) {
	u, err := url.Parse(v.S)
	if err != nil || u.Scheme != "http" || IsLoopback(u.Hostname()) {
		return
	}
	p.At(v.Pos, "plain http would send %s unencrypted; use https (http is allowed only for this machine, such as http://127.0.0.1:8080)", what)
}

// IsLoopback reports whether host names this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Resolve makes a path from the file absolute, or relative to the
// configuration's directory.
func (d *Decoder) Resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.Dir, p)
}

// IsHTTPURL reports whether s is an absolute http or https URL with a host
// (a query is allowed: a secret URL may carry its token there).
func IsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
