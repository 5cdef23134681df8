package mailbox

import (
	"encoding/json"
	"fmt"
)

// A cursor's text is a JSON object with one key, the kind of reader that
// wrote it ({"imap":{…}}), so that a reader recognises its own cursors and
// reads from the start when given another's.

// EncodeCursor makes the cursor of the reader kind holding state v.
func EncodeCursor(kind string, v any) Cursor {
	b, err := json.Marshal(map[string]any{kind: v})
	if err != nil {
		// State is plain data chosen by the reader; failing here is a bug.
		panic(fmt.Sprintf("mailbox: encode %s cursor: %v", kind, err))
	}
	return Cursor(b)
}

// DecodeCursor reads the state a reader of kind stored in c into v. It
// reports false, leaving v alone, for the zero Cursor and for another kind's
// cursor; an error (wrapping ErrCursor) for text that is not a cursor.
func DecodeCursor(c Cursor, kind string, v any) (bool, error) {
	if c == "" {
		return false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(c), &m); err != nil || len(m) != 1 {
		return false, fmt.Errorf("%w: not a cursor: %.40q", ErrCursor, string(c))
	}
	raw, ok := m[kind]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("%w: %s cursor: %v", ErrCursor, kind, err)
	}
	return true, nil
}
