package delta

import (
	"fmt"
	"strings"
	"testing"
)

// grants returns n grants, from cg_<from> on, as a JSON array's elements.
func grants(from, n int) string {
	var es []string
	for g := from; g < from+n; g++ {
		es = append(es, fmt.Sprintf(`{"id":"cg_%02d","amount":"100.00","used":"0.%02d","effective_at":"2025-01-01T00:00:00Z","kind":"purchased"}`, g, g))
	}
	return strings.Join(es, ",")
}

// TestChoose: which form each observation is stored in, and that what is
// stored rebuilds it.
func TestChoose(t *testing.T) {
	first := fill("00", "1336.00", "0.07", "00")
	next := fill("15", "1335.00", "0.08", "10")
	cur := base(t, first)
	onCur, err := Diff(next, cur) // next, stored on first
	if err != nil {
		t.Fatal(err)
	}
	// Sixteen grants bought since the base: the delta against it carries
	// them at every poll, the delta against the poll before does not.
	bought := func(minute string) []byte {
		return []byte(`{"at":"2026-03-02T12:` + minute + `:00Z","grants":[` + grants(0, 4) + `,` + grants(4, 16) + `]}`)
	}
	few := base(t, []byte(`{"at":"2026-03-01T12:00:00Z","grants":[`+grants(0, 4)+`]}`))
	prevBought, err := Diff(bought("00"), few)
	if err != nil {
		t.Fatal(err)
	}
	long := `"` + strings.Repeat("x", 300) + `"`
	numbered := base(t, []byte(`{"a":"5","b":`+long+`}`))

	tests := []struct {
		name       string
		full, prev []byte
		cur        *Base
		want       Form
	}{
		{"the account's first observation", first, nil, nil, Whole},
		{"close to the previous one, stored whole: a new base", next, first, nil, OnNew},
		{"far from the previous one: whole", []byte(`{"at":"2026-03-01T12:15:00Z","balance":{"shown":"1.00"}}`), first, nil, Whole},
		{"close to the base: on it", fill("30", "1334.00", "0.09", "25"), onCur, cur, OnCurrent},
		{"the same as the base: on it", first, onCur, cur, OnCurrent},
		{"the base drifted away (grants bought since): a new base", bought("15"), prevBought, few, OnNew},
		{"a previous text that is not JSON: whole", next, []byte(`{"at":`), nil, Whole},
		{"a delta that does not fit its base: whole", next, []byte(`{"grants":[9]}`), cur, Whole},
		{"a full text a delta would misread (a number): whole", []byte(`{"a":0,"b":` + long + `}`), []byte(`{"a":0,"b":0}`), numbered, Whole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, data := Choose(tt.full, tt.prev, tt.cur)
			if form != tt.want {
				t.Fatalf("got %v (%s), want %v", form, data, tt.want)
			}
			var against *Base
			switch form {
			case Whole:
				if string(data) != string(tt.full) {
					t.Fatalf("whole: got %s, want %s", data, tt.full)
				}
				return
			case OnCurrent:
				against = tt.cur
			case OnNew:
				against = base(t, tt.full)
			}
			if !Rebuilds(data, tt.full, against) {
				t.Errorf("%v: %s does not rebuild %s", form, data, tt.full)
			}
			if len(data) >= len(tt.full)/2 {
				t.Errorf("%v: got %d bytes, want less than half of the full %d", form, len(data), len(tt.full))
			}
		})
	}
}
