package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// DecodeJSON decodes a provider's JSON body into v. Unknown fields are
// ignored; numbers are kept as their text (use Number fields). Its errors
// say what is wrong in words, never quoting the body: an HTML page, JSON cut
// short, a value of the wrong type, or data after the document.
func DecodeJSON(body []byte, v any) error {
	t := bytes.TrimSpace(body)
	switch {
	case len(t) == 0:
		return errors.New("the response is empty")
	case t[0] == '<':
		return errors.New("the response is HTML, not JSON (a proxy, login or error page?)")
	case t[0] != '{':
		return errors.New("the response is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("the JSON response is cut short after %d bytes", len(t))
		case errors.As(err, &se):
			return fmt.Errorf("the response is not valid JSON at byte %d: %s", se.Offset, se.Error())
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "the document"
			}
			return fmt.Errorf("field %s: want %s, got a JSON %s", field, typeWord(te.Type.String()), te.Value)
		}
		return fmt.Errorf("decode the response: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the response has data after its JSON document")
	}
	return nil
}

func typeWord(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map[") || strings.Contains(goType, "struct") || strings.Contains(goType, "."):
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	}
	return "a number"
}

// Number is a JSON number, or a string holding one, kept as its literal text
// so that amounts never pass through float64. Null or absence leaves it
// unset.
type Number struct {
	Text string
	Set  bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*n = Number{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = Number{Text: s, Set: true}
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*n = Number{Text: string(b), Set: true}
		return nil
	}
	return fmt.Errorf("want a number, got %s", jsonKind(b))
}

func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	}
	return "a value"
}

// maxDigits bounds the digits of an amount: more is no real balance, and
// huge exponents would make decimal arithmetic slow.
const maxDigits = 40

// Amount parses n as an exact decimal. field names it in errors.
func (n Number) Amount(field string) (decimal.Decimal, error) {
	if !n.Set {
		return decimal.Decimal{}, fmt.Errorf("%s is missing", field)
	}
	d, err := billing.ParseAmount(n.Text)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: %s is not a decimal amount", field, quote(n.Text))
	}
	if e := d.Exponent(); e < -maxDigits || e > maxDigits || len(d.Coefficient().String()) > maxDigits {
		return decimal.Decimal{}, fmt.Errorf("%s: %s is out of range for an amount", field, quote(n.Text))
	}
	return d, nil
}

// NonNegative parses n as an amount that must be 0 or more.
func (n Number) NonNegative(field string) (decimal.Decimal, error) {
	d, err := n.Amount(field)
	if err != nil {
		return d, err
	}
	if d.IsNegative() {
		return decimal.Decimal{}, fmt.Errorf("%s: must not be negative (got %s)", field, quote(n.Text))
	}
	return d, nil
}

// maxUnix is 9999-12-31T23:59:59Z, the last second the history format holds.
const maxUnix = 253402300799

// UnixTime parses n as Unix seconds, possibly with a fraction
// (1800000000.0), into a UTC time.
func (n Number) UnixTime(field string) (time.Time, error) {
	d, err := n.Amount(field)
	if err != nil {
		return time.Time{}, err
	}
	if d.IsNegative() || d.GreaterThan(decimal.NewFromInt(maxUnix)) {
		return time.Time{}, fmt.Errorf("%s: %s is not a Unix time in years 1970-9999", field, quote(n.Text))
	}
	sec := d.IntPart()
	nsec := d.Sub(decimal.NewFromInt(sec)).Shift(9).IntPart()
	return time.Unix(sec, nsec).UTC(), nil
}

// quote renders provider text for an error, short and printable.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}
