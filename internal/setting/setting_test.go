package setting_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/setting"
	"gopkg.in/yaml.v3"
)

// block is a component's configuration as the package expects one.
type block struct {
	Timeout setting.Duration `yaml:"timeout"`
	Limit   setting.Amount   `yaml:"limit"`
	Count   setting.Count    `yaml:"count" min:"2" max:"9"`
	Polls   setting.Count    `yaml:"polls" min:"1"`
	Max     setting.Count    `yaml:"max" hint:"0 turns it off"`
	Name    setting.Text     `yaml:"name"`
	On      setting.Bool     `yaml:"on"`
	URL     setting.URL      `yaml:"url" example:"https://api.example.com" creds:"use key_env or key_file"`
	File    setting.Path     `yaml:"file"`
	Key     setting.Secret   `yaml:"key"`
	To      []setting.Text   `yaml:"to"`
	Nested  *struct {
		Per setting.Duration `yaml:"per"`
	} `yaml:"nested"`
	Shared `yaml:",inline"`
	// runtime is not configuration: no tag, no key.
	runtime int
}

type Shared struct {
	Base setting.URL `yaml:"base"`
}

func defaults() *block {
	return &block{Timeout: setting.DurationOf(30 * time.Second), Count: setting.CountOf(3),
		Key: setting.Secret{Spec: &setting.SecretSpec{Noun: "key", What: "the example key, which reads things",
			Pasted: func(s string) bool { return strings.HasPrefix(s, "sk-") }}}}
}

func decode(t *testing.T, text string, env map[string]string) (*block, []setting.Problem) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		t.Fatal(err)
	}
	d := &setting.Decoder{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Dir: "/etc/guardd"}
	p := setting.NewProblems("parts[0]")
	setting.CheckDuplicates(p, &root)
	b := defaults()
	d.Decode(p, &root, b, setting.Options{Ignore: []string{"type"}})
	ps := p.List()
	setting.Sort(ps, func(setting.Problem) bool { return false })
	return b, ps
}

func messages(ps []setting.Problem) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return strings.Join(out, "\n")
}

func TestDecodeValues(t *testing.T) {
	b, ps := decode(t, `
type: ignored
timeout: 5s
limit: 12345678901234567.891
count: 4
polls: 1
max: 0
name: " as written "
on: TRUE
url: https://api.example.com/v1/
file: keys/x
key_env: EXAMPLE_KEY
to: [a, b]
nested: {per: 1h}
base: http://127.0.0.1:8080
`, map[string]string{"EXAMPLE_KEY": "  k-123\n"})
	if len(ps) > 0 {
		t.Fatalf("problems: %s", messages(ps))
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"timeout", b.Timeout.Duration, 5 * time.Second},
		{"limit exact", b.Limit.String(), "12345678901234567.891"},
		{"count", b.Count.N, 4},
		{"polls", b.Polls.N, 1},
		{"name as written", b.Name.S, " as written "},
		{"bool", b.On.B, true},
		{"url without trailing slash", b.URL.S, "https://api.example.com/v1"},
		{"path resolved", b.File.Name, filepath.Join("/etc/guardd", "keys/x")},
		{"path as written", b.File.Text, "keys/x"},
		{"secret", b.Key.Value.Reveal(), "k-123"},
		{"secret from", b.Key.From(), "$EXAMPLE_KEY"},
		{"list", len(b.To), 2},
		{"list item path", b.To[1].Path, "parts[0].to[1]"},
		{"nested", b.Nested.Per.Duration, time.Hour},
		{"inline", b.Base.S, "http://127.0.0.1:8080"},
		{"leaf path", b.Timeout.Path, "parts[0].timeout"},
		{"leaf line", b.Timeout.Line, 3},
		{"set", b.Timeout.IsSet(), true},
		{"unset keeps default", b.Polls.IsSet() && !defaults().Polls.IsSet(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	if b, _ := decode(t, "name: x\n", nil); b.Timeout.Duration != 30*time.Second || b.Timeout.IsSet() {
		t.Errorf("missing key: got %v (set %v), want the default 30s unset", b.Timeout.Duration, b.Timeout.IsSet())
	}
	if b, _ := decode(t, "timeout:\n", nil); b.Timeout.Duration != 30*time.Second {
		t.Errorf("null value: got %v, want the default", b.Timeout.Duration)
	}
}

func TestDecodeProblems(t *testing.T) {
	_, ps := decode(t, `
timeout: 7 days
limit: -1
count: 1
polls: 0
max: -1
on: yes
url: https://user:pw@api.example.com
base: https://api.example.com/?token=sk-SECRET
key_env: sk-PASTED
`, nil)
	want := `parts[0].timeout: invalid duration "7 days" (want a number and a unit, s, m, h or d, such as "30s")
parts[0].limit: must not be negative (got -1)
parts[0].count: must be between 2 and 9 (got 1)
parts[0].polls: must be at least 1 (got 0)
parts[0].max: must not be negative (got -1; 0 turns it off)
parts[0].on: invalid boolean "yes" (want true or false)
parts[0].url: must not hold credentials (user:password@): use key_env or key_file
parts[0].base: must not have a query or fragment
parts[0].key_env: is not an environment variable name (it names the variable holding the key; never put the key itself in the file)`
	if got := messages(ps); got != want {
		t.Errorf("problems:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(messages(ps), "SECRET") || strings.Contains(messages(ps), "PASTED") || strings.Contains(messages(ps), "pw@") {
		t.Errorf("a problem quotes a secret:\n%s", messages(ps))
	}

	// A URL that is not one is quoted without its query, and a long value
	// only in part.
	_, ps = decode(t, "url: api.example.com/v1#k=sk-SECRET\ntimeout: "+strings.Repeat("9", 500)+"\n", nil)
	want = `parts[0].url: invalid URL "api.example.com/v1?…" (want an absolute http(s) URL such as https://api.example.com)
parts[0].timeout: invalid duration "` + strings.Repeat("9", 79) + `…" (want a number and a unit, s, m, h or d, such as "30s")`
	if got := messages(ps); got != want {
		t.Errorf("problems:\ngot:\n%s\nwant:\n%s", got, want)
	}

	_, ps = decode(t, "key_env: UNSET\n", nil)
	if got, want := messages(ps), "parts[0].key_env: environment variable UNSET is not set; it must hold the example key, which reads things"; got != want {
		t.Errorf("unset variable: got %q, want %q", got, want)
	}
	_, ps = decode(t, "key_env: A\nkey_file: b\n", map[string]string{"A": "k"})
	if got, want := messages(ps), "parts[0]: set only one of key_env and key_file"; got != want {
		t.Errorf("both: got %q, want %q", got, want)
	}
}

// TestDecodeShape checks that a key no field takes and a value of the wrong
// shape are problems of the YAML's shape, which hide the others.
func TestDecodeShape(t *testing.T) {
	_, ps := decode(t, `
timeout: 7d
colour: red
to: a
nested: [x]
count: [1]
runtime: 3
name: a
name: b
`, nil)
	want := `line 3: unknown key "colour"
parts[0].to: got a string, want a list
parts[0].nested: got a list, want a mapping
parts[0].count: got a list, want a single value
line 7: unknown key "runtime"
line 9: mapping key "name" already defined at line 8`
	got := messages(ps)
	if got != want {
		t.Errorf("problems:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestDecodeAliasesAndMerges(t *testing.T) {
	b, ps := decode(t, `
shared: &s {timeout: 5s, count: 5}
`, nil)
	_ = b
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, `unknown key "shared"`) {
		t.Fatalf("got %s, want only the unknown key", messages(ps))
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("base: &b {timeout: 5s, count: 5}\nblock:\n  <<: *b\n  count: 6\n  name: *n\nn: &n x\n"), &root); err == nil {
		t.Fatal("yaml accepted an alias before its anchor")
	}
	if err := yaml.Unmarshal([]byte("base: &b {timeout: 5s, count: 5}\nname: &n x\nblock:\n  <<: *b\n  count: 6\n  name: *n\n"), &root); err != nil {
		t.Fatal(err)
	}
	p := setting.NewProblems("block")
	d := &setting.Decoder{Getenv: func(string) (string, bool) { return "", false }}
	blk := defaults()
	d.Decode(p, setting.Mapping(&root, "block"), blk, setting.Options{})
	if len(p.List()) > 0 {
		t.Fatalf("problems: %s", messages(p.List()))
	}
	if blk.Timeout.Duration != 5*time.Second || blk.Count.N != 6 || blk.Name.S != "x" {
		t.Errorf("merge: got timeout %v count %d name %q, want 5s (merged), 6 (own), x (alias)", blk.Timeout.Duration, blk.Count.N, blk.Name.S)
	}
}

func TestEncode(t *testing.T) {
	b, ps := decode(t, "limit: \"5.00\"\nkey_env: K\nto: [a]\nnested: {per: 90m}\n", map[string]string{"K": "k-secret-value"})
	if len(ps) > 0 {
		t.Fatal(messages(ps))
	}
	out, err := yaml.Marshal(setting.Encode(b))
	if err != nil {
		t.Fatal(err)
	}
	want := `timeout: 30s
limit: "5.00"
count: 3
polls: 0
max: 0
on: false
key_env: K
to:
    - a
nested:
    per: 1h30m
`
	if string(out) != want {
		t.Errorf("Encode:\ngot:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(string(out), "secret-value") {
		t.Errorf("Encode shows the secret")
	}
}

// TestSecretsNeverPrinted prints a decoded block every way fmt can: a
// secret inside a struct reached through a pointer (which fmt prints
// without calling String when the verb does not fit) must not show.
func TestSecretsNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("k-FILEsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("key_file: key\n"), &root); err != nil {
		t.Fatal(err)
	}
	d := &setting.Decoder{Getenv: func(string) (string, bool) { return "", false }, Dir: dir}
	b := defaults()
	p := setting.NewProblems("")
	d.Decode(p, &root, b, setting.Options{})
	if len(p.List()) > 0 || b.Key.Value.Reveal() != "k-FILEsecret" {
		t.Fatalf("got %s, key %d bytes", messages(p.List()), len(b.Key.Value.Reveal()))
	}
	holder := struct{ Parts []any }{Parts: []any{b, *b}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if s := fmt.Sprintf(verb, holder); strings.Contains(s, "FILEsecret") || strings.Contains(s, "46494c45") {
			t.Errorf("%s shows the secret: %s", verb, s)
		}
	}
}

func TestCheckHost(t *testing.T) {
	for _, tc := range []struct{ in, want, host string }{
		{" smtp.example.com ", "", "smtp.example.com"},
		{"::1", "", "::1"},
		{"", "parts[0].host: is required: the SMTP server's host name, such as smtp.example.com", ""},
		{"smtps://smtp.example.com", `parts[0].host: invalid host "smtps://smtp.example.com": want a host name only, such as smtp.example.com`, ""},
		{"me@smtp.example.com", `parts[0].host: invalid host "me@smtp.example.com": want a host name only, such as smtp.example.com`, ""},
		{"smtp.example.com:465", `parts[0].host: invalid host "smtp.example.com:465": want a host name without a port (set port)`, ""},
	} {
		p := setting.NewProblems("parts[0]")
		h := setting.Text{S: tc.in, Pos: setting.Pos{Path: "parts[0].host"}}
		ok := h.CheckHost(p, "host", "the SMTP server", "smtp.example.com")
		if got := messages(p.List()); got != tc.want || ok != (tc.want == "") || (ok && h.S != tc.host) {
			t.Errorf("CheckHost(%q): got %v, %q, %q; want %q", tc.in, ok, h.S, got, tc.want)
		}
	}
}

// A secret the decoder is told not to read keeps where it is kept and is
// not zero, but holds no value, and its variable need not be set; a
// pasted secret is still refused.
func TestSecretNotRead(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"key_env: UNSET_KEY", ""},
		{"key_file: /nowhere/key", ""},
		{"key_env: sk-pasted-secret-123", "parts[0].key_env: is not an environment variable name"},
	} {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(tt.text), &root); err != nil {
			t.Fatal(err)
		}
		var asked []string
		d := &setting.Decoder{Getenv: func(string) (string, bool) { return "x", true }, Dir: "/etc/guardd",
			Reads: func(path string) bool { asked = append(asked, path); return false }}
		p := setting.NewProblems("parts[0]")
		b := defaults()
		d.Decode(p, &root, b, setting.Options{})
		got := messages(p.List())
		if tt.want == "" {
			if got != "" || b.Key.IsZero() || !b.Key.Value.IsZero() || b.Key.From() == "nowhere" {
				t.Errorf("%s: problems %q, secret %+v: want it kept unread", tt.text, got, b.Key)
			}
		} else if !strings.Contains(got, tt.want) {
			t.Errorf("%s: problems %q, want %q", tt.text, got, tt.want)
		}
		if tt.want == "" && (len(asked) != 1 || !strings.HasPrefix(asked[0], "parts[0].key_")) {
			t.Errorf("%s: Reads asked about %q, want the secret's path", tt.text, asked)
		}
	}
}

// TestUnknownKeySuggests checks that an unknown key names the key it most
// likely means among those taken where it was written: the block's own,
// those it leaves to others, a nested block's, a secret's two forms.
func TestUnknownKeySuggests(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"field", "timout: 5s", `line 1: unknown key "timout" (did you mean "timeout"?)`},
		{"ignored key", "typ: x", `line 1: unknown key "typ" (did you mean "type"?)`},
		{"inline field", "bse: https://x.example", `line 1: unknown key "bse" (did you mean "base"?)`},
		{"nested block", "nested: {pr: 1h}", `line 1: unknown key "pr" (did you mean "per"?)`},
		{"secret", "key_evn: K", `line 1: unknown key "key_evn" (did you mean "key_env"?)`},
		{"nested key not offered at the top", "per: 1h", `line 1: unknown key "per"`},
		{"nothing close", "colour: red", `line 1: unknown key "colour"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ps := decode(t, c.yaml, nil)
			if got := messages(ps); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestParseDuration checks the one duration syntax of the config and the
// command line: Go's, plus days of 24 hours.
func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		text string
		want time.Duration
		err  string // "" when it parses
	}{
		{"30s", 30 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"168h", 7 * 24 * time.Hour, ""},
		{"2d", 48 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"12h1d", 36 * time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{"1d30m15s", 24*time.Hour + 30*time.Minute + 15*time.Second, ""},
		{" 7d ", 7 * 24 * time.Hour, ""},
		{"-1d", -24 * time.Hour, ""},
		{"+2d", 48 * time.Hour, ""},
		{"0d", 0, ""},
		{"7 days", 0, `invalid duration "7 days" (want a number and a unit, s, m, h or d, such as "6h")`},
		{"d", 0, `invalid duration "d"`},
		{"5", 0, `invalid duration "5"`},
		{"1dd", 0, `invalid duration "1dd"`},
		{"1d-2h", 0, `invalid duration "1d-2h"`},
		{"1.2.3d", 0, `invalid duration "1.2.3d"`},
		{"200000d", 0, `invalid duration "200000d"`},
		{"100000d100000d", 0, `invalid duration "100000d100000d"`},
		{"", 0, `invalid duration ""`},
	} {
		t.Run(c.text, func(t *testing.T) {
			got, err := setting.ParseDuration(c.text, "")
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("got error %v, want %s", err, c.want)
			case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
				t.Fatalf("got %s, %v; want error %q", got, err, c.err)
			case got != c.want:
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
	if _, err := setting.ParseDuration("soon", "24h"); err == nil || !strings.Contains(err.Error(), `such as "24h"`) {
		t.Errorf("got %v, want the example given", err)
	}
}

func TestDecodeDays(t *testing.T) {
	b, ps := decode(t, "timeout: 1d12h\nnested: {per: 7d}", nil)
	if len(ps) > 0 || b.Timeout.Duration != 36*time.Hour || b.Nested.Per.Duration != 7*24*time.Hour {
		t.Errorf("got %v and %v, %s; want 36h and 168h", b.Timeout.Duration, b.Nested.Per.Duration, messages(ps))
	}
}

// tuning has the leaves that turn something off.
type tuning struct {
	Every setting.Interval `yaml:"every"`
}

func decodeTuning(t *testing.T, text string) (tuning, string) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		t.Fatal(err)
	}
	v := tuning{Every: setting.IntervalOf(24 * time.Hour)}
	p := setting.NewProblems("poll")
	(&setting.Decoder{}).Decode(p, &root, &v, setting.Options{})
	return v, messages(p.List())
}

func TestInterval(t *testing.T) {
	for _, tt := range []struct {
		yaml, want string
		every      time.Duration
	}{
		{"{}\n", "", 24 * time.Hour},
		{"every: 0\n", "", 0},
		{"every: 2d\n", "", 48 * time.Hour},
		{"every: -1h\n", "poll.every: must not be negative (got -1h; 0 turns it off)", 24 * time.Hour},
		{"every: daily\n", `poll.every: invalid duration "daily" (want a number and a unit, s, m, h or d, such as "24h"), or 0 for never`, 24 * time.Hour},
	} {
		if v, got := decodeTuning(t, tt.yaml); got != tt.want || v.Every.Duration != tt.every {
			t.Errorf("%q: got %s and problems\n%s\nwant %s and\n%s", tt.yaml, v.Every.Duration, got, tt.every, tt.want)
		}
	}
	for _, tt := range []struct{ yaml, want string }{{"every: 0\n", "every: 0\n"}, {"every: 36h\n", "every: 36h\n"}} {
		v, _ := decodeTuning(t, tt.yaml)
		if out, err := yaml.Marshal(setting.Encode(&v)); err != nil || string(out) != tt.want {
			t.Errorf("encoded %q: got %q (%v), want %q", tt.yaml, out, err, tt.want)
		}
	}
}

// caps is a map of leaves, the names its keys checked by the caller.
type caps struct {
	Caps map[string]setting.Count `yaml:"caps" min:"1" max:"8"`
}

func TestMap(t *testing.T) {
	decodeCaps := func(text string) (caps, string) {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(text), &root); err != nil {
			t.Fatal(err)
		}
		var v caps
		p := setting.NewProblems("poll")
		(&setting.Decoder{}).Decode(p, &root, &v, setting.Options{})
		return v, messages(p.List())
	}
	v, problems := decodeCaps("caps: {openai: 3, deepseek: 8}\n")
	if problems != "" || len(v.Caps) != 2 || v.Caps["openai"].N != 3 || v.Caps["deepseek"].Path != "poll.caps.deepseek" ||
		v.Caps["deepseek"].Line != 1 {
		t.Errorf("got %+v (%s), want openai 3 and deepseek 8 at their paths", v, problems)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"caps: {openai: 0, x: 9}\n", "poll.caps.openai: must be between 1 and 8 (got 0)\npoll.caps.x: must be between 1 and 8 (got 9)"},
		{"caps: [openai]\n", "poll.caps: got a list, want a mapping"},
		{"caps: {openai: [1]}\n", "poll.caps.openai: got a list, want a single value"},
	} {
		if _, got := decodeCaps(tt.yaml); got != tt.want {
			t.Errorf("%q: got problems\n%s\nwant\n%s", tt.yaml, got, tt.want)
		}
	}
	out, err := yaml.Marshal(setting.Encode(&v))
	if err != nil {
		t.Fatal(err)
	}
	if want := "caps:\n    deepseek: 8\n    openai: 3\n"; string(out) != want {
		t.Errorf("encoded:\n%s\nwant\n%s", out, want)
	}
	if out, _ := yaml.Marshal(setting.Encode(&caps{})); string(out) != "{}\n" {
		t.Errorf("encoded empty: got %q, want it left out", out)
	}
}
