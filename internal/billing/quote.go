package billing

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxQuoted bounds a value quoted in an error message, in characters.
const MaxQuoted = 80

// Quote renders a value for an error message as %q does, but bounded: a
// value longer than MaxQuoted characters is cut there and followed by an
// ellipsis and its length, so that a 50 MB key or amount in a file never
// becomes a 50 MB message. The ellipsis is outside the quotes: the quoted
// text is always the value's own start.
func Quote[T ~string | ~[]byte](v T) string {
	s := string(v)
	if utf8.RuneCountInString(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	cut, n := 0, 0
	for i := range s {
		if n == MaxQuoted {
			cut = i
			break
		}
		n++
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
