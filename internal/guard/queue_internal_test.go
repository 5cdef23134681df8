package guard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The claim queue keeps the order the slice operations it replaced kept:
// a window's survivors stay in front, in order; a rotated window goes to
// the back, in order. Checked against those operations over random
// windows and drops, through many compactions; drop says how many of the
// window it kept (what the claim loop moves to the back).
func TestQueueKeepsOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		n := 1 + rnd.IntN(300)
		var q queue
		var want []string
		for i := range n {
			q.names = append(q.names, fmt.Sprint(i))
		}
		want = slices.Clone(q.names)
		for steps := 0; q.len() > 0; steps++ {
			if steps > 10*n {
				t.Fatalf("round %d: the queue does not empty", round)
			}
			window := 1 + rnd.IntN(12)
			win := q.front(window)
			if !slices.Equal(win, want[:min(window, len(want))]) {
				t.Fatalf("round %d: front %v, want %v", round, win, want[:min(window, len(want))])
			}
			if rnd.IntN(3) == 0 {
				k := min(window, len(want))
				q.rotate(window)
				want = slices.Concat(want[k:], want[:k])
			} else {
				gone := map[string]bool{}
				for _, a := range win {
					if rnd.IntN(2) == 0 {
						gone[a] = true
					}
				}
				wantKept := len(win) - len(gone)
				if kept := q.drop(len(win), gone); kept != wantKept {
					t.Fatalf("round %d: drop kept %d of the window, want %d", round, kept, wantKept)
				}
				want = slices.DeleteFunc(want, func(a string) bool { return gone[a] })
			}
			if got := q.front(q.len()); !slices.Equal(got, want) {
				t.Fatalf("round %d: queue %v, want %v", round, got, want)
			}
		}
	}
}
