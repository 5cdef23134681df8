package setting

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/guardd/guardd/internal/suggest"
	"gopkg.in/yaml.v3"
)

// Decoder reads blocks of a YAML tree into structs of leaves, strictly: a
// key no field takes is a problem, and so is a list where a value belongs.
// It walks the tree itself rather than calling yaml.v3's Node.Decode, which
// drops KnownFields (go-yaml/yaml issue 460), and so that each leaf knows
// its path and line.
//
// A struct's fields are its exported fields with a yaml tag: a leaf
// (Duration, Interval, Amount, Count, Text, Path, URL), a Secret (written
// as <key>_env or <key>_file), a struct or pointer to one (a nested
// mapping), a slice of those (a list), a map from names to those (a
// mapping whose keys the caller checks), or a struct tagged ",inline" whose
// keys sit beside the others.
type Decoder struct {
	// Getenv looks up the environment variables secrets name.
	Getenv func(string) (string, bool)
	// Dir is the directory relative paths resolve against.
	Dir string
	// Reads, when set, reports whether the secret set at path
	// ("accounts[0].admin_key_env") is read. One that is not keeps where
	// it would be read from (not IsZero) without its value: commands that
	// do not use a secret do not need it. Nil reads every secret.
	Reads func(path string) bool
}

// Options tune one Decode.
type Options struct {
	// Ignore lists keys of the block that belong to someone else (such as
	// a source's type).
	Ignore []string
	// Unknown reports a key of the block that no field takes; known lists
	// the keys the block does take (with Ignore's). nil records `unknown
	// key "k"` at the key's line, with the known key it most likely means.
	// Keys of nested blocks are always reported that way.
	Unknown func(p *Problems, key *yaml.Node, known []string)
}

// Decode fills v (a pointer to a struct) from the mapping n, the block at
// p's base path. A missing or null key leaves its field as it was: fill v
// with defaults first.
func (d *Decoder) Decode(p *Problems, n *yaml.Node, v any, o Options) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("setting: Decode into %T, want a pointer to a struct", v))
	}
	d.walk(p, p.base, n, rv.Elem(), reflect.StructField{}, &o)
}

func (d *Decoder) walk(p *Problems, path string, n *yaml.Node, v reflect.Value, f reflect.StructField, top *Options) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if l, ok := v.Addr().Interface().(leaf); ok {
		if n.Kind != yaml.ScalarNode {
			p.shape(path, n.Line, n.Column, "got %s, want a single value", nodeWord(n))
			return
		}
		at := l.pos()
		*at = Pos{Path: path, Line: n.Line, Column: n.Column, Text: n.Value, set: true}
		if msg := l.parse(n.Value, d, f); msg != "" {
			p.At(*at, "%s", msg)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.walk(p, path, n, v.Elem(), f, top)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.shape(path, n.Line, n.Column, "got %s, want a list", nodeWord(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		// The items take the list's tags (a list of URLs its example).
		for i, c := range n.Content {
			d.walk(p, fmt.Sprintf("%s[%d]", path, i), c, s.Index(i), f, nil)
		}
		v.Set(s)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.shape(path, n.Line, n.Column, "got %s, want a mapping", nodeWord(n))
			return
		}
		d.mapping(p, path, n, v, top)
	case reflect.Map:
		if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
			p.shape(path, n.Line, n.Column, "got %s, want a mapping", nodeWord(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		// The values take the map's tags, as a list's items do.
		for _, kv := range pairs(n) {
			k := reflect.ValueOf(kv[0].Value).Convert(v.Type().Key())
			e := reflect.New(v.Type().Elem()).Elem()
			if old := v.MapIndex(k); old.IsValid() {
				e.Set(old)
			}
			d.walk(p, Join(path, kv[0].Value), kv[1], e, f, nil)
			v.SetMapIndex(k, e)
		}
	default:
		panic(fmt.Sprintf("setting: cannot decode into %s at %s", v.Type(), path))
	}
}

// mapping fills the struct v from the mapping n.
func (d *Decoder) mapping(p *Problems, path string, n *yaml.Node, v reflect.Value, top *Options) {
	fields := fieldsOf(v.Type())
	type given struct{ key, val *yaml.Node }
	secrets := make(map[string][]given) // by the secret's key, in file order
	var secretOrder []string
	for _, kv := range pairs(n) {
		k := kv[0].Value
		if top != nil && contains(top.Ignore, k) {
			continue
		}
		fi, ok := fields.byKey[k]
		switch {
		case !ok && top != nil && top.Unknown != nil:
			top.Unknown(p, kv[0], known(fields, top))
		case !ok:
			p.Unknown(kv[0], known(fields, top))
		case fi.secret != "":
			if _, seen := secrets[fi.secret]; !seen {
				secretOrder = append(secretOrder, fi.secret)
			}
			secrets[fi.secret] = append(secrets[fi.secret], given{kv[0], kv[1]})
		default:
			d.walk(p, Join(path, k), kv[1], v.FieldByIndex(fi.index), fi.field, nil)
		}
	}
	for _, key := range secretOrder {
		gs := secrets[key]
		s := v.FieldByIndex(fields.byKey[key+"_env"].index).Addr().Interface().(*Secret)
		if len(gs) > 1 {
			// Given, if twice: a message about a missing secret would mislead.
			s.Pos = Pos{Path: Join(path, gs[0].key.Value), Line: gs[0].key.Line, Column: gs[0].key.Column, set: true}
			(&Problems{base: path, list: p.list}).Add("", "set only one of %s_env and %s_file", key, key)
			continue
		}
		val := resolve(gs[0].val)
		k := gs[0].key.Value
		if val.Kind != yaml.ScalarNode {
			p.shape(Join(path, k), val.Line, val.Column, "got %s, want a single value", nodeWord(val))
			continue
		}
		s.Pos = Pos{Path: Join(path, k), Line: val.Line, Column: val.Column, Text: val.Value, set: true}
		if msg := s.read(val.Value, strings.HasSuffix(k, "_file"), d); msg != "" {
			p.At(s.Pos, "%s", msg)
		}
	}
}

// known lists the keys a block takes: its fields' and those it leaves to
// someone else.
func known(fields *fieldSet, top *Options) []string {
	if top == nil {
		return fields.keys
	}
	return append(slices.Clone(fields.keys), top.Ignore...)
}

// CheckDuplicates reports every key written twice in one mapping of the
// tree under n (yaml.v3 reports them only when decoding into Go values).
func CheckDuplicates(p *Problems, n *yaml.Node) {
	if n == nil || n.Kind == yaml.AliasNode {
		return
	}
	if n.Kind == yaml.MappingNode {
		first := make(map[string]int)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Tag == "!!merge" {
				continue
			}
			if line, ok := first[k.Value]; ok {
				p.shape("", k.Line, k.Column, "mapping key %q already defined at line %d", k.Value, line)
			} else {
				first[k.Value] = k.Line
			}
		}
	}
	for _, c := range n.Content {
		CheckDuplicates(p, c)
	}
}

// Keys returns the keys a struct of type t takes, in field order (a
// Secret's as <key>_env and <key>_file).
func Keys(t reflect.Type) []string { return fieldsOf(t).keys }

type fieldInfo struct {
	index []int
	field reflect.StructField
	// secret is the key of the Secret this key reads, or "".
	secret string
}

type fieldSet struct {
	byKey map[string]fieldInfo
	keys  []string
}

var fieldCache sync.Map // reflect.Type → *fieldSet

var secretType = reflect.TypeFor[Secret]()

func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byKey: make(map[string]fieldInfo)}
	var add func(t reflect.Type, index []int)
	add = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, ok := sf.Tag.Lookup("yaml")
			if !ok || tag == "-" || !sf.IsExported() {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			name, opts, _ := strings.Cut(tag, ",")
			if opts == "inline" {
				add(sf.Type, idx)
				continue
			}
			if sf.Type == secretType {
				for _, k := range []string{name + "_env", name + "_file"} {
					fs.byKey[k] = fieldInfo{index: idx, field: sf, secret: name}
					fs.keys = append(fs.keys, k)
				}
				continue
			}
			fs.byKey[name] = fieldInfo{index: idx, field: sf}
			fs.keys = append(fs.keys, name)
		}
	}
	add(t, nil)
	fieldCache.Store(t, fs)
	return fs
}

// pairs returns a mapping's key and value nodes, with merged mappings
// ("<<: *defaults") first so that the mapping's own keys override them.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var merged, own [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Tag == "") {
			srcs := []*yaml.Node{resolve(val)}
			if srcs[0].Kind == yaml.SequenceNode {
				srcs = srcs[0].Content
			}
			for _, s := range srcs {
				if s = resolve(s); s.Kind == yaml.MappingNode {
					merged = append(merged, pairs(s)...)
				}
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, val})
	}
	if len(merged) == 0 {
		return own
	}
	out := make([][2]*yaml.Node, 0, len(merged)+len(own))
	for _, m := range merged {
		if !containsKey(own, m[0].Value) && !containsKey(out, m[0].Value) {
			out = append(out, m)
		}
	}
	return append(out, own...)
}

func containsKey(ps [][2]*yaml.Node, k string) bool {
	for _, p := range ps {
		if p[0].Value == k {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// resolve follows aliases and steps into a document.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// Mapping returns the value of key in the mapping n, or nil when it is
// missing or null.
func Mapping(n *yaml.Node, key string) *yaml.Node {
	if n = resolve(n); n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for _, kv := range pairs(n) {
		if kv[0].Value == key {
			if v := resolve(kv[1]); v != nil && !isNull(v) {
				return v
			}
			return nil
		}
	}
	return nil
}

// Unknown records that no one takes key: a problem with the YAML's shape.
// known lists the keys taken where it was written; the message suggests the
// one it most likely means.
func (p *Problems) Unknown(key *yaml.Node, known []string) {
	p.shape("", key.Line, key.Column, "unknown key %q%s", key.Value, suggest.DidYouMean(key.Value, known))
}

// Pairs returns the key and value nodes of the mapping n (none for
// anything else).
func Pairs(n *yaml.Node) [][2]*yaml.Node {
	if n = resolve(n); n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	return pairs(n)
}

// Shape reports whether n (unless missing or null) is of kind want,
// recording a problem at path otherwise.
func Shape(p *Problems, path string, n *yaml.Node, want yaml.Kind) bool {
	if n = resolve(n); n == nil || isNull(n) {
		return false
	}
	if n.Kind == want {
		return true
	}
	w := "a mapping"
	if want == yaml.SequenceNode {
		w = "a list"
	}
	p.shape(path, n.Line, n.Column, "got %s, want %s", nodeWord(n), w)
	return false
}

// Items returns the items of the list n (nil for a missing or null one).
func Items(n *yaml.Node) []*yaml.Node {
	if n = resolve(n); n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// nodeWord names a YAML node's kind for people.
func nodeWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	case "!!str":
		return "a string"
	}
	return "a value"
}

// Encode renders v (a struct, or a pointer to one) as a YAML mapping in the
// file's schema: each leaf as its text, each secret as the *_env or *_file
// setting it was read through, never its value. Empty texts, unset secrets,
// nil pointers and empty lists are left out, and so are structs whose Omit
// method reports true.
func Encode(v any) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	encodeStruct(out, reflect.Indirect(reflect.ValueOf(v)))
	return out
}

func encodeStruct(out *yaml.Node, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || tag == "-" || !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if opts == "inline" {
			encodeStruct(out, fv)
			continue
		}
		if s, ok := fv.Addr().Interface().(*Secret); ok {
			switch {
			case s.Env != "":
				out.Content = append(out.Content, str(name+"_env"), str(s.Env))
			case s.File != "":
				out.Content = append(out.Content, str(name+"_file"), str(s.File))
			}
			continue
		}
		if o, ok := fv.Addr().Interface().(omitter); ok && o.Omit() {
			continue
		}
		if n := encodeValue(fv); n != nil {
			out.Content = append(out.Content, str(name), n)
		}
	}
}

func encodeValue(v reflect.Value) *yaml.Node {
	if l, ok := v.Addr().Interface().(leaf); ok {
		s, tag, ok := l.format()
		if !ok {
			return nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return encodeValue(v.Elem())
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			if c := encodeValue(v.Index(i)); c != nil {
				n.Content = append(n.Content, c)
			}
		}
		return n
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		encodeStruct(n, v)
		return n
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range keys {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			if c := encodeValue(e); c != nil {
				n.Content = append(n.Content, str(k.String()), c)
			}
		}
		return n
	}
	panic(fmt.Sprintf("setting: cannot encode %s", v.Type()))
}

// omitter is a struct that a dump leaves out when Omit reports true (such
// as pacing that is off).
type omitter interface{ Omit() bool }

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// Scalar returns a string node, for callers building a mapping beside
// Encode's.
func Scalar(s string) *yaml.Node { return str(s) }

// Int returns an integer node.
func Int(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}
