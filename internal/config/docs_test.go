package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/setting"
)

// The checklists of docs/architecture.md, where a test can hold them: every
// part in a table has its documentation, its rule tests and its keys
// written down, and no document counts the parts by hand.

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// headings returns the level-2 headings of a Markdown document.
func headings(doc string) []string {
	var out []string
	for _, l := range strings.Split(doc, "\n") {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			out = append(out, h)
		}
	}
	return out
}

func hasHeading(doc, word string) bool {
	return slices.ContainsFunc(headings(doc), func(h string) bool { return strings.Contains(strings.ToLower(h), strings.ToLower(word)) })
}

func TestEveryRuleDocumentedAndTested(t *testing.T) {
	doc := readDoc(t, "docs/rules.md")
	example := readDoc(t, "config.example.yaml")
	var tests strings.Builder
	for _, pattern := range []string{"internal/rules/testdata/cases/*/test.yaml", "examples/*.test.yaml"} {
		files, err := filepath.Glob(filepath.Join("..", "..", pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("no rule tests at %s (%v)", pattern, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tests.Write(b)
		}
	}
	for _, r := range rules.DefaultParams().Rules {
		if !hasHeading(doc, r.Name()) {
			t.Errorf("docs/rules.md has no section for %s", r.Name())
		}
		if !strings.Contains(tests.String(), "rule: "+r.Name()+",") && !strings.Contains(tests.String(), "rule: "+r.Name()+"}") {
			t.Errorf("no rule test as data (internal/rules/testdata/cases or examples/*.test.yaml) expects %s", r.Name())
		}
		if keys := setting.Keys(reflectType(r)); len(keys) > 0 {
			if !strings.Contains(example, "  "+rules.Key(r)+":\n") {
				t.Errorf("config.example.yaml does not show rules.%s", rules.Key(r))
			}
			for _, k := range keys {
				if !strings.Contains(example, "    "+k+":") {
					t.Errorf("config.example.yaml does not show rules.%s.%s", rules.Key(r), k)
				}
			}
		}
	}
}

func TestEverySourceDocumented(t *testing.T) {
	doc := readDoc(t, "docs/providers.md")
	for _, k := range SourceKinds {
		if !strings.Contains(doc, "| `"+k.Name+"` |") {
			t.Errorf("docs/providers.md: the table of source types has no row for %s", k.Name)
		}
		if k.Provider != "" && !hasHeading(doc, "(`"+k.Name+"`)") {
			t.Errorf("docs/providers.md has no section for %s", k.Name)
		}
		for _, key := range setting.Keys(reflectType(k.Config())) {
			if !strings.Contains(doc, key) && !strings.Contains(doc, strings.TrimSuffix(strings.TrimSuffix(key, "_env"), "_file")+"_env`/`_file") {
				t.Errorf("docs/providers.md never names %s's key %s", k.Name, key)
			}
		}
	}
}

func TestEveryReceiverDocumented(t *testing.T) {
	doc := readDoc(t, "docs/receivers.md")
	for _, k := range ReceiverKinds {
		if !strings.Contains(doc, "| `"+k.Name+"`") {
			t.Errorf("docs/receivers.md: the table of receiver types has no row for %s", k.Name)
		}
		if !hasHeading(doc, k.Name) {
			t.Errorf("docs/receivers.md has no section for %s", k.Name)
		}
		for _, key := range setting.Keys(reflectType(k.Config())) {
			if !strings.Contains(doc, key) && !strings.Contains(doc, strings.TrimSuffix(strings.TrimSuffix(key, "_env"), "_file")+"_env`/`_file") {
				t.Errorf("docs/receivers.md never names %s's key %s", k.Name, key)
			}
		}
	}
	if want := "# " + setting.OrList(receivers.names()); !strings.Contains(doc, want) {
		t.Errorf("docs/receivers.md does not list the receiver types as %q", want)
	}
}

// TestReadmeCountsNothingByHand: README lists the rules in a table that must
// match the engine's, and never says how many of anything there are.
func TestReadmeCountsNothingByHand(t *testing.T) {
	readme := readDoc(t, "README.md")
	rowRE := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|")
	var listed []string
	for _, m := range rowRE.FindAllStringSubmatch(readme, -1) {
		listed = append(listed, m[1])
	}
	var want []string
	for _, r := range rules.DefaultParams().Rules {
		if r.Name() != "credit-without-charge" { // documented with charge-without-credit
			want = append(want, r.Name())
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("README's rule table:\ngot  %v\nwant %v", listed, want)
	}
	countRE := regexp.MustCompile(`(?i)\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|\d+)\s+(rules|providers|provider adapters|receivers|sources|source types|receiver types|commands)\b`)
	for _, doc := range []string{"README.md", "docs/architecture.md", "docs/rules.md", "docs/providers.md", "docs/receivers.md"} {
		if m := countRE.FindString(readDoc(t, doc)); m != "" {
			t.Errorf("%s counts by hand: %q (the tables are the count)", doc, m)
		}
	}
}

func TestEveryMailboxTypeDocumented(t *testing.T) {
	doc := readDoc(t, "docs/receipts.md")
	for _, k := range MailboxKinds {
		if !strings.Contains(doc, "type: "+k.Name) {
			t.Errorf("docs/receipts.md shows no %s mailbox", k.Name)
		}
		for _, key := range setting.Keys(reflectType(k.Config())) {
			if !strings.Contains(doc, key) {
				t.Errorf("docs/receipts.md never names %s's key %s", k.Name, key)
			}
		}
	}
	for _, key := range setting.Keys(reflectType(receiptsFile{})) {
		if !strings.Contains(doc, "  "+key+": ") {
			t.Errorf("docs/receipts.md does not show receipts.%s", key)
		}
	}
}

// TestEveryGlobalKeyInExample: config.example.yaml shows every key of the
// global sections (set, or commented out where it has no fixed default).
func TestEveryGlobalKeyInExample(t *testing.T) {
	example := readDoc(t, "config.example.yaml")
	g := reflect.TypeFor[Global]()
	for i := range g.NumField() {
		section := strings.Split(g.Field(i).Tag.Get("yaml"), ",")[0]
		if !regexp.MustCompile("(?m)^(# )?" + section + ":").MatchString(example) {
			t.Errorf("config.example.yaml does not show %s", section)
			continue
		}
		if g.Field(i).Type.Kind() != reflect.Struct || setting.Keys(g.Field(i).Type) == nil {
			continue
		}
		for _, k := range setting.Keys(g.Field(i).Type) {
			// A secret's <key>_file is the alternative named beside its
			// <key>_env: "or url_file: FILE".
			if strings.HasSuffix(k, "_file") && strings.Contains(example, "or "+k+": ") {
				continue
			}
			if !regexp.MustCompile("(?m)^(# ?)?  (# )?" + k + ":").MatchString(example) {
				t.Errorf("config.example.yaml does not show %s.%s", section, k)
			}
		}
	}
}
