package suggest

import "testing"

func TestClosest(t *testing.T) {
	commands := []string{"replay", "check", "run", "status", "silence", "record", "validate", "test", "receipts", "notify", "version", "help"}
	rules := []string{"recharge-burst", "recharge-above-threshold", "recharge-while-grant-credit", "phantom-balance", "runway-low", "source-blind"}
	keys := []string{"name", "provider", "currency", "threshold", "window", "channel", "schedule"}
	for _, c := range []struct {
		name, word string
		candidates []string
		want       string // "" for no suggestion
	}{
		{"swapped letters", "stauts", commands, "status"},
		{"missing letter", "statu", commands, "status"},
		{"extra letter", "checkk", commands, "check"},
		{"wrong letter", "chrck", commands, "check"},
		{"case", "Status", commands, "status"},
		{"two edits in a long word", "valdiat", commands, "validate"},
		{"two edits in a short word is too far", "chk", commands, ""},
		{"unique prefix", "val", commands, "validate"},
		{"ambiguous prefix", "rec", commands, ""},
		{"prefix needs three letters", "va", commands, ""},
		{"nearest wins over a prefix", "silenc", commands, "silence"},
		{"tie goes to the first candidate", "rn", []string{"run", "rm"}, "run"},
		{"nothing close", "frobnicate", commands, ""},
		{"the word itself is not a suggestion", "run", []string{"run"}, ""},
		{"underscores for dashes", "recharge_burst", rules, "recharge-burst"},
		{"dashes for underscores", "recharge-burst", []string{"recharge_burst"}, "recharge_burst"},
		{"rule typo", "recharge-brust", rules, "recharge-burst"},
		{"rule prefix", "phantom", rules, "phantom-balance"},
		{"config key typo", "treshold", keys, "threshold"},
		{"config key missing letter", "windw", keys, "window"},
		{"config key unrelated", "colour", keys, ""},
		{"no candidates", "x", nil, ""},
		{"empty word", "", commands, ""},
		{"non-ASCII", "währung", []string{"wahrung"}, "wahrung"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Closest(c.word, c.candidates)
			if got != c.want || ok != (c.want != "") {
				t.Errorf("Closest(%q): got %q, %v; want %q", c.word, got, ok, c.want)
			}
		})
	}
}

func TestDidYouMean(t *testing.T) {
	if got, want := DidYouMean("stauts", []string{"status"}), ` (did you mean "status"?)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := DidYouMean("frobnicate", []string{"status"}); got != "" {
		t.Errorf("got %q, want none", got)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"abc", "abc", 0},
		{"ab", "ba", 1}, {"abcd", "acbd", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3},
	} {
		if got := distance(c.a, c.b); got != c.want {
			t.Errorf("distance(%q, %q): got %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestUnknown(t *testing.T) {
	known := []string{"recharge-burst", "phantom-balance"}
	for _, c := range []struct{ word, want string }{
		{"recharge-brust", `unknown rule "recharge-brust" (did you mean "recharge-burst"?)`},
		{"nope", `unknown rule "nope" (want one of recharge-burst, phantom-balance)`},
	} {
		if got := Unknown("rule", c.word, known); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
