package receivertest

import (
	"slices"
	"testing"

	"github.com/guardd/guardd/internal/rules"
)

// TestFindingsCoverEveryRule keeps the representative findings in step with
// the rules: a new rule needs a finding here, and so a golden message in
// every receiver.
func TestFindingsCoverEveryRule(t *testing.T) {
	want := rules.New(rules.DefaultParams()).Names()
	slices.Sort(want)
	var got []string
	for _, n := range Findings() {
		got = append(got, n.Finding.Rule)
		if n.Finding.Summary == "" || n.Finding.Account == "" || n.Finding.Entity == "" || n.Finding.Severity.Rank() == 0 {
			t.Errorf("finding %s: got an incomplete finding %+v", n.Finding.Rule, n.Finding)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got findings for\n%q\nwant one per rule, in name order:\n%q", got, want)
	}
}
