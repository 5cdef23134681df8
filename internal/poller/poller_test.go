package poller_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
)

// held is a source whose fetches wait until the test lets them go; it
// counts its fetches in flight, and the most at once, per group.
type held struct {
	group    string
	started  chan<- string
	release  <-chan struct{}
	counters *inFlight
	fetched  int
}

type inFlight struct {
	mu       sync.Mutex
	now, max map[string]int
}

func (c *inFlight) add(group string, d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now[group] += d
	c.now[""] += d
	c.max[group] = max(c.max[group], c.now[group])
	c.max[""] = max(c.max[""], c.now[""])
}

func (s *held) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	s.fetched++
	s.counters.add(s.group, 1)
	defer s.counters.add(s.group, -1)
	s.started <- s.group
	select {
	case <-s.release:
	case <-ctx.Done():
		return billing.Observation{}, fmt.Errorf("%w: %w", poller.ErrUnavailable, ctx.Err())
	}
	return billing.Observation{At: now}, nil
}

// fleet returns targets of the groups given, in order (a group per
// target), and the channels their fetches report on and wait on; a closed
// release lets them all go.
func fleet(groups ...string) ([]poller.Target, []*held, chan string, map[string]chan struct{}, *inFlight) {
	started := make(chan string, len(groups))
	release := make(map[string]chan struct{})
	counters := &inFlight{now: map[string]int{}, max: map[string]int{}}
	var targets []poller.Target
	var sources []*held
	for i, g := range groups {
		if release[g] == nil {
			release[g] = make(chan struct{})
		}
		s := &held{group: g, started: started, release: release[g], counters: counters}
		sources = append(sources, s)
		targets = append(targets, poller.Target{Account: fmt.Sprintf("%s%d", g, i), Source: s, Group: g})
	}
	return targets, sources, started, release, counters
}

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestPollBounds: at most Concurrency fetches are in flight, and Poll
// returns every result in target order.
func TestPollBounds(t *testing.T) {
	targets, _, started, release, counters := fleet("a", "a", "a", "a", "a", "a", "a", "a", "a", "a")
	done := make(chan []poller.Result)
	go func() { done <- poller.Poller{Concurrency: 3}.Poll(context.Background(), targets, at) }()
	for range 3 {
		<-started
	}
	close(release["a"])
	results := <-done
	for i, r := range results {
		if r.Account != targets[i].Account || r.Err != nil || r.Observation.Account != targets[i].Account {
			t.Errorf("result %d: got %s (%v), want %s read", i, r.Account, r.Err, targets[i].Account)
		}
	}
	if got := counters.max[""]; got != 3 {
		t.Errorf("fetches in flight at most: got %d, want 3", got)
	}
}

// TestEachPerGroup: a group at its bound waits, and the targets of other
// groups behind it in order proceed, each handed to done as it ends.
func TestEachPerGroup(t *testing.T) {
	targets, sources, started, release, counters := fleet("slow", "slow", "slow", "slow", "slow", "fast", "fast", "fast", "other")
	close(release["fast"])
	close(release["other"])
	type ended struct {
		i   int
		err error
	}
	ends := make(chan ended, len(targets))
	finished := make(chan struct{})
	p := poller.Poller{Concurrency: 4, PerGroup: map[string]int{"slow": 2, "fast": 8}}
	go func() {
		p.Each(context.Background(), targets, at, func(i int, r poller.Result) { ends <- ended{i, r.Err} })
		close(finished)
	}()
	// The four targets after the slow ones are read while the first two
	// slow ones are held: slow's bound keeps the other three waiting.
	seen := map[int]bool{}
	for range 4 {
		e := receive(t, ends)
		if e.err != nil || targets[e.i].Group == "slow" {
			t.Fatalf("got %s ended (%v) while slow is held, want fast and other only", targets[e.i].Account, e.err)
		}
		seen[e.i] = true
	}
	if len(seen) != 4 {
		t.Errorf("got %d distinct targets ended, want 4", len(seen))
	}
	// Both slow fetches its bound lets in are under way before slow is
	// let go: the others ending first does not say the second started
	// (on a busy machine it had not, and the most in flight was 1).
	for slow := 0; slow < 2; {
		if receive(t, started) == "slow" {
			slow++
		}
	}
	close(release["slow"])
	<-finished
	for range 5 {
		if e := <-ends; targets[e.i].Group != "slow" || e.err != nil {
			t.Errorf("got %s ended (%v) last, want the slow ones", targets[e.i].Account, e.err)
		}
	}
	if got := counters.max["slow"]; got != 2 {
		t.Errorf("slow fetches in flight at most: got %d, want its bound 2", got)
	}
	if got := counters.max[""]; got > 4 {
		t.Errorf("fetches in flight at most: got %d, want at most 4", got)
	}
	for i, s := range sources {
		if s.fetched != 1 {
			t.Errorf("%s fetched %d times, want once", targets[i].Account, s.fetched)
		}
	}
}

// receive returns what c delivers; it fails the test if nothing comes for
// a minute (a fetch that waits for ever, not a matter of speed).
func receive[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(time.Minute):
		t.Fatal("nothing came: the polls are stuck")
	}
	panic("unreachable")
}

// TestEachStops: once ctx ends, the targets not yet fetched are not, and
// their result says why.
func TestEachStops(t *testing.T) {
	targets, sources, started, _, _ := fleet("a", "a", "a", "a")
	ctx, cancel := context.WithCancel(context.Background())
	results := make([]poller.Result, len(targets))
	finished := make(chan struct{})
	go func() {
		poller.Poller{Concurrency: 1}.Each(ctx, targets, at, func(i int, r poller.Result) { results[i] = r })
		close(finished)
	}()
	<-started // the first is in flight
	cancel()
	<-finished
	for i, r := range results {
		if !errors.Is(r.Err, poller.ErrUnavailable) || !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result %d: got %v, want unavailable: context canceled", i, r.Err)
		}
		if want := i == 0; (sources[i].fetched == 1) != want {
			t.Errorf("target %d: fetched %d times, want fetched %v", i, sources[i].fetched, want)
		}
	}
}

// deadlines records whether its fetches had a deadline.
type deadlines struct{ had []bool }

func (s *deadlines) Fetch(ctx context.Context, now time.Time) (billing.Observation, error) {
	_, ok := ctx.Deadline()
	s.had = append(s.had, ok)
	return billing.Observation{At: now}, nil
}

type instant struct{ deadlines }

func (*instant) Instant() {}

// A fetch has the poller's timeout, but for a source that answers from
// memory; alone or among others.
func TestInstantSourcesGetNoTimeout(t *testing.T) {
	slow, fast := &deadlines{}, &instant{}
	p := poller.Poller{Timeout: time.Minute}
	p.Poll(context.Background(), []poller.Target{{Account: "a", Source: slow}}, at)
	p.Poll(context.Background(), []poller.Target{{Account: "b", Source: fast}}, at)
	p.Poll(context.Background(), []poller.Target{{Account: "a", Source: slow}, {Account: "b", Source: fast}}, at)
	if want := []bool{true, true}; fmt.Sprint(slow.had) != fmt.Sprint(want) {
		t.Errorf("source with a timeout: got deadlines %v, want %v", slow.had, want)
	}
	if want := []bool{false, false}; fmt.Sprint(fast.had) != fmt.Sprint(want) {
		t.Errorf("instant source: got deadlines %v, want %v", fast.had, want)
	}
}
