package receipt

import (
	"regexp"
	"testing"
)

// The parser's expressions are compiled at first use: one that does not
// compile must fail here, not panic in the first mailbox read of a
// running guardd.
func TestPatternsCompile(t *testing.T) {
	if len(patterns) < 30 {
		t.Fatalf("%d patterns registered; the parser declares about forty", len(patterns))
	}
	for _, expr := range patterns {
		if _, err := regexp.Compile(expr); err != nil {
			t.Errorf("%.60q: %v", expr, err)
		}
	}
}
