// Package delta keeps an observation's text short when most of it repeats
// an earlier one: Diff writes the observation as a delta against a Base,
// Patch reads it back, and Choose decides, poll after poll, whether to
// store an observation whole, as a delta against the account's current
// base, or as the first of a new base. It works on bytes only, never on
// SQL: each state backend keeps the full text, the deltas and the bases
// its own way (the SQLite store: internal/store/compact.go).
//
// The full text is history.EncodeObservation's compact JSON. A delta is
// that JSON object with the same members in the same order, where a value
// may be written shorter than itself:
//
//   - 0 is the base's value of the same member;
//   - in an array, a number n is the base array's element n, and [a,b] its
//     elements a to b;
//   - an object whose first member is "=" is a patch: the object of the base
//     it names ("=":n, element n of the base's array; "=":0 as a member, the
//     base's member) with the values of the members that follow replaced.
//
// Anything else is itself. The full text holds no numbers and no "=" key,
// so a delta is never ambiguous; and Choose returns a delta only when it
// rebuilds the very bytes of the full text (Rebuilds), so what is read back
// is exactly what the full text would have decoded to, whatever the text.
// Diff and Patch work on the text, never on the values. A delta or a base
// that does not fit (an element it lacks, text that is not JSON) is an
// error saying where, never a panic.
package delta

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// member is one member of a JSON object: its key as written, quotes
// included, and the text of its value.
type member struct {
	key, val []byte
}

// maxRef bounds the element numbers of a delta.
const maxRef = 1 << 20

// errSyntax is a text that is not the compact JSON this file reads.
var errSyntax = errors.New("not compact JSON")

// valueEnd returns the index just past the JSON value starting at b[i].
// It follows strings and nesting; the decoder checks the rest.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: a value is missing at byte %d", errSyntax, i)
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("%w: a string at byte %d is not closed", errSyntax, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := valueEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: %c at byte %d is not closed", errSyntax, b[i], i)
	}
	j := i
	for j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] >= '0' && b[j] <= '9' || b[j] == '-' || b[j] == '.') {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("%w: unexpected %q at byte %d", errSyntax, b[i], i)
	}
	return j, nil
}

// parseObject splits a JSON object into its members.
func parseObject(b []byte) ([]member, error) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("%w: want an object", errSyntax)
	}
	var ms []member
	if len(b) == 2 {
		return ms, nil
	}
	for i := 1; ; {
		if b[i] != '"' {
			return nil, fmt.Errorf("%w: want a key at byte %d", errSyntax, i)
		}
		kend, err := valueEnd(b, i)
		if err != nil {
			return nil, err
		}
		if kend >= len(b) || b[kend] != ':' {
			return nil, fmt.Errorf("%w: want ':' at byte %d", errSyntax, kend)
		}
		vend, err := valueEnd(b, kend+1)
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{key: b[i:kend], val: b[kend+1 : vend]})
		switch {
		case vend == len(b)-1:
			return ms, nil
		case vend < len(b)-1 && b[vend] == ',':
			i = vend + 1
		default:
			return nil, fmt.Errorf("%w: want ',' or '}' at byte %d", errSyntax, vend)
		}
	}
}

// parseArray splits a JSON array into its elements.
func parseArray(b []byte) ([][]byte, error) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("%w: want an array", errSyntax)
	}
	var es [][]byte
	if len(b) == 2 {
		return es, nil
	}
	for i := 1; ; {
		end, err := valueEnd(b, i)
		if err != nil {
			return nil, err
		}
		es = append(es, b[i:end])
		switch {
		case end == len(b)-1:
			return es, nil
		case end < len(b)-1 && b[end] == ',':
			i = end + 1
		default:
			return nil, fmt.Errorf("%w: want ',' or ']' at byte %d", errSyntax, end)
		}
	}
}

// ref reads an element number of a delta.
func ref(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || n >= maxRef || len(b) > 1 && b[0] == '0' {
		return 0, fmt.Errorf("%.20q is not an element number", b)
	}
	return n, nil
}

// A Base is the full text of an observation that deltas are taken
// against, split into its members and its arrays' elements.
type Base struct {
	members []member
	elems   map[string][][]byte // by member key
}

// NewBase splits the full text of an observation to take deltas against.
func NewBase(text []byte) (*Base, error) {
	ms, err := parseObject(text)
	if err != nil {
		return nil, err
	}
	b := &Base{members: ms, elems: make(map[string][][]byte)}
	for _, m := range ms {
		if m.val[0] == '[' {
			es, err := parseArray(m.val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.key, err)
			}
			b.elems[string(m.key)] = es
		}
	}
	return b, nil
}

func (b *Base) member(key []byte) ([]byte, bool) {
	for _, m := range b.members {
		if bytes.Equal(m.key, key) {
			return m.val, true
		}
	}
	return nil, false
}

// Diff returns the delta of the full text of an observation against b.
func Diff(full []byte, b *Base) ([]byte, error) {
	ms, err := parseObject(full)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(full)/4)
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(out, m.key...), ':')
		bv, ok := b.member(m.key)
		switch {
		case ok && bytes.Equal(m.val, bv):
			out = append(out, '0')
		case ok && m.val[0] == '[' && bv[0] == '[':
			out = diffArray(out, m.val, b.elems[string(m.key)])
		case ok && m.val[0] == '{' && bv[0] == '{':
			out = diffObject(out, m.val, bv, 0)
		default:
			out = append(out, m.val...)
		}
	}
	return append(out, '}'), nil
}

// diffObject appends object v as a patch of bv (element n of the base's
// array, or the base's member for 0), or as itself when that is shorter or
// their members differ.
func diffObject(out, v, bv []byte, n int) []byte {
	vm, err1 := parseObject(v)
	bm, err2 := parseObject(bv)
	if err1 != nil || err2 != nil || len(vm) != len(bm) {
		return append(out, v...)
	}
	start := len(out)
	out = strconv.AppendInt(append(out, `{"=":`...), int64(n), 10)
	for i, m := range vm {
		if !bytes.Equal(m.key, bm[i].key) {
			return append(out[:start], v...)
		}
		if !bytes.Equal(m.val, bm[i].val) {
			out = append(append(append(append(out, ','), m.key...), ':'), m.val...)
		}
	}
	out = append(out, '}')
	if len(out)-start >= len(v) {
		return append(out[:start], v...)
	}
	return out
}

// diffArray appends array v with the elements it shares with the base's
// array be written as their numbers, runs of three or more as [a,b], and
// the elements that changed as patches of the base's element with the same
// first member (a grant's id, a cost bucket's start).
func diffArray(out, v []byte, be [][]byte) []byte {
	ve, err := parseArray(v)
	if err != nil {
		return append(out, v...)
	}
	refs := make([]int, len(ve)) // the equal element of be, or -1
	prev := -1
	for i, e := range ve {
		refs[i] = -1
		if prev+1 < len(be) && bytes.Equal(be[prev+1], e) {
			refs[i] = prev + 1
		} else {
			for k, x := range be {
				if bytes.Equal(x, e) {
					refs[i] = k
					break
				}
			}
		}
		if refs[i] >= 0 {
			prev = refs[i]
		}
	}
	out = append(out, '[')
	for i := 0; i < len(ve); {
		if i > 0 {
			out = append(out, ',')
		}
		if refs[i] < 0 {
			out = diffElem(out, ve[i], be)
			i++
			continue
		}
		j := i
		for j+1 < len(ve) && refs[j+1] == refs[j]+1 {
			j++
		}
		if j-i >= 2 {
			out = append(out, '[')
			out = strconv.AppendInt(out, int64(refs[i]), 10)
			out = append(out, ',')
			out = strconv.AppendInt(out, int64(refs[j]), 10)
			out = append(out, ']')
			i = j + 1
			continue
		}
		out = strconv.AppendInt(out, int64(refs[i]), 10)
		i++
	}
	return append(out, ']')
}

// diffElem appends element e as a patch of the base's element with the
// same first member, or as itself.
func diffElem(out, e []byte, be [][]byte) []byte {
	first := firstMember(e)
	if first == nil {
		return append(out, e...)
	}
	for k, x := range be {
		if bytes.HasPrefix(x, first) {
			return diffObject(out, e, x, k)
		}
	}
	return append(out, e...)
}

// firstMember returns the text of an object's first member up to its
// value's end with the comma after it, `{"id":"cg_1",`, or nil.
func firstMember(e []byte) []byte {
	if len(e) < 2 || e[0] != '{' || e[1] != '"' {
		return nil
	}
	kend, err := valueEnd(e, 1)
	if err != nil || kend >= len(e) || e[kend] != ':' {
		return nil
	}
	vend, err := valueEnd(e, kend+1)
	if err != nil || vend >= len(e) || e[vend] != ',' {
		return nil
	}
	return e[:vend+1]
}

// Patch appends to out the full text that delta stands for against b.
func Patch(out, delta []byte, b *Base) ([]byte, error) {
	ms, err := parseObject(delta)
	if err != nil {
		return nil, err
	}
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(out, m.key...), ':')
		switch v := m.val; {
		case v[0] >= '0' && v[0] <= '9':
			bv, ok := b.member(m.key)
			if string(v) != "0" || !ok {
				return nil, fmt.Errorf("%s: %.20q does not name a member of the base", m.key, v)
			}
			out = append(out, bv...)
		case v[0] == '[':
			if out, err = patchArray(out, v, b.elems[string(m.key)]); err != nil {
				return nil, fmt.Errorf("%s: %w", m.key, err)
			}
		case isPatch(v):
			bv, ok := b.member(m.key)
			if !ok {
				return nil, fmt.Errorf("%s: patches a member the base lacks", m.key)
			}
			if out, err = patchObject(out, v, bv, 0); err != nil {
				return nil, fmt.Errorf("%s: %w", m.key, err)
			}
		default:
			out = append(out, v...)
		}
	}
	return append(out, '}'), nil
}

func isPatch(v []byte) bool { return bytes.HasPrefix(v, []byte(`{"=":`)) }

// patchArray appends the array v stands for against the base's elements be.
func patchArray(out, v []byte, be [][]byte) ([]byte, error) {
	items, err := parseArray(v)
	if err != nil {
		return nil, err
	}
	elem := func(n int) ([]byte, error) {
		if n >= len(be) {
			return nil, fmt.Errorf("element %d of a base array of %d", n, len(be))
		}
		return be[n], nil
	}
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		switch {
		case it[0] >= '0' && it[0] <= '9':
			n, err := ref(it)
			if err != nil {
				return nil, err
			}
			e, err := elem(n)
			if err != nil {
				return nil, err
			}
			out = append(out, e...)
		case it[0] == '[':
			r, err := parseArray(it)
			if err != nil || len(r) != 2 {
				return nil, fmt.Errorf("%.20q is not a run of elements", it)
			}
			from, err := ref(r[0])
			if err != nil {
				return nil, err
			}
			to, err := ref(r[1])
			if err != nil {
				return nil, err
			}
			if to < from {
				return nil, fmt.Errorf("%.20q is not a run of elements", it)
			}
			if _, err := elem(to); err != nil {
				return nil, err
			}
			for n := from; n <= to; n++ {
				if n > from {
					out = append(out, ',')
				}
				out = append(out, be[n]...)
			}
		case isPatch(it):
			ms, err := parseObject(it)
			if err != nil {
				return nil, err
			}
			n, err := ref(ms[0].val)
			if err != nil {
				return nil, err
			}
			e, err := elem(n)
			if err != nil {
				return nil, err
			}
			if out, err = patchObject(out, it, e, n); err != nil {
				return nil, err
			}
		case it[0] == '{':
			out = append(out, it...)
		default:
			return nil, fmt.Errorf("unexpected item %.20q", it)
		}
	}
	return append(out, ']'), nil
}

// patchObject appends object bv with the values of patch p's members
// replaced; p must patch element n (0 for a member).
func patchObject(out, p, bv []byte, n int) ([]byte, error) {
	pm, err := parseObject(p)
	if err != nil {
		return nil, err
	}
	if got, err := ref(pm[0].val); err != nil || got != n {
		return nil, fmt.Errorf("a patch of %.20q, not of %d", pm[0].val, n)
	}
	bm, err := parseObject(bv)
	if err != nil {
		return nil, err
	}
	out = append(out, '{')
	used := 0
	for i, m := range bm {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(out, m.key...), ':')
		v := m.val
		for _, o := range pm[1:] {
			if bytes.Equal(o.key, m.key) {
				v = o.val
				used++
				break
			}
		}
		out = append(out, v...)
	}
	if used != len(pm)-1 {
		return nil, errors.New("a patch replaces a member the base lacks, or one twice")
	}
	return append(out, '}'), nil
}
