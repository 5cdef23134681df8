package guard_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// pollAt serves the generated poll at the time it is asked for.
func pollAt(polls []lt.Poll) *fakeSource {
	byAt := make(map[time.Time]lt.Poll, len(polls))
	for _, p := range polls {
		byAt[p.At] = p
	}
	return &fakeSource{FetchFunc: func(_ context.Context, now time.Time) (billing.Observation, error) {
		p, ok := byAt[now]
		if !ok {
			return billing.Observation{}, fmt.Errorf("no poll generated at %s", now)
		}
		return p.Obs, p.Err
	}}
}

// policy repeats warnings and criticals every 6 hours, so that repeats
// (which count what was charged since an alert started firing) are judged
// too, and sends each notification as it is decided.
var policy = lifecycle.Policy{Immediate: true, Repeat: map[billing.Severity]time.Duration{
	billing.SeverityWarning: 6 * time.Hour, billing.SeverityCritical: 6 * time.Hour}}

// cycleText is what a cycle decided about the account: every finding that
// held, the state, and every notification, explained.
func cycleText(t *testing.T, rep guard.Report, name string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range rep.Holding[name] {
		fmt.Fprintf(&b, "holds %s %s %s inhibited by %q\n", f.Rule, f.Entity, f.Severity, f.InhibitedBy)
	}
	if s, ok := rep.States[name]; ok {
		b.WriteString("state " + lt.StateText(s) + "\n")
	}
	sent := append([]alert.Notification(nil), rep.Sent...)
	sort.SliceStable(sent, func(i, j int) bool { return sent[i].Finding.Fingerprint() < sent[j].Finding.Fingerprint() })
	for _, n := range sent {
		fmt.Fprintf(&b, "sent %s repeat=%v %s", n.Status, n.Repeat, lt.FindingText(n.Finding))
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(&b, "failed %v\n", f)
	}
	return b.String()
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// spoil changes the account's stored checkpoint with edit, so that the
// next Load cannot use it.
func spoil(t *testing.T, st *store.Store, account string, edit func(*store.LedgerCheckpoint)) {
	t.Helper()
	err := st.Update(context.Background(), func(tx *store.Tx) error {
		c, ok, err := tx.LedgerCheckpoint(account)
		if err != nil || !ok {
			return fmt.Errorf("no checkpoint (%v)", err)
		}
		edit(&c)
		return tx.PutLedgerCheckpoint(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// loaded returns a new guard of account a, served polls, loaded from the
// store of opts at now, as guardd check starts.
func loaded(t *testing.T, a billing.Account, polls []lt.Poll, opts guard.Options, now time.Time) *guard.Guard {
	t.Helper()
	g := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, opts)
	if err := g.Load(context.Background(), now); err != nil {
		t.Fatalf("load at %s: %v", now, err)
	}
	return g
}

// liveGuard returns a guard of account a, served polls, that holds its
// ledger live and its state in memory, the yardstick of the tests here,
// and its options: every finding sent to one receiver.
func liveGuard(a billing.Account, polls []lt.Poll, params rules.Params) (*guard.Guard, guard.Options) {
	opts := guard.Options{Params: params, Policy: policy,
		Receivers: []alert.Receiver{{Name: "rec", MinSeverity: billing.SeverityInfo, Notifier: &countingNotifier{}}}}
	return guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, opts), opts
}

// Like guardd check, a new guard at every poll loads its ledger from the
// state store (from the checkpoint the poll before wrote) and judges as a
// guard that never stopped, poll for poll, past the rules' 35 days. Now
// and then the checkpoint is made unusable (as after an upgrade of its
// version or a change to the account's settings) and the ledger rebuilt
// from the stored observations of the rules' history window (each guard
// holds its ledger live, as guardd check's does): the rebuilt
// ledger judges the same too, both while the window holds the whole
// history and after (days 36 to 40), and the checkpoint written after it
// continues from there. Like guardd run, a guard that keeps its state in
// a store of its own and never stops, holding its ledger frozen between
// polls (as its checkpoint) and thawing it for the next, judges the same
// too, and its status is the live one's.
func TestRestartedGuardJudgesAsTheLiveOne(t *testing.T) {
	days := 40
	shapes := lt.Shapes
	if testing.Short() {
		days, shapes = 37, []lt.Shape{lt.ShapeGrants}
	}
	params := rules.DefaultParams()
	window := guard.HistoryWindow(params)
	for _, shape := range shapes {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, polls := lt.History(shape, time.Hour, days*24)
			live, opts := liveGuard(a, polls, params)
			st := openStore(t)
			kept := opts
			kst := openStore(t)
			kept.State, kept.History = kst.Lifecycle(), kst
			frozen := loaded(t, a, polls, kept, polls[0].At)
			rebuilt := 0
			for i, p := range polls {
				want, err := live.Cycle(ctx, p.At)
				if err != nil {
					t.Fatal(err)
				}
				got, err := frozen.Cycle(ctx, p.At)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := cycleText(t, got, a.Name), cycleText(t, want, a.Name); g != w {
					t.Fatalf("poll %d at %s: the guard holding its ledger frozen judges otherwise:\n%s", i, p.At, lt.Diff(g, w))
				}
				if i%13 == 5 {
					// Another fingerprint: the next Load rebuilds.
					spoil(t, st, a.Name, func(c *store.LedgerCheckpoint) { c.Fingerprint = "settings of another time" })
					rebuilt++
				}
				o := opts
				o.State, o.History, o.LiveLedgers = st.Lifecycle(), st, true
				g := loaded(t, a, polls, o, p.At)
				got, err = g.Cycle(ctx, p.At)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := cycleText(t, got, a.Name), cycleText(t, want, a.Name); g != w {
					t.Fatalf("poll %d at %s: the guard loaded from the store judges otherwise:\n%s", i, p.At, lt.Diff(g, w))
				}
			}
			if late := polls[len(polls)-1].At.Sub(polls[0].At) > window; rebuilt == 0 || !late {
				t.Fatalf("%d ledgers rebuilt, the last %s after the first poll, want some after the window of %s", rebuilt, polls[len(polls)-1].At.Sub(polls[0].At), window)
			}
			end := polls[len(polls)-1].At
			got, err := frozen.Status(end)
			if err != nil {
				t.Fatal(err)
			}
			want, err := live.Status(end)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := lt.StateText(got[0].State), lt.StateText(want[0].State); g != w {
				t.Errorf("status of the frozen ledger:\n%s", lt.Diff(g, w))
			}
		})
	}
}

// logged returns a logger and what it logs at info and above.
func logged() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

// A checkpoint that cannot be trusted (damaged, of another version, newer
// than the stored history, of other settings, or missing) is never
// used: the ledger is rebuilt from the stored history once, with a
// warning where the checkpoint should have been usable, and the next poll
// writes a good one.
func TestUntrustedCheckpointIsRebuilt(t *testing.T) {
	ctx := context.Background()
	a, polls := lt.History(lt.ShapeGrants, time.Hour, 24*3)
	params := rules.DefaultParams()
	// The history in a store, a checkpoint with it, as guardd check leaves it.
	seed := func(t *testing.T) *store.Store {
		st := openStore(t)
		g := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, guard.Options{Params: params, State: st.Lifecycle(), History: st})
		for _, p := range polls[:len(polls)-1] {
			if _, err := g.Cycle(ctx, p.At); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	last := polls[len(polls)-2].At
	for _, tc := range []struct {
		name string
		edit func(c *store.LedgerCheckpoint) bool // false: delete it
		warn string
		info string
	}{
		{"bad bytes", func(c *store.LedgerCheckpoint) bool { c.Data = []byte("\x00\x01garbage"); return true },
			"not a ledger checkpoint", ""},
		{"json", func(c *store.LedgerCheckpoint) bool { c.Data = []byte(`{"version": 1}`); return true },
			"not a ledger checkpoint", ""},
		{"damaged", func(c *store.LedgerCheckpoint) bool { c.Data[len(c.Data)/2] ^= 0xff; return true },
			"checksum mismatch", ""},
		{"cut short", func(c *store.LedgerCheckpoint) bool { c.Data = c.Data[:len(c.Data)-100]; return true },
			"checksum mismatch", ""},
		{"another version", func(c *store.LedgerCheckpoint) bool { c.Version++; return true },
			fmt.Sprintf("the checkpoint is of version %d, this guardd writes %d", ledger.CheckpointVersion+1, ledger.CheckpointVersion), ""},
		{"newer than the history", func(c *store.LedgerCheckpoint) bool { c.At = last.Add(time.Hour); return true },
			"is newer than the newest stored observation", ""},
		{"not at a stored observation", func(c *store.LedgerCheckpoint) bool { c.At = c.At.Add(-time.Minute); return true },
			"the checkpoint was taken at is not stored", ""},
		{"other settings", func(c *store.LedgerCheckpoint) bool { c.Fingerprint = "x"; return true },
			"", "the account's settings or the rules' history changed since its checkpoint"},
		{"none", func(c *store.LedgerCheckpoint) bool { return false }, "", "it has no checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := seed(t)
			// The ledger a rebuild gives: as guardd built it before checkpoints.
			if err := st.Update(ctx, func(tx *store.Tx) error {
				c, ok, err := tx.LedgerCheckpoint(a.Name)
				if err != nil || !ok {
					return fmt.Errorf("no checkpoint (%v)", err)
				}
				if !tc.edit(&c) {
					return tx.DeleteLedgerCheckpoint(a.Name)
				}
				return tx.PutLedgerCheckpoint(c)
			}); err != nil {
				t.Fatal(err)
			}
			log, logs := logged()
			g := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, guard.Options{Params: params, State: st.Lifecycle(), History: st, Log: log})
			if err := g.Load(ctx, last); err != nil {
				t.Fatalf("load: %v", err)
			}
			warns := logs.FilterMessage("ledger checkpoint not used, rebuilding the ledger from stored history").All()
			infos := logs.FilterMessage("ledger rebuilt from stored history").All()
			because := func(es []observer.LoggedEntry) string {
				if len(es) != 1 {
					return fmt.Sprintf("%d lines", len(es))
				}
				if es[0].ContextMap()["account"] != a.Name {
					return "a line without the account"
				}
				return fmt.Sprint(es[0].ContextMap()["because"])
			}
			if tc.warn != "" && !strings.Contains(because(warns), tc.warn) {
				t.Errorf("warning: got %s, want one naming the account because %q (all: %v)", because(warns), tc.warn, logs.All())
			}
			if tc.warn == "" && len(warns) != 0 {
				t.Errorf("got a warning %v, want none", warns)
			}
			if want := tc.info + tc.warn; !strings.Contains(because(infos), want) {
				t.Errorf("info: got %s, want one because %q", because(infos), want)
			}
			// The rebuilt ledger judges as one rebuilt by hand from the
			// stored observations.
			want := ledger.New(a, ledger.Options{MatchWindow: ledger.DefaultOptions().MatchWindow, Keep: rules.New(params).History()})
			for _, p := range polls[:len(polls)-1] {
				feed(t, want, p)
			}
			statuses, err := g.Status(last)
			if err != nil {
				t.Fatal(err)
			}
			gotState := statuses[0].State
			if got, w := lt.StateText(gotState), lt.StateText(want.State(last, params.BurnWindow.Duration)); got != w {
				t.Errorf("state after the rebuild:\n%s", lt.Diff(got, w))
			}
			// The next poll writes a checkpoint the next load uses.
			if _, err := g.Cycle(ctx, polls[len(polls)-1].At); err != nil {
				t.Fatal(err)
			}
			log2, logs2 := logged()
			g2 := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, guard.Options{Params: params, State: st.Lifecycle(), History: st, Log: log2})
			if err := g2.Load(ctx, polls[len(polls)-1].At); err != nil {
				t.Fatal(err)
			}
			if n := logs2.Len(); n != 0 {
				t.Errorf("the load after the next poll logged %v, want the checkpoint used quietly", logs2.All())
			}
		})
	}
}

// A guard writes its ledger's checkpoint with the first poll and then
// with every 8th, not with each (it is most of what a poll writes), or
// sooner when the one stored is a day old: a new process continues it
// with at most 7 stored observations. After every poll, through restarts,
// the stored checkpoint is less than 8 observations and a day behind, and
// the guards wrote about one an 8th of the polls when an hour apart, a
// 4th when 6 hours apart; guards holding their ledgers live (as guardd
// check's) as much as those holding them frozen.
func TestCheckpointEveryFewPolls(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		every    int // polls a checkpoint
	}{{time.Hour, 8}, {6 * time.Hour, 4}} {
		for _, live := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/live=%v", tc.interval, live), func(t *testing.T) { checkpointEvery(t, tc.interval, tc.every, live) })
		}
	}
}

func checkpointEvery(t *testing.T, interval time.Duration, every int, live bool) {
	ctx := context.Background()
	a, polls := lt.History(lt.ShapeGrants, interval, 240)
	st := openStore(t)
	counted := &counted{Store: st.Lifecycle()}
	opts := guard.Options{Params: rules.DefaultParams(), State: counted, History: st, LiveLedgers: live}
	var g *guard.Guard
	loads, stored := 0, 0
	for i, p := range polls {
		if i%37 == 0 {
			g = loaded(t, a, polls, opts, p.At)
			loads++
		}
		if _, err := g.Cycle(ctx, p.At); err != nil {
			t.Fatal(err)
		}
		if p.Err == nil {
			stored++
		}
		err := st.View(ctx, func(tx *store.Tx) error {
			cp, ok, err := tx.LedgerCheckpoint(a.Name)
			if err != nil || !ok {
				return fmt.Errorf("poll %d: no checkpoint (%v)", i, err)
			}
			later, err := tx.Observations(a, cp.At)
			if err != nil {
				return err
			}
			if behind := later[len(later)-1].At.Sub(cp.At); len(later)-1 >= every || behind >= 24*time.Hour {
				return fmt.Errorf("poll %d: the checkpoint at %s is %d observations and %s behind, want fewer than %d and a day", i, cp.At, len(later)-1, behind, every)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if lo, hi := stored/every, stored/every+1; counted.checkpoints < lo || counted.checkpoints > hi {
		t.Errorf("%d checkpoints written for %d stored observations (%d loads), want %d to %d", counted.checkpoints, stored, loads, lo, hi)
	}
}

// Observations stored without a checkpoint after the last one (by a
// guardd that wrote none) are appended to the checkpoint's ledger, which
// then judges as the live one.
func TestCheckpointContinuesWithLaterObservations(t *testing.T) {
	ctx := context.Background()
	a, polls := lt.History(lt.ShapeGrants, time.Hour, 24*5)
	params := rules.DefaultParams()
	st := openStore(t)
	live := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, guard.Options{Params: params})
	g := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, guard.Options{Params: params, State: st.Lifecycle(), History: st})
	// mirror is a ledger like the guards', to store the observations as
	// the guard would have: with what the ledger fills in.
	mirror := ledger.New(a, ledger.Options{Keep: rules.New(params).History()})
	half := len(polls) / 2
	var lastStored time.Time
	for i, p := range polls[:len(polls)-1] {
		if _, err := live.Cycle(ctx, p.At); err != nil {
			t.Fatal(err)
		}
		feed(t, mirror, p)
		if i < half {
			if _, err := g.Cycle(ctx, p.At); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if p.Err != nil {
			continue
		}
		o := p.Obs
		if _, held := mirror.Held(); !held {
			cur, _ := mirror.Current()
			o = *cur
		}
		if err := st.Update(ctx, func(tx *store.Tx) error { return tx.AppendObservation(a, o) }); err != nil {
			t.Fatal(err)
		}
		lastStored = o.At
	}
	log, logs := logged()
	g2 := guard.New([]guard.Account{{Account: a, Source: pollAt(polls)}}, guard.Options{Params: params, State: st.Lifecycle(), History: st, Log: log})
	now := polls[len(polls)-1].At
	if err := g2.Load(ctx, now); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("load logged %v, want the checkpoint used", logs.All())
	}
	l, err := guard.Ledger(g2)
	if err != nil {
		t.Fatal(err)
	}
	if newest, _ := l.Newest(); !newest.Equal(lastStored) {
		t.Errorf("the loaded ledger's newest observation is at %s, want the last stored, at %s", newest, lastStored)
	}
	// The next poll: the same findings hold, the same state.
	got, err := g2.Cycle(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want, err := live.Cycle(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	got.Sent, want.Sent = nil, nil // the two lifecycles saw different polls
	if g, w := cycleText(t, got, a.Name), cycleText(t, want, a.Name); g != w || !strings.Contains(w, "state effective=") {
		t.Errorf("after loading the checkpoint and the later observations:\n%s", lt.Diff(g, w))
	}
}

// Over a generated year, a guard that keeps its state in the store and
// whose ledger is rebuilt from the stored history every week (its
// checkpoint made unusable, as after an upgrade of the checkpoint's
// version) judges as the guard that never stopped at every poll: the
// rebuilt ledger and the incremental one agree, long after the rules'
// window stopped holding the whole history. Polls are 6 hours apart to
// keep the year within seconds.
func TestRebuiltGuardJudgesAsTheIncrementalOneForAYear(t *testing.T) {
	days := 365
	if testing.Short() {
		days = 100
	}
	params := rules.DefaultParams()
	for _, shape := range []lt.Shape{lt.ShapeGrants, lt.ShapeDerived} {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, polls := lt.History(shape, 6*time.Hour, days*4)
			live, opts := liveGuard(a, polls, params)
			st := openStore(t)
			stored := opts
			log, logs := logged()
			stored.State, stored.History, stored.Log = st.Lifecycle(), st, log
			var g *guard.Guard
			rebuilt := 0
			for i, p := range polls {
				want, err := live.Cycle(ctx, p.At)
				if err != nil {
					t.Fatal(err)
				}
				if i%28 == 0 {
					if i > 0 {
						spoil(t, st, a.Name, func(c *store.LedgerCheckpoint) { c.Version++ })
						rebuilt++
					}
					g = loaded(t, a, polls, stored, p.At)
				}
				got, err := g.Cycle(ctx, p.At)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := cycleText(t, got, a.Name), cycleText(t, want, a.Name); g != w {
					t.Fatalf("poll %d at %s (%d rebuilds): the rebuilt guard judges otherwise:\n%s", i, p.At, rebuilt, lt.Diff(g, w))
				}
			}
			// The first load finds no checkpoint; every later one a
			// checkpoint of another version.
			if n := logs.FilterMessage("ledger rebuilt from stored history").Len(); rebuilt < len(polls)/28-1 || n != rebuilt {
				t.Errorf("%d ledgers rebuilt from the store, %d made to be, want %d", n, rebuilt, len(polls)/28-1)
			}
		})
	}
}

// pollLog is the poll log of g's account's ledger, oldest first, as times
// and errors.
func pollLog(t *testing.T, g *guard.Guard) []string {
	t.Helper()
	l, err := guard.Ledger(g)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range slices.Backward(l.RecentPolls(ledger.MaxPolls)) {
		out = append(out, p.At.Format(time.RFC3339)+" "+p.Err)
	}
	return out
}

// An account's ledger loaded from its checkpoint keeps the checkpoint's
// poll log up to the checkpoint and reads from the store only the polls
// stored after it (reading every account's last 64 polls was a tenth of
// guardd check): a poll stored before the checkpoint that the ledger never
// logged stays out of it, and one stored after is in. A ledger rebuilt
// without its checkpoint takes the store's whole log, as before.
func TestLoadTakesThePollsAfterTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	a, polls := lt.History(lt.ShapeGrants, time.Hour, 12)
	st := openStore(t)
	opts := guard.Options{Params: rules.DefaultParams(), State: st.Lifecycle(), History: st}
	live := loaded(t, a, polls, opts, polls[0].At)
	for _, p := range polls[:11] {
		if _, err := live.Cycle(ctx, p.At); err != nil {
			t.Fatal(err)
		}
	}
	var cp store.LedgerCheckpoint
	var haveCP bool
	if err := st.View(ctx, func(tx *store.Tx) (err error) {
		cp, haveCP, err = tx.LedgerCheckpoint(a.Name)
		return err
	}); err != nil || !haveCP {
		t.Fatalf("the checkpoint stored: %v, %v", haveCP, err)
	}
	if !cp.At.After(polls[0].At) || !cp.At.Before(polls[10].At) {
		t.Fatalf("checkpoint at %s: want one between the first and the last poll", cp.At)
	}
	// A poll stored before the checkpoint that its ledger never logged, and
	// one after the last poll.
	before := store.Poll{Account: a.Name, At: cp.At.Add(-time.Minute), Error: "stored, never logged"}
	after := store.Poll{Account: a.Name, At: polls[10].At.Add(time.Minute), Error: "stored after"}
	if err := st.Update(ctx, func(tx *store.Tx) error {
		if err := tx.RecordPoll(before); err != nil {
			return err
		}
		return tx.RecordPoll(after)
	}); err != nil {
		t.Fatal(err)
	}
	want := append(pollLog(t, live), after.At.Format(time.RFC3339)+" "+after.Error)
	got := pollLog(t, loaded(t, a, polls, opts, after.At))
	if !slices.Equal(got, want) {
		t.Errorf("the poll log loaded from the checkpoint:\n%q\nwant the live ledger's and the poll stored after it:\n%q", got, want)
	}

	// Without its checkpoint the ledger is rebuilt, and its log is the
	// store's: the poll stored before is in it.
	if err := st.Update(ctx, func(tx *store.Tx) error { return tx.DeleteLedgerCheckpoint(a.Name) }); err != nil {
		t.Fatal(err)
	}
	rebuilt := pollLog(t, loaded(t, a, polls, opts, after.At))
	if !slices.Contains(rebuilt, before.At.Format(time.RFC3339)+" "+before.Error) || !slices.Contains(rebuilt, after.At.Format(time.RFC3339)+" "+after.Error) {
		t.Errorf("the poll log of the rebuilt ledger:\n%q\nwant both polls recorded in the store", rebuilt)
	}
}
