package delta

import (
	"bytes"
	"strings"
	"testing"
)

// poll is the text of an observation as history.EncodeObservation writes
// it, with its balance, one grant's use and its costs' time left to fill.
const poll = `{"at":"2026-03-01T12:%s:00Z","source":"openai:/dashboard/billing/credit_grants","balance":{"shown":"%s"},` +
	`"grants":[{"id":"cg_00","amount":"100.00","used":"0.00","effective_at":"2025-01-01T00:00:00Z","expires_at":"2026-01-01T00:00:00Z","kind":"purchased"},` +
	`{"id":"cg_01","amount":"100.00","used":"%s","effective_at":"2025-02-01T00:00:00Z","expires_at":"2026-02-01T00:00:00Z","kind":"purchased"},` +
	`{"id":"cg_02","amount":"100.00","used":"0.14","effective_at":"2025-03-01T00:00:00Z","expires_at":"2026-03-01T00:00:00Z","kind":"purchased"},` +
	`{"id":"cg_03","amount":"100.00","used":"0.21","effective_at":"2025-04-01T00:00:00Z","expires_at":"2026-04-01T00:00:00Z","kind":"purchased"}],` +
	`"charges":[{"id":"in_1","paid_at":"2025-01-01T00:10:00Z","amount":"108.00","tax":"8.00","currency":"USD","origin":"invoice","trigger":"auto-recharge"}],` +
	`"costs":[{"start":"2026-03-01T00:00:00Z","end":"2026-03-02T00:00:00Z","amount":"12.34","settled":false}],` +
	`"sources":{"charges":{"source":"openai:/v1/invoices"},"costs":{"source":"openai:/v1/organization/costs","as_of":"2026-03-01T12:%s:00Z"}}}`

// fill fills the holes of poll in order: the minute, the balance, the
// grant's use and the costs' minute.
func fill(vals ...string) []byte {
	parts := strings.Split(poll, "%s")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(p)
		if i < len(vals) {
			b.WriteString(vals[i])
		}
	}
	return []byte(b.String())
}

func base(t testing.TB, text []byte) *Base {
	t.Helper()
	b, err := NewBase(text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDiffForms: what a delta is written as, member by member.
func TestDiffForms(t *testing.T) {
	first := fill("00", "1336.00", "0.07", "00")
	tests := []struct {
		name       string
		full, want string
	}{
		{"the same text: every member is the base's", string(first),
			`{"at":0,"source":0,"balance":0,"grants":0,"charges":0,"costs":0,"sources":0}`},
		{"a grant drawn down: numbers, a patch of that grant by its id; patches only where shorter",
			string(fill("15", "1335.00", "0.08", "10")),
			`{"at":"2026-03-01T12:15:00Z","source":0,"balance":{"shown":"1335.00"},"grants":[0,{"=":1,"used":"0.08"},2,3],` +
				`"charges":0,"costs":0,"sources":{"=":0,"costs":{"source":"openai:/v1/organization/costs","as_of":"2026-03-01T12:10:00Z"}}}`},
		{"grants reordered and one new: element numbers, runs of three or more, the new one whole",
			`{"grants":[{"id":"cg_02","amount":"100.00","used":"0.14","effective_at":"2025-03-01T00:00:00Z","expires_at":"2026-03-01T00:00:00Z","kind":"purchased"},` +
				`{"id":"cg_03","amount":"100.00","used":"0.21","effective_at":"2025-04-01T00:00:00Z","expires_at":"2026-04-01T00:00:00Z","kind":"purchased"},` +
				`{"id":"cg_09","kind":"free"},` +
				`{"id":"cg_00","amount":"100.00","used":"0.00","effective_at":"2025-01-01T00:00:00Z","expires_at":"2026-01-01T00:00:00Z","kind":"purchased"},` +
				`{"id":"cg_01","amount":"100.00","used":"0.07","effective_at":"2025-02-01T00:00:00Z","expires_at":"2026-02-01T00:00:00Z","kind":"purchased"},` +
				`{"id":"cg_02","amount":"100.00","used":"0.14","effective_at":"2025-03-01T00:00:00Z","expires_at":"2026-03-01T00:00:00Z","kind":"purchased"}]}`,
			`{"grants":[2,3,{"id":"cg_09","kind":"free"},[0,2]]}`},
		{"a member the base lacks, and one of another type: themselves",
			`{"derived":{"x":"1"},"balance":"gone","costs":[]}`,
			`{"derived":{"x":"1"},"balance":"gone","costs":[]}`},
	}
	b := base(t, first)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Diff([]byte(tt.full), b)
			if err != nil {
				t.Fatal(err)
			}
			if string(d) != tt.want {
				t.Errorf("delta:\ngot  %s\nwant %s", d, tt.want)
			}
			back, err := Patch(nil, d, b)
			if err != nil || string(back) != tt.full {
				t.Errorf("rebuilt: got %s (%v), want %s", back, err, tt.full)
			}
		})
	}
}

// TestDiffRebuilds: the delta of any text against any other rebuilds it
// byte for byte, and a delta against a close poll is a small part of it.
func TestDiffRebuilds(t *testing.T) {
	var texts [][]byte
	for i, m := range []string{"00", "15", "30", "45"} {
		texts = append(texts, fill(m, []string{"1336.00", "1335.00", "1334.50", "1334.50"}[i], []string{"0.07", "0.08", "0.08", "0.09"}[i], m))
	}
	texts = append(texts, []byte(`{"at":"2026-03-01T13:00:00Z","source":"deepseek:/user/balance","balance":{"shown":"9.00"}}`),
		[]byte(`{}`), []byte(`{"grants":[]}`), []byte(`{"grants":[{},{"id":"\"]}"}],"b":{"c":[1]}}`))
	for i, full := range texts {
		for j, other := range texts {
			b := base(t, other)
			d, err := Diff(full, b)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Patch(nil, d, b)
			if err != nil || !bytes.Equal(back, full) {
				t.Errorf("text %d against text %d: delta %s rebuilds %s (%v), want %s", i, j, d, back, err, full)
			}
			if i < 4 && j < 4 && len(d) > len(full)/3 {
				t.Errorf("poll %d against poll %d: got a delta of %d bytes, want at most a third of %d: %s", i, j, len(d), len(full), d)
			}
		}
	}
}

// TestPatchDamaged: a delta that does not fit its base is an error saying
// where, never a panic.
func TestPatchDamaged(t *testing.T) {
	b := base(t, fill("00", "1336.00", "0.07", "00"))
	const at = `{"at":"2026-03-01T13:00:00Z"`
	tests := []struct{ name, delta, want string }{
		{"not JSON", at + `,"source":`, `not compact JSON: want an object`},
		{"not closed", `{"at":"x,"source":0}`, `not compact JSON: want ',' or '}' at byte 10`},
		{"an element the base lacks", at + `,"grants":[0,7]}`, `"grants": element 7 of a base array of 4`},
		{"a run backwards", at + `,"grants":[[2,0]]}`, `"grants": "[2,0]" is not a run of elements`},
		{"a run of one end", at + `,"grants":[[2]]}`, `"grants": "[2]" is not a run of elements`},
		{"a run past the end", at + `,"grants":[[2,9]]}`, `"grants": element 9 of a base array of 4`},
		{"an element number out of bounds", at + `,"grants":[99999999999]}`, `"grants": "99999999999" is not an element number`},
		{"an element number with a leading zero", at + `,"grants":[01]}`, `"grants": "01" is not an element number`},
		{"a member the base lacks", at + `,"derived":0}`, `"derived": "0" does not name a member of the base`},
		{"a member named by another number", at + `,"source":1}`, `"source": "1" does not name a member of the base`},
		{"a patch of a member the base lacks", at + `,"derived":{"=":0,"x":"1"}}`, `"derived": patches a member the base lacks`},
		{"a patch of a field the element lacks", at + `,"grants":[{"=":0,"colour":"red"}]}`,
			`"grants": a patch replaces a member the base lacks, or one twice`},
		{"a patch replacing a field twice", at + `,"grants":[{"=":0,"used":"1","used":"2"}]}`,
			`"grants": a patch replaces a member the base lacks, or one twice`},
		{"a patch of another element", at + `,"grants":[{"=":"1","used":"1.00"}]}`, `"grants": "\"1\"" is not an element number`},
		{"an item neither number, run, patch nor object", at + `,"grants":["cg_00"]}`, `"grants": unexpected item "\"cg_00\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Patch(nil, []byte(tt.delta), b)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %s, %v; want the error %q", got, err, tt.want)
			}
		})
	}
}

// TestNewBaseRefuses: a base is a JSON object whose arrays are arrays.
func TestNewBaseRefuses(t *testing.T) {
	for _, text := range []string{``, `[]`, `{"a":1`, `{"a":[1,}`, `{"a" 1}`, `{a:1}`, `{"a":"x}`} {
		if _, err := NewBase([]byte(text)); err == nil {
			t.Errorf("NewBase(%q): got a base, want an error", text)
		}
	}
}

// FuzzPatch: whatever a damaged file holds, rebuilding an observation from
// it returns text or an error, never a panic; and a delta Diff writes
// rebuilds the text it was written from, or Choose does not keep it.
func FuzzPatch(f *testing.F) {
	whole := string(fill("00", "1336.00", "0.07", "00"))
	f.Add(`{"at":"2026-03-01T13:00:00Z","source":0,"grants":[[0,2],{"=":1,"used":"0.10"}],"costs":[{"=":0,"amount":"1.00"}]}`, whole)
	f.Add(`{"at":0,"balance":{"=":0,"shown":"1.00"},"grants":[1,0,{"id":"x"}]}`, whole)
	f.Add(`{"a":[[1,2],[0,0]],"b":{"=":0}}`, `{"a":[{},{"x":"\"]}"}],"b":{"c":[1]}}`)
	f.Add(string(fill("15", "1335.00", "0.08", "10")), whole)
	f.Fuzz(func(t *testing.T, delta, text string) {
		b, err := NewBase([]byte(text))
		if err != nil {
			return
		}
		Patch(nil, []byte(delta), b)
		if d, err := Diff([]byte(delta), b); err == nil {
			Patch(nil, d, b)
		}
		form, kept := Choose([]byte(delta), []byte(text), nil)
		switch form {
		case Whole:
			if string(kept) != delta {
				t.Fatalf("whole: got %s, want %s", kept, delta)
			}
		case OnNew:
			if back, err := Patch(nil, kept, base(t, []byte(delta))); err != nil || string(back) != delta {
				t.Fatalf("on a new base: %s rebuilds %s (%v), want %s", kept, back, err, delta)
			}
		default:
			t.Fatalf("got %v without a current base", form)
		}
	})
}
