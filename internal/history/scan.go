package history

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the type of a JSON value, told by its first byte.
type kind uint8

const (
	kindInvalid kind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

func (k kind) String() string {
	switch k {
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	case kindNull:
		return "null"
	}
	return "invalid value"
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 1000

// scanner reads JSON from a byte slice one value at a time, without building
// a tree. Its first syntax error is sticky: after it every method returns a
// zero value and loops end, so callers check err once at the end.
//
// Containers are read with enter and more:
//
//	s.enter()
//	for s.more('}') {
//		key := s.key()
//		… read or skip the value …
//	}
type scanner struct {
	data  []byte
	pos   int
	first bool // the container just entered has not been asked for a member yet
	depth int
	err   *SyntaxError
}

func (s *scanner) fail(off int, msg string) {
	if s.err == nil {
		s.err = newSyntaxError(s.data, off, msg)
	}
	s.pos = len(s.data)
}

// failAt reports the character at the current position (or the end of the
// input) as unexpected in context.
func (s *scanner) failAt(context string) {
	if s.pos >= len(s.data) {
		s.fail(len(s.data), "unexpected end of JSON input")
		return
	}
	s.fail(s.pos, "invalid character "+quoteChar(s.data[s.pos:])+" "+context)
}

// quoteChar quotes the character at the start of b for an error message.
func quoteChar(b []byte) string {
	r, size := utf8.DecodeRune(b)
	switch {
	case r == utf8.RuneError && size <= 1:
		return fmt.Sprintf(`'\x%02x'`, b[0])
	case r == '\'':
		return `'\''`
	case r == '"':
		return `'"'`
	}
	q := strconv.Quote(string(r))
	return "'" + q[1:len(q)-1] + "'"
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// seek moves to off, the start of a value already checked by an earlier pass.
func (s *scanner) seek(off int) {
	s.pos, s.first, s.depth = off, false, 0
}

// offset returns the position of the next value.
func (s *scanner) offset() int {
	s.ws()
	return s.pos
}

// peek returns the kind of the next value without consuming it.
func (s *scanner) peek() kind {
	if s.err != nil {
		return kindInvalid
	}
	s.ws()
	if s.pos >= len(s.data) {
		s.failAt("")
		return kindInvalid
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == '"':
		return kindString
	case c == '-' || '0' <= c && c <= '9':
		return kindNumber
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	}
	s.failAt("looking for beginning of value")
	return kindInvalid
}

// enter consumes the '{' or '[' that peek found.
func (s *scanner) enter() {
	if s.err != nil {
		return
	}
	if s.depth >= maxDepth {
		s.fail(s.pos, "exceeded max depth")
		return
	}
	s.depth++
	s.pos++
	s.first = true
}

// more reports whether the container being read, which ends with end, has
// another member, and consumes the comma or the closing bracket.
func (s *scanner) more(end byte) bool {
	if s.err != nil {
		return false
	}
	s.ws()
	if s.pos >= len(s.data) {
		s.failAt("")
		return false
	}
	c := s.data[s.pos]
	if c == end {
		s.first = false
		s.pos++
		s.depth--
		return false
	}
	if s.first {
		s.first = false
		return true
	}
	if c == ',' {
		s.pos++
		return true
	}
	if end == '}' {
		s.failAt("after object key:value pair")
	} else {
		s.failAt("after array element")
	}
	return false
}

// key reads an object key and the colon after it.
func (s *scanner) key() []byte {
	if s.err != nil {
		return nil
	}
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		s.failAt("looking for beginning of object key string")
		return nil
	}
	k := s.str()
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		s.failAt("after object key")
		return nil
	}
	s.pos++
	return k
}

// plain marks the bytes that stand for themselves in a string: printable
// ASCII other than the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the string that peek found. The result aliases the input unless
// the string holds escapes; either way it stays valid.
func (s *scanner) str() []byte {
	if s.err != nil {
		return nil
	}
	start := s.pos + 1
	for i := start; i < len(s.data); {
		for i < len(s.data) && plain[s.data[i]] {
			i++
		}
		if i >= len(s.data) {
			break
		}
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i]
		case c == '\\':
			return s.unescape(start, i)
		case c < 0x20:
			s.pos = i
			s.failAt("in string literal")
			return nil
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.data[i:])
			if r == utf8.RuneError && size == 1 {
				s.fail(i, "invalid UTF-8 in string literal")
				return nil
			}
			i += size
			continue
		}
		i++
	}
	s.fail(len(s.data), "unexpected end of JSON input")
	return nil
}

// unescape finishes reading a string that has an escape at i, copying it.
// Like encoding/json it turns an unpaired surrogate into U+FFFD.
func (s *scanner) unescape(start, i int) []byte {
	out := make([]byte, 0, i-start+16)
	out = append(out, s.data[start:i]...)
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return out
		case c < 0x20:
			s.pos = i
			s.failAt("in string literal")
			return nil
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.data[i:])
			if r == utf8.RuneError && size == 1 {
				s.fail(i, "invalid UTF-8 in string literal")
				return nil
			}
			out = append(out, s.data[i:i+size]...)
			i += size
			continue
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		i++ // the backslash
		if i >= len(s.data) {
			break
		}
		switch e := s.data[i]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4(i + 1)
			if !ok {
				return nil
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if i+2 < len(s.data) && s.data[i+1] == '\\' && s.data[i+2] == 'u' {
					if r2, ok = s.hex4(i + 3); !ok {
						return nil
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.pos = i
			s.failAt("in string escape code")
			return nil
		}
		i++
	}
	s.fail(len(s.data), "unexpected end of JSON input")
	return nil
}

// hex4 reads the four hex digits of a \u escape starting at i.
func (s *scanner) hex4(i int) (rune, bool) {
	var r rune
	for j := i; j < i+4; j++ {
		if j >= len(s.data) {
			s.fail(len(s.data), "unexpected end of JSON input")
			return 0, false
		}
		c := s.data[j]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			s.pos = j
			s.failAt(`in \u hexadecimal character escape`)
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads the number that peek found and returns its literal text.
func (s *scanner) number() []byte {
	if s.err != nil {
		return nil
	}
	start := s.pos
	digits := func(context string) bool {
		if s.pos >= len(s.data) || s.data[s.pos] < '0' || s.data[s.pos] > '9' {
			s.failAt(context)
			return false
		}
		for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
			s.pos++
		}
		return true
	}
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '0' {
		s.pos++
	} else if !digits("in numeric literal") {
		return nil
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if !digits("after decimal point in numeric literal") {
			return nil
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !digits("in exponent of numeric literal") {
			return nil
		}
	}
	return s.data[start:s.pos]
}

// literal reads true, false or null and reports which word it was.
func (s *scanner) literal() string {
	if s.err != nil {
		return ""
	}
	word := "null"
	switch s.data[s.pos] {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	}
	for i := 0; i < len(word); i++ {
		if s.pos >= len(s.data) || s.data[s.pos] != word[i] {
			s.failAt("in literal " + word + " (expecting " + quoteChar([]byte{word[i]}) + ")")
			return ""
		}
		s.pos++
	}
	return word
}

// skip reads and discards the next value, checking its syntax.
func (s *scanner) skip() {
	switch s.peek() {
	case kindObject:
		s.enter()
		for s.more('}') {
			s.key()
			s.skip()
		}
	case kindArray:
		s.enter()
		for s.more(']') {
			s.skip()
		}
	case kindString:
		s.str()
	case kindNumber:
		s.number()
	case kindBool, kindNull:
		s.literal()
	}
}

// end checks that nothing but white space follows the top-level value.
func (s *scanner) end() {
	if s.err != nil {
		return
	}
	s.ws()
	if s.pos < len(s.data) {
		s.failAt("after top-level value")
	}
}
