// Package suggest finds the word a user most likely meant when they typed
// one guardd does not know: the "did you mean" of unknown commands, config
// keys and rule names. It is bounded and deterministic: a word gets at most
// one suggestion, always the same one.
package suggest

import (
	"strconv"
	"strings"
)

// Closest returns the candidate the user most likely meant by word, and
// whether one is close enough to suggest. Case and the choice between "-"
// and "_" do not count; otherwise a candidate is close when it is at most
// two edits away (one for words of up to five letters), an edit being an
// insertion, a deletion, a substitution or a swap of two neighbours. The
// nearest wins, the first in candidates' order on a tie. Failing that, a
// candidate that is the only one to start with word (of three letters or
// more) is suggested: "val" means "validate".
func Closest(word string, candidates []string) (string, bool) {
	w := fold(word)
	limit := 1
	if len([]rune(w)) > 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == word {
			continue
		}
		if d := distance(w, fold(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best, true
	}
	if len([]rune(w)) < 3 {
		return "", false
	}
	for _, c := range candidates {
		if c != word && strings.HasPrefix(fold(c), w) {
			if best != "" {
				return "", false // ambiguous
			}
			best = c
		}
	}
	return best, best != ""
}

// DidYouMean returns ` (did you mean "x"?)` with the candidate Closest finds
// for word, or "" when none is close.
func DidYouMean(word string, candidates []string) string {
	if c, ok := Closest(word, candidates); ok {
		return " (did you mean " + strconv.Quote(c) + "?)"
	}
	return ""
}

func fold(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }

// distance is the optimal string alignment distance between a and b: the
// edits of Closest, each substring edited at most once.
func distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows of the dynamic programme: two back, one back, current.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}

// Unknown says that word is not one of known, what they are ("rule"):
// `unknown rule "x" (did you mean "y"?)` when one is close, else
// `unknown rule "x" (want one of a, b, c)`.
func Unknown(what, word string, known []string) string {
	if c, ok := Closest(word, known); ok {
		return "unknown " + what + " " + strconv.Quote(word) + " (did you mean " + strconv.Quote(c) + "?)"
	}
	return "unknown " + what + " " + strconv.Quote(word) + " (want one of " + strings.Join(known, ", ") + ")"
}
