// Package guard runs guardd's cycle: poll every account, add what was read to
// its ledger, evaluate the rules, decide the alerts, queue the notifications
// due in an outbox and drain it. The same cycle, on one path, serves replay,
// the one-shot check, its dry run and the daemon; what differs is where the
// lifecycle keeps its state (Options.State):
//
//   - the state store: history, alerts and the outbox persist, so a
//     CronJob's separate runs behave like one long-running daemon;
//   - memory, starting empty: replay and rule tests;
//   - an overlay over the state store (lifecycle.NewOverlay): a dry run
//     decides against the stored alerts and silences and writes nothing.
package guard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/store"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"
)

// Account is an account to watch and the source that reads it.
type Account struct {
	Account billing.Account
	Source  poller.Source
	// Group names the accounts polled under one bound
	// (Options.Poller.PerGroup): the source type.
	Group string
}

// Options configure a Guard.
type Options struct {
	Params rules.Params
	Ledger ledger.Options
	Poller poller.Poller
	// State keeps the alerts, silences, findings log and outbox: the state
	// store's (store.Store.Lifecycle), an overlay over it, or, when nil, a
	// new lifecycle.Memory.
	State lifecycle.Store
	// History, when set, is the state store that Load rebuilds the ledgers
	// from. Each poll is recorded in it when State's transactions keep
	// history (HistoryTx), in the transaction that decides its alerts.
	History *store.Store
	// Receivers are where the outbox delivers.
	Receivers []alert.Receiver
	// Dispatcher does the in-run retries of each delivery.
	Dispatcher *alert.Dispatcher
	Policy     lifecycle.Policy
	// Inbox, when set, reads the receipts in people's mailboxes: each
	// account it routes to gets the charges of its receipts (see mail.go).
	Inbox *inbox.Inbox
	Log   *zap.Logger
	// Claims, when set, share the accounts with other replicas on one
	// database: a cycle polls only the accounts it claims, until every
	// account has been polled since its tick (Tick).
	Claims Claimer
	// Schedule is when the replicas' cycles run: with Claims, a cycle
	// belongs to the schedule's tick at or before it starts, the same in
	// every replica however late its cycle starts. When nil, the ticks
	// are every Interval from the zero time (time.Truncate).
	Schedule Schedule
	// Interval is the time between two ticks when there is no Schedule.
	Interval time.Duration
	// LiveLedgers holds each account's ledger live between polls instead
	// of frozen as its checkpoint: for a process that polls once and
	// ends (guardd check), where freezing every ledger at Load and again
	// after its poll, to thaw or drop it next, is work thrown away. A
	// poll still freezes its ledger when a checkpoint is due, to store
	// it. Memory then follows the ledgers instead of their checkpoints:
	// about 20 KB more an account at 30 days of 15-minute polls
	// (BenchmarkLedgerMemory's live-ledgers-B/account).
	LiveLedgers bool
}

// Schedule is when cycles run (cron.Schedule): Next returns the first time
// after t.
type Schedule interface {
	Next(t time.Time) time.Time
}

// Claimer shares the accounts among replicas, and has them read each
// mailbox once a tick (store.Claimer).
type Claimer interface {
	Claim(ctx context.Context, accounts []string, since time.Time, limit int) ([]store.Claimed, []string, error)
	Release(ctx context.Context, accounts []string) error
	LockMailboxes(ctx context.Context, names []string, wait time.Duration) (locked []string, unlock func(), err error)
}

var _ Claimer = (*store.Claimer)(nil)

// HistoryTx is implemented by transactions that also keep the accounts'
// history: the state store's. The cycle records each poll, the observation
// it read and the grants and charges it saw first in the transaction that
// decides the account's alerts, so both are kept or neither is. Memory and
// an overlay keep no history: the ledger in memory is all there is.
type HistoryTx interface {
	LastPollAt(account string) (time.Time, bool, error)
	AppendObservation(account billing.Account, o billing.Observation) error
	RecordPoll(p store.Poll) error
	RecordFirstSeen(account, kind string, ids []string, at time.Time) error
	PutLedgerCheckpoint(c store.LedgerCheckpoint) error
}

var _ HistoryTx = (*store.Tx)(nil)

// Resumer is implemented by sources that replay recorded data (the file
// source): told the last observation already stored, they continue after it.
type Resumer interface {
	Resume(after time.Time)
}

// Recorded is implemented by sources that replay recorded data (the file
// source) and know how much of it is left: Left is how many observations
// come before the recording ends, or starts again.
type Recorded interface {
	Resumer
	Left() int
}

// CostResumer is implemented by sources that read cost windows
// incrementally: told where the stored history's settled windows end, a new
// process does not read them again.
type CostResumer interface {
	ResumeCosts(settledUntil time.Time)
}

type watched struct {
	account billing.Account
	source  poller.Source
	group   string
	// ledger is the account's ledger. When the guard keeps history, it is
	// held frozen between polls (frozen, ledger nil; not with
	// Options.LiveLedgers), as its checkpoint
	// (the bytes written to the store when one is due): a few kilobytes
	// the garbage collector does not scan, in place of objects that grow
	// with the rules' windows, for one decoding per poll.
	ledger *ledger.Ledger
	frozen ledger.Frozen
	// checkpointAt is the time of the observation the account's stored
	// ledger checkpoint is at (zero when there is none to continue), and
	// sinceCheckpoint counts the observations stored after it.
	checkpointAt    time.Time
	sinceCheckpoint int
	// stale is set when the ledger holds something the store does not (a
	// failed write); it is rebuilt from the store before the next cycle.
	stale bool
	// lastPoll is the last poll the ledger holds, to tell when another
	// replica polled the account since (Options.Claims).
	lastPoll time.Time
}

// Guard watches a set of accounts. It is not safe for concurrent cycles; the
// scheduler runs one at a time.
type Guard struct {
	accounts   []*watched
	poller     poller.Poller
	engine     *rules.Engine
	params     rules.Params
	lopts      ledger.Options
	burnWindow time.Duration
	state      lifecycle.Store
	history    *store.Store
	sender     *lifecycle.Sender
	receivers  []alert.Receiver
	policy     lifecycle.Policy
	inbox      *inbox.Inbox
	log        *zap.Logger
	claims     Claimer
	schedule   Schedule
	interval   time.Duration
	live       bool // Options.LiveLedgers
	// claimWait is the longest a cycle waits before asking again for
	// accounts other replicas hold. It waits an eighth of that first, and
	// twice as long each time after, as those accounts are polled (in
	// about a provider's answer and a write) or their replica is gone. A
	// tick ends on such a wait: with a fixed 250 ms, three replicas over
	// 10,000 accounts ended their ticks 273 ms after the last poll
	// returned, 78 ms with these (BenchmarkReplicaCycle's tail-ms).
	claimWait time.Duration
}

// New returns a guard over accounts. With a History, call Load before the
// first cycle.
func New(accounts []Account, o Options) *Guard {
	g := &Guard{
		poller:     o.Poller,
		engine:     rules.New(o.Params),
		params:     o.Params,
		lopts:      o.Ledger,
		burnWindow: o.Params.BurnWindow.Duration,
		state:      o.State,
		history:    o.History,
		receivers:  o.Receivers,
		policy:     o.Policy,
		inbox:      o.Inbox,
		claims:     o.Claims,
		schedule:   o.Schedule,
		interval:   o.Interval,
		live:       o.LiveLedgers,
		claimWait:  250 * time.Millisecond,
	}
	// A ledger keeps the history the rules read and drops what is older,
	// so a daemon's memory stays flat.
	g.lopts.Keep = g.engine.History()
	// The balance points, the bulk of a ledger, and the cost windows only
	// as far back as the rules and the burn window read them.
	g.lopts.KeepPoints = g.engine.PointHistory()
	// The grants' used credit over time is for the web pages, which build
	// their own ledgers.
	g.lopts.NoGrantHistory = true
	if g.state == nil {
		g.state = lifecycle.NewMemory()
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	g.log = log
	dispatcher := o.Dispatcher
	if dispatcher == nil {
		dispatcher = &alert.Dispatcher{Log: log}
	}
	g.sender = &lifecycle.Sender{Store: g.state, Receivers: o.Receivers, Dispatcher: dispatcher, Policy: o.Policy, Log: log}
	for _, a := range accounts {
		if s, ok := a.Source.(poller.LogSetter); ok {
			s.SetLogger(log.With(zap.String("account", a.Account.Name)))
		}
		g.accounts = append(g.accounts, &watched{account: a.Account, source: a.Source, group: a.Group, ledger: ledger.New(a.Account, g.lopts)})
	}
	return g
}

// Share makes g one replica of several on one database: its cycles poll
// the accounts c hands it, once per tick of s (Options.Claims,
// Options.Schedule).
func (g *Guard) Share(c Claimer, s Schedule) { g.claims, g.schedule = c, s }

// Tick returns the schedule tick a cycle starting at now belongs to (the
// schedule's last time at or before now; now itself when the schedule has
// none) and the time until the next tick. Every replica's cycle of one tick
// gets the same tick, however late it starts: an account is polled once per
// tick because each replica asks whether it was polled since the tick, not
// since a time of its own.
func (g *Guard) Tick(now time.Time) (tick time.Time, interval time.Duration) {
	if g.schedule == nil {
		if g.interval <= 0 {
			return now, 0
		}
		return now.Truncate(g.interval), g.interval
	}
	tick = lastTick(g.schedule, now)
	return tick, g.schedule.Next(tick).Sub(tick)
}

// lastTick is s's last time at or before now: step back until s has a
// time there, then forward to the last one. now when s has none in the
// last century.
func lastTick(s Schedule, now time.Time) time.Time {
	back := time.Second
	t := s.Next(now.Add(-back))
	for t.After(now) {
		if back > 100*365*24*time.Hour {
			return now
		}
		back *= 2
		t = s.Next(now.Add(-back))
	}
	for {
		n := s.Next(t)
		if n.After(now) || !n.After(t) {
			return t
		}
		t = n
	}
}

// HistoryWindow is how much stored history a ledger is rebuilt from: what
// the rules read (rules.Engine.History).
func HistoryWindow(p rules.Params) time.Duration { return rules.New(p).History() }

// Load restores every account's ledger from the store: from its
// checkpoint and the observations stored after it (normally none), or,
// when there is no checkpoint it can use, rebuilt from the observations of
// the history window; and the recent polls. Sources that replay recorded
// data resume after the last stored observation, and sources that read
// costs incrementally after the last settled cost window.
func (g *Guard) Load(ctx context.Context, now time.Time) error {
	for _, w := range g.accounts {
		if err := g.load(ctx, w, now); err != nil {
			return err
		}
	}
	return nil
}

func (g *Guard) load(ctx context.Context, w *watched, now time.Time) error {
	if g.history == nil {
		w.stale = false // the ledger is all the history there is
		return nil
	}
	var (
		cp             store.LedgerCheckpoint
		haveCP         bool
		last           time.Time
		haveLast       bool
		polls          []store.Poll
		err            error
		name           = w.account.Name
		loadErr        = func(err error) error { return fmt.Errorf("load history of %s: %w", name, err) }
		l              *ledger.Ledger
		rebuildBecause string
		// pollsAfter: the ledger's poll log up to it is the checkpoint's,
		// and only the polls stored after it are read (zero: all of the
		// log is read). At every start of guardd check, reading an
		// account's last 64 polls was a tenth of the run.
		pollsAfter time.Time
		lastPoll   time.Time // zero when none is stored
	)
	err = g.history.View(ctx, func(tx *store.Tx) error {
		var err error
		if last, haveLast, err = tx.LastObservationAt(name); err != nil {
			return err
		}
		if cp, haveCP, err = tx.LedgerCheckpoint(name); err != nil {
			return err
		}
		if haveCP {
			pollsAfter = cp.At
		}
		if polls, err = tx.PollsAfter(name, pollsAfter, ledger.MaxPolls); err != nil {
			return err
		}
		var havePoll bool
		if lastPoll, havePoll, err = tx.LastPollAt(name); !havePoll {
			lastPoll = time.Time{}
		}
		return err
	})
	if err != nil {
		return loadErr(err)
	}
	if l, w.sinceCheckpoint, rebuildBecause, err = g.fromCheckpoint(ctx, w, cp, haveCP, last, haveLast); err != nil {
		return loadErr(err)
	}
	w.checkpointAt = cp.At
	if l == nil {
		w.checkpointAt = time.Time{}
		// The ledger as older guardds built it: from the observations of
		// the history window. Its next poll writes a checkpoint.
		if l, err = g.rebuild(ctx, w, now, last, haveLast); err != nil {
			return loadErr(err)
		}
		if haveLast {
			g.log.Info("ledger rebuilt from stored history", zap.String("account", name), zap.String("because", rebuildBecause))
		}
		if !pollsAfter.IsZero() {
			// Not from the checkpoint: the whole log is the store's.
			pollsAfter = time.Time{}
			if err := g.history.View(ctx, func(tx *store.Tx) error {
				var err error
				polls, err = tx.RecentPolls(name, ledger.MaxPolls)
				return err
			}); err != nil {
				return loadErr(err)
			}
		}
	}
	recs := make([]ledger.PollRecord, 0, len(polls))
	for i := len(polls) - 1; i >= 0; i-- {
		p := polls[i]
		recs = append(recs, ledger.PollRecord{At: p.At, Err: p.Error, Unavailable: p.Unavailable})
	}
	l.ReplacePollsAfter(pollsAfter, recs)
	w.ledger, w.frozen, w.stale = nil, ledger.Frozen{}, false
	if g.live {
		w.ledger = l
	} else {
		w.frozen = l.Freeze(nil)
	}
	w.lastPoll = lastPoll
	if r, ok := w.source.(Resumer); ok && haveLast {
		r.Resume(last)
	}
	if r, ok := w.source.(CostResumer); ok {
		if settled := l.SettledCostsUntil(); !settled.IsZero() {
			r.ResumeCosts(settled)
		}
	}
	return nil
}

// fromCheckpoint returns the ledger of w's checkpoint continued with the
// observations stored after it, or nil and why it cannot be used: there
// is none, it is of another version, of other account settings or rules,
// damaged, or not at a stored observation. A checkpoint that should have
// been usable and is not is logged as a warning. The error is for a
// store that cannot be read.
func (g *Guard) fromCheckpoint(ctx context.Context, w *watched, cp store.LedgerCheckpoint, haveCP bool,
	last time.Time, haveLast bool) (l *ledger.Ledger, after int, because string, err error) {
	warn := func(why string) (*ledger.Ledger, int, string, error) {
		g.log.Warn("ledger checkpoint not used, rebuilding the ledger from stored history",
			zap.String("account", w.account.Name), zap.String("because", why))
		return nil, 0, why, nil
	}
	switch {
	case !haveCP:
		return nil, 0, "it has no checkpoint", nil
	case cp.Version != ledger.CheckpointVersion:
		return warn(fmt.Sprintf("the checkpoint is of version %d, this guardd writes %d", cp.Version, ledger.CheckpointVersion))
	case cp.Fingerprint != ledger.Fingerprint(w.account, g.lopts):
		return nil, 0, "the account's settings or the rules' history changed since its checkpoint", nil
	case !haveLast || cp.At.After(last):
		return warn(fmt.Sprintf("the checkpoint, at %s, is newer than the newest stored observation", cp.At.Format(time.RFC3339Nano)))
	}
	var later []billing.Observation
	if last.After(cp.At) {
		// Observations stored after the checkpoint (by the polls between
		// two checkpoints, or an older guardd that wrote none): the ledger
		// continues with them, from the one it was taken at.
		err := g.history.View(ctx, func(tx *store.Tx) error {
			var err error
			later, err = tx.Observations(w.account, cp.At)
			return err
		})
		if err != nil {
			return nil, 0, "", err
		}
		if len(later) == 0 || !later[0].At.Equal(cp.At) {
			return warn(fmt.Sprintf("the observation at %s the checkpoint was taken at is not stored", cp.At.Format(time.RFC3339Nano)))
		}
		later = later[1:]
	}
	l, err = ledger.FromCheckpoint(w.account, g.lopts, cp.Data)
	if err != nil {
		return warn(err.Error())
	}
	if at, _ := l.Newest(); !at.Equal(cp.At) {
		return warn(fmt.Sprintf("the checkpoint says it is at %s but holds the ledger at %s", cp.At.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano)))
	}
	for _, o := range later {
		if err := l.Append(o); err != nil {
			return warn(fmt.Sprintf("the observation stored at %s does not continue it: %v", o.At.Format(time.RFC3339Nano), err))
		}
	}
	return l, len(later), "", nil
}

// rebuild builds w's ledger from the stored observations of the history
// window, which ends at the newest observation, not at now: after a long
// outage the rules still need the history before it, and a history served
// ahead of the clock (a looping file source) must not load every
// observation after now.
func (g *Guard) rebuild(ctx context.Context, w *watched, now, last time.Time, haveLast bool) (*ledger.Ledger, error) {
	var obs []billing.Observation
	err := g.history.View(ctx, func(tx *store.Tx) error {
		end := now
		if haveLast {
			end = last
		}
		var err error
		obs, err = tx.Observations(w.account, end.Add(-HistoryWindow(g.params)))
		return err
	})
	if err != nil {
		return nil, err
	}
	l := ledger.New(w.account, g.lopts)
	for i, o := range obs {
		if err := l.Append(o); err != nil {
			return nil, fmt.Errorf("stored observation %d: %w", i, err)
		}
	}
	return l, nil
}

// Ahead says how many more cycles could run on recorded data alone: the
// fewest observations any account's source has left (Recorded), or 0 when
// an account reads a live source or mail is read (neither can be played
// ahead). A dry run plays ahead when the next poll would send nothing.
func (g *Guard) Ahead() int {
	if g.inbox != nil || len(g.accounts) == 0 {
		return 0
	}
	n := -1
	for _, w := range g.accounts {
		r, ok := w.source.(Recorded)
		if !ok {
			return 0
		}
		if left := r.Left(); n < 0 || left < n {
			n = left
		}
	}
	return n
}

// AccountError is a failure to read or use one account's observation.
type AccountError struct {
	Account string
	Err     error
}

func (e *AccountError) Error() string { return fmt.Sprintf("account %s: %v", e.Account, e.Err) }
func (e *AccountError) Unwrap() error { return e.Err }

// Report says what one cycle did.
type Report struct {
	At     time.Time
	Polled int
	// Failed lists the accounts that could not be read or whose observation
	// was rejected; only the source rule judged them (a blind poll resolves
	// nothing).
	Failed []*AccountError
	// Held lists the accounts whose reading was held as suspect until the
	// next poll (ledger.Ledger.Held), with why; no rule judged them.
	Held []*AccountError
	// Findings counts every finding that held, notified or not.
	Findings int
	// Holding is, per account, every finding that held (identified, not
	// explained), inhibited ones included.
	Holding map[string][]billing.Finding
	// Sent lists the notifications decided: what was written to the outbox.
	Sent []alert.Notification
	// Delivery says what draining the outbox did.
	Delivery lifecycle.DrainResult
	// States is each readable account's position after the cycle.
	States map[string]billing.AccountState
	// Accounts has, per account, what a metrics page shows.
	Accounts map[string]AccountReport
}

// AccountReport is one account's figures from a cycle.
type AccountReport struct {
	Took time.Duration // the poll
	OK   bool
	// Recharges24h counts the recharges of the last 24 hours.
	Recharges24h int
	// ExpiringSoon is unused grant credit expiring within 14 days.
	ExpiringSoon billing.Money
	// Unavailable holds the parts the poll could not read, each with its
	// status: why, and the kind of cause.
	Unavailable map[billing.Part]billing.PartStatus
}

// Cycle polls every account once at now, evaluates the rules and sends the
// notifications due. Each account is judged and its poll and decisions
// written as soon as its poll returns, while the others are still in
// flight: one account at a time, one write transaction each. Account
// failures are reported in the Report, not returned; the error is for state
// that could not be written ("write state: account …: …"; the account's
// poll and decisions were not kept), mail that could not be read or kept,
// and notifications that could not be delivered ("deliver notifications:
// …"), joined. The Report lists accounts in the guard's order, whatever
// order their polls ended in.
func (g *Guard) Cycle(ctx context.Context, now time.Time) (Report, error) {
	rep, err := g.Poll(ctx, now)
	var derr error
	if rep.Delivery, derr = g.Deliver(ctx, now.UTC()); derr != nil {
		err = errors.Join(err, derr)
	}
	return rep, err
}

// Deliver drains the outbox at now: it sends every notification due, each
// receiver on its own ("deliver notifications: …" when some could not be
// delivered). guardd run calls it apart from Poll, so that a slow or
// unreachable receiver never makes a poll late.
func (g *Guard) Deliver(ctx context.Context, now time.Time) (lifecycle.DrainResult, error) {
	res, err := g.sender.Drain(ctx, now.UTC())
	if err != nil {
		return res, fmt.Errorf("deliver notifications: %w", err)
	}
	return res, nil
}

// Poll is Cycle but for the delivery: it polls every account once at now,
// evaluates the rules and writes what is due to the outbox, for Deliver
// to send.
func (g *Guard) Poll(ctx context.Context, now time.Time) (Report, error) {
	now = now.UTC()
	if g.claims == nil {
		for _, w := range g.accounts {
			if w.stale {
				if err := g.load(ctx, w, now); err != nil {
					return Report{At: now}, err
				}
			}
		}
	}
	mail, merr := g.readMail(ctx, now)
	c := newCycle(now, mail)
	if merr != nil {
		c.errs = append(c.errs, merr)
	}
	if g.claims == nil {
		g.pollEach(ctx, c, g.accounts, now, false, nil)
	} else {
		g.pollClaimed(ctx, c, now)
	}
	return c.rep, errors.Join(c.errs...)
}

// cycle is what a cycle gathers as it polls.
type cycle struct {
	rep  Report
	mail map[string]*mailFor
	errs []error
	// mu guards merges of batches polled at once (pollClaimed).
	mu sync.Mutex
}

func newCycle(now time.Time, mail map[string]*mailFor) *cycle {
	return &cycle{mail: mail, rep: Report{At: now, States: make(map[string]billing.AccountState),
		Holding: make(map[string][]billing.Finding), Accounts: make(map[string]AccountReport)}}
}

// merge adds what batch gathered to c.
func (c *cycle) merge(batch *cycle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, b := &c.rep, &batch.rep
	r.Polled += b.Polled
	r.Findings += b.Findings
	r.Failed = append(r.Failed, b.Failed...)
	r.Held = append(r.Held, b.Held...)
	r.Sent = append(r.Sent, b.Sent...)
	maps.Copy(r.Holding, b.Holding)
	maps.Copy(r.States, b.States)
	maps.Copy(r.Accounts, b.Accounts)
	c.errs = append(c.errs, batch.errs...)
}

func (c *cycle) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

// claimDepth is how many claimed batches a replica polls at once, each of
// Poller.Concurrency/claimDepth accounts; and writeDepth how many more may
// be writing their polls meanwhile. A batch whose polls returned gives its
// share of the concurrency to the next while its polls are written: held
// until they were, the concurrency waited for the database a batch's
// write time after every poll (at 10,000 accounts and 50 ms polls, a
// third of the tick).
const claimDepth, writeDepth = 4, 4

// pollEach polls ws at now, judging each account as its poll returns,
// and adds what it made of them to c. The accounts are judged and written
// one at a time, or, apart, each in its own goroutine as its poll returns
// (a claimed batch on PostgreSQL, where the transactions of different
// accounts run at once): one after the other, a batch's writes took a
// transaction's time per account after its polls, holding the batch's
// claims and its share of the poll concurrency meanwhile.
//
// polled, when not nil, is called once every poll has returned, before
// the last are judged and written.
func (g *Guard) pollEach(ctx context.Context, c *cycle, ws []*watched, now time.Time, apart bool, polled func()) {
	targets := make([]poller.Target, len(ws))
	for i, w := range ws {
		targets[i] = poller.Target{Account: w.account.Name, Source: w.source, Group: w.group}
	}
	judged := make([]judgement, len(ws))
	var judging sync.WaitGroup
	g.poller.Each(ctx, targets, now, func(i int, res poller.Result) {
		if !apart {
			judged[i] = g.judge(ctx, ws[i], res, c.mail, now)
			return
		}
		judging.Go(func() { judged[i] = g.judge(ctx, ws[i], res, c.mail, now) })
	})
	if polled != nil {
		polled()
	}
	judging.Wait()
	rep := &c.rep
	for i, j := range judged {
		name := ws[i].account.Name
		switch {
		case j.failed != nil:
			rep.Failed = append(rep.Failed, j.failed)
		case j.held != nil:
			rep.Polled++
			rep.Held = append(rep.Held, j.held)
		default:
			rep.Polled++
		}
		rep.Findings += len(j.holding)
		rep.Holding[name] = j.holding
		if j.failed == nil {
			rep.States[name] = j.state
		}
		rep.Accounts[name] = j.report
		if j.writeErr != nil {
			c.errs = append(c.errs, fmt.Errorf("write state: account %s: %w", name, j.writeErr))
		}
		rep.Sent = append(rep.Sent, j.due...)
	}
}

// pollClaimed polls the accounts this replica claims, batch by batch,
// until every account was polled since the tick (by this replica or
// another), or half the interval has passed waiting for accounts another
// replica holds. A poll is recorded at its cycle's now, never before the
// cycle's tick: one recorded at or after the tick is this tick's, whoever
// made it and however late.
func (g *Guard) pollClaimed(ctx context.Context, c *cycle, now time.Time) {
	since, interval := g.Tick(now)
	byName := make(map[string]*watched, len(g.accounts))
	var pending queue
	// The accounts this replica polled last go first, so that each
	// replica keeps its ledgers; the others from a place of its own, so
	// that replicas do not all ask for the same ones.
	var mine, others []string
	for _, w := range g.accounts {
		byName[w.account.Name] = w
		if !w.lastPoll.IsZero() && !w.stale {
			mine = append(mine, w.account.Name)
		} else {
			others = append(others, w.account.Name)
		}
	}
	if len(others) > 0 {
		k := rand.IntN(len(others))
		others = append(others[k:], others[:k]...)
	}
	pending.names = append(append(make([]string, 0, len(g.accounts)), mine...), others...)
	conc := g.poller.Concurrency
	if conc <= 0 {
		conc = 4
	}
	limit := max(conc/claimDepth, 1)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	// slots holds a place for each batch polling; batches one for each
	// batch polling or writing.
	slots := make(chan struct{}, claimDepth)
	batches := make(chan struct{}, claimDepth+writeDepth)
	waited, pause := time.Duration(0), g.claimWait/8
	// Each claim asks about a window of the pending accounts, not all of
	// them: 10,000 names a claim would make a tick quadratic. A window
	// none of which was free goes to the back (what is left of it: those
	// done are dropped); asked counts the names moved there since a claim
	// last took any, so that once it reaches the queue's length every
	// account left was asked about, and is held by another replica.
	window, asked := limit*8, 0
	for pending.len() > 0 {
		win := pending.front(window)
		claimed, done, err := g.claims.Claim(ctx, win, since, limit)
		if err != nil {
			c.fail(err)
			return
		}
		gone := make(map[string]bool, len(done)+len(claimed))
		for _, a := range done {
			gone[a] = true
		}
		var ws []*watched
		var names []string
		for _, cl := range claimed {
			gone[cl.Account] = true
			w := byName[cl.Account]
			if w.stale || !w.lastPoll.Equal(cl.LastPoll) {
				// Another replica polled it since this one did.
				if err := g.load(ctx, w, now); err != nil {
					c.fail(err)
					g.claims.Release(ctx, []string{cl.Account})
					continue
				}
			}
			ws = append(ws, w)
			names = append(names, cl.Account)
		}
		kept := pending.drop(len(win), gone)
		if len(ws) > 0 {
			asked, pause = 0, g.claimWait/8
			batches <- struct{}{}
			slots <- struct{}{}
			inFlight.Go(func() {
				defer func() { <-batches }()
				batch := newCycle(now, c.mail)
				g.pollEach(ctx, batch, ws, now, true, func() { <-slots })
				if err := g.claims.Release(ctx, names); err != nil {
					batch.errs = append(batch.errs, err)
				}
				c.merge(batch)
			})
			continue
		}
		if len(claimed) > 0 || pending.len() == 0 {
			continue
		}
		// None free in this window: ask about the next. Only what is
		// left of it moves: the names after it were not asked about
		// (moving a whole window's worth skipped them until the next
		// pass, a wait away; a tick over 10,000 accounts ended in seven
		// waits, 1.75 s, instead of one).
		pending.rotate(kept)
		if asked += kept; asked < pending.len() {
			continue
		}
		asked = 0
		// The rest are held by other replicas: wait for them to finish,
		// or to be gone.
		if waited >= interval/2 {
			c.fail(fmt.Errorf("%d accounts still held by other replicas after %s, such as %s",
				pending.len(), waited, pending.front(1)[0]))
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			c.fail(ctx.Err())
			return
		case <-t.C:
		}
		waited += pause
		pause = min(2*pause, g.claimWait)
	}
}

// queue is a tick's accounts still to claim, in the order they are asked
// about. The claims take from its front a window at a time; taking,
// dropping and moving a window to the back cost what the window holds,
// not the whole queue, so that a tick over n accounts stays linear in n
// however small the windows (one account, at poll.concurrency 4).
type queue struct {
	names []string
	head  int // names[head:] are the queue
}

func (q *queue) len() int { return len(q.names) - q.head }

// front returns the first n names, or all when fewer; valid until the
// next change.
func (q *queue) front(n int) []string { return q.names[q.head : q.head+min(n, q.len())] }

// drop removes the names of the first n that are gone, keeping the order
// of the others, and returns how many of the n are kept.
func (q *queue) drop(n int, gone map[string]bool) (kept int) {
	w := q.front(n)
	j := len(w)
	for i := len(w) - 1; i >= 0; i-- {
		if !gone[w[i]] {
			j--
			w[j] = w[i]
		}
	}
	clear(w[:j])
	q.head += j
	q.compact()
	return len(w) - j
}

// rotate moves the first n names to the back.
func (q *queue) rotate(n int) {
	w := q.front(n)
	q.names = append(q.names, w...)
	clear(w)
	q.head += len(w)
	q.compact()
}

// compact moves the queue to the start of its array once at least half
// of it is free: each name is moved there at most once for every name
// taken from the front, so the moves stay linear too.
func (q *queue) compact() {
	if q.head > 0 && q.head >= len(q.names)/2 {
		n := copy(q.names, q.names[q.head:])
		clear(q.names[n:])
		q.names, q.head = q.names[:n], 0
	}
}

// judgement is what a cycle made of one account's poll.
type judgement struct {
	// failed is set when the poll read nothing usable; held when its
	// reading is held as suspect until the next poll.
	failed, held *AccountError
	holding      []billing.Finding
	state        billing.AccountState
	report       AccountReport
	// due are the notifications written to the outbox; writeErr why the
	// poll and decisions could not be written.
	due      []alert.Notification
	writeErr error
}

// judge adds one account's poll to its ledger, evaluates the rules, and
// writes the poll and the lifecycle's decisions in one transaction.
func (g *Guard) judge(ctx context.Context, w *watched, res poller.Result, mail map[string]*mailFor, now time.Time) judgement {
	var j judgement
	spare, err := w.thaw()
	if err != nil {
		// Never expected (this process froze it): the poll is not judged,
		// and the account's ledger is read again from the store before
		// its next poll.
		w.stale = true
		j.failed = &AccountError{Account: w.account.Name, Err: err}
		return j
	}
	err = res.Err
	var delivered []string
	if err != nil {
		err = fmt.Errorf("poll: %w", err)
	} else if m, ok := mail[w.account.Name]; ok {
		delivered = m.attach(&res.Observation, now)
	}
	var first seen
	if err == nil {
		first.grants, first.charges = w.ledger.Unseen(&res.Observation)
		if aerr := w.ledger.Append(res.Observation); aerr != nil {
			err = fmt.Errorf("%w: %w", poller.ErrInvalid, aerr)
			delivered = nil
		}
	}
	at, judgedBy := res.Observation.At, func(string) bool { return true }
	if err != nil {
		// A blind poll is evaluated only by the rule that watches the
		// source; nothing else may fire or resolve on stale data.
		j.failed = &AccountError{Account: w.account.Name, Err: err}
		at = now
		w.ledger.RecordFailure(at, err)
		j.holding = g.engine.CheckSource(w.ledger, at)
		judgedBy = func(rule string) bool { return rule == rules.SourceRule }
	} else if why, held := w.ledger.Held(); held {
		// A suspect reading waits for the next poll: no rule judges
		// on it, and nothing fires or resolves.
		j.held = &AccountError{Account: w.account.Name, Err: errors.New(why)}
		judgedBy = func(string) bool { return false }
	} else {
		j.holding = g.engine.Check(w.ledger, at)
	}
	j.state = w.ledger.State(at, g.burnWindow)
	j.report = AccountReport{Took: res.Took, OK: err == nil}
	if err == nil {
		j.report.Recharges24h = w.ledger.CountRecharges(at.Add(-24*time.Hour), at, func(*ledger.Recharge) bool { return true })
		j.report.ExpiringSoon = expiringSoon(res.Observation, at, w.account.Currency)
		j.report.Unavailable = unavailableParts(res.Observation)
	}
	holding := j.holding
	explain := func(f billing.Finding) billing.Finding { return g.engine.Explain(w.ledger, at, f, holding) }
	// Stored as the ledger keeps it: with the balance it derived, so a
	// ledger rebuilt from the store continues it. A held reading is
	// stored as read: a ledger rebuilt from the store holds it too.
	o := res.Observation
	if _, held := w.ledger.Held(); !held && err == nil {
		if cur, _ := w.ledger.Current(); cur != nil {
			o = *cur
		}
	}
	// The ledger's checkpoint goes with the observation it holds last,
	// when due; a failed poll changed neither. It is frozen to be stored,
	// and to be held when ledgers are not held live.
	due := g.history != nil && err == nil && w.checkpointDue(newest(w.ledger))
	var frozen ledger.Frozen
	if g.history != nil && (!g.live || due) {
		frozen = w.ledger.Freeze(spare)
	}
	j.due, j.writeErr = g.persist(ctx, &pollWrite{w: w, o: o, first: first, pollErr: err, at: at, frozen: frozen,
		checkpoint: due, holding: holding, explain: explain, judged: judgedBy, state: j.state, receipts: delivered})
	if j.writeErr != nil {
		w.stale = true
		j.due = nil
	} else {
		w.lastPoll = at
		if frozen.Holds() && !g.live {
			w.ledger, w.frozen = nil, frozen
		}
	}
	return j
}

// thaw makes w's ledger live, when it is held frozen, and returns the
// block it was frozen in, for its next Freeze to write over.
func (w *watched) thaw() ([]byte, error) {
	if w.ledger != nil {
		return nil, nil
	}
	l, err := w.frozen.Thaw()
	if err != nil {
		return nil, err
	}
	spare := w.frozen.Checkpoint()
	w.ledger, w.frozen = l, ledger.Frozen{}
	return spare, nil
}

// accountUpdater is a lifecycle.Store whose transactions of one account's
// poll may run beside those of others (store.Store's on PostgreSQL).
type accountUpdater interface {
	UpdateAccount(ctx context.Context, account string, fn func(lifecycle.Tx) error) error
}

// persist records one account's poll (when the state keeps history) with
// the ledger's checkpoint (frozen, when the guard keeps history) and the
// lifecycle's decision in one transaction, and queues the notifications
// due in the outbox. The transaction reads p and fills in what it did:
// one value, where a closure capturing the poll piece by piece moved each
// piece to the heap at every poll.
func (g *Guard) persist(ctx context.Context, p *pollWrite) ([]alert.Notification, error) {
	p.g = g
	w := p.w
	var err error
	if u, ok := g.state.(accountUpdater); ok {
		err = u.UpdateAccount(ctx, w.account.Name, p.write)
	} else {
		err = g.state.Update(ctx, p.write)
	}
	switch {
	case err != nil:
	case !p.wrote.IsZero():
		w.checkpointAt, w.sinceCheckpoint = p.wrote, 0
	case p.stored:
		w.sinceCheckpoint++
	}
	return p.due, err
}

// pollWrite is one account's poll as persist writes it (frozen is the
// ledger frozen after the poll, when the guard keeps history and holds it
// frozen or its checkpoint is due; receipts the mail delivered with the
// poll), and what writing it did: the notifications
// due, whether the observation was stored, and the time of the checkpoint
// written with it (zero if none).
type pollWrite struct {
	g       *Guard // set by persist
	w       *watched
	o       billing.Observation
	first   seen
	pollErr error
	at      time.Time
	frozen  ledger.Frozen
	// checkpoint: frozen is stored as the ledger's checkpoint (due).
	checkpoint bool
	holding    []billing.Finding
	explain    func(billing.Finding) billing.Finding
	judged     func(string) bool
	state      billing.AccountState
	receipts   []string

	due    []alert.Notification
	stored bool
	wrote  time.Time
}

// write is the transaction; it may run more than once (a retried
// transaction), so it sets what it did afresh each time.
func (p *pollWrite) write(tx lifecycle.Tx) error {
	g, w := p.g, p.w
	p.due, p.stored, p.wrote = nil, false, time.Time{}
	if h, ok := tx.(HistoryTx); ok {
		if err := g.current(h, w, p.at); err != nil {
			return err
		}
		if err := recordPoll(h, w.account, p.o, p.first, p.pollErr, p.at); err != nil {
			return err
		}
		p.stored = p.pollErr == nil
		if p.checkpoint {
			cp := g.checkpoint(w, p.frozen)
			if err := h.PutLedgerCheckpoint(cp); err != nil {
				return err
			}
			p.wrote = cp.At
		}
	}
	if m, ok := tx.(MailTx); ok && len(p.receipts) > 0 {
		if err := m.MarkReceiptsDelivered(w.account.Name, p.receipts, p.at); err != nil {
			return err
		}
	}
	ns, err := lifecycle.Decide(tx, w.account.Name, p.holding, p.explain, p.judged, p.state, p.at, g.policy)
	if err != nil {
		return err
	}
	p.due = ns
	return lifecycle.Enqueue(tx, ns, g.receivers, p.at, g.policy)
}

// An account's ledger checkpoint is written with its first poll (and the
// first after the ledger was rebuilt), then with every checkpointEvery-th,
// or sooner when the one stored is checkpointAge old (polls hours apart):
// so it is never older than the state's retention prunes. The checkpoint
// is most of what a poll writes (about 3 KB, compressed, after a month); a new
// process continues it with the observations stored after it (fewer than
// checkpointEvery), each read and appended once.
const (
	checkpointEvery = 8
	checkpointAge   = 24 * time.Hour
)

// checkpointDue says whether the checkpoint of w's ledger at at is written.
func (w *watched) checkpointDue(at time.Time) bool {
	return w.sinceCheckpoint+1 >= checkpointEvery || at.Sub(w.checkpointAt) >= checkpointAge
}

// ErrStale is a poll judged on a history other than the account's stored
// one: nothing it decided is kept, and the account's ledger is rebuilt from
// the store before its next poll.
var ErrStale = errors.New("judged on a stale history")

// current checks, in the transaction that would keep the poll at at and
// its decisions, that they were made on the account's stored history: the
// poll is after the last stored one, and the ledger (when loaded from the
// store) ends at it. Another process that polled the account meanwhile (a
// replica whose claim was lost, a second daemon) would otherwise have its
// poll judged over, and an alert it fired could resolve on this ledger and
// fire again: the same new alert sent twice.
func (g *Guard) current(h HistoryTx, w *watched, at time.Time) error {
	last, ok, err := h.LastPollAt(w.account.Name)
	switch {
	case err != nil:
		return err
	case !ok:
		return nil
	case !at.After(last):
		return fmt.Errorf("%w: the poll at %s is not after the last stored poll at %s",
			ErrStale, at.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
	case g.history != nil && !last.Equal(w.lastPoll):
		return fmt.Errorf("%w: the ledger ends at the poll at %s, the store at the poll at %s (another process polled the account)",
			ErrStale, fmtPoll(w.lastPoll), last.Format(time.RFC3339Nano))
	}
	return nil
}

func fmtPoll(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.Format(time.RFC3339Nano)
}

// checkpoint returns w's ledger's checkpoint for the store, frozen as f.
func (g *Guard) checkpoint(w *watched, f ledger.Frozen) store.LedgerCheckpoint {
	return store.LedgerCheckpoint{Account: w.account.Name, Version: ledger.CheckpointVersion,
		Fingerprint: w.ledger.Fingerprint(), At: newest(w.ledger), Data: f.Checkpoint()}
}

// newest is the time of the newest observation l holds, what its
// checkpoint is at.
func newest(l *ledger.Ledger) time.Time {
	at, _ := l.Newest()
	return at
}

// seen holds the ids of the grants and charges a poll showed that its
// account's ledger had not seen (ledger.Unseen).
type seen struct{ grants, charges []string }

// recordPoll records one poll: the observation it read and what in it was
// seen for the first time, or why it failed.
func recordPoll(tx HistoryTx, account billing.Account, o billing.Observation, first seen, pollErr error, at time.Time) error {
	p := store.Poll{Account: account.Name, At: at, OK: pollErr == nil}
	if pollErr != nil {
		p.Error = pollErr.Error()
		return tx.RecordPoll(p)
	}
	if err := tx.AppendObservation(account, o); err != nil {
		return err
	}
	for part, st := range unavailableParts(o) {
		if p.Unavailable == nil {
			p.Unavailable = make(map[billing.Part]string)
		}
		p.Unavailable[part] = st.Unavailable
	}
	if err := recordFirstSeen(tx, account.Name, o.At, first); err != nil {
		return err
	}
	return tx.RecordPoll(p)
}

// recordFirstSeen keeps when guardd first saw each grant and charge: a fact
// of its own, since providers back-date grants. Only the ids the ledger had
// not seen are written: the others' first sights were written with the
// poll that showed them first (an OpenAI account lists a dozen grants and
// its invoices at every poll: a statement each, every poll, before).
func recordFirstSeen(tx HistoryTx, account string, at time.Time, first seen) error {
	if len(first.grants) > 0 {
		if err := tx.RecordFirstSeen(account, store.KindGrant, first.grants, at); err != nil {
			return err
		}
	}
	if len(first.charges) > 0 {
		return tx.RecordFirstSeen(account, store.KindCharge, first.charges, at)
	}
	return nil
}

// expiringSoon adds up the unused credit of grants expiring within 14 days.
func expiringSoon(o billing.Observation, now time.Time, c billing.Currency) billing.Money {
	sum := billing.NewMoney(decimal.Zero, c)
	if !o.Has(billing.PartGrants) {
		return sum
	}
	for i := range o.Grants {
		g := &o.Grants[i]
		if !g.ExpiresAt.IsZero() && !g.ExpiredAt(now) && g.ExpiresAt.Before(now.Add(14*24*time.Hour)) && g.Remaining().IsPositive() {
			sum = billing.NewMoney(sum.Amount().Add(g.Remaining().Amount()), c)
		}
	}
	return sum
}

// AccountStatus is what guardd knows of an account now: its position, its
// last poll, and how many of its recent polls failed.
type AccountStatus struct {
	Account  billing.Account
	State    billing.AccountState
	LastPoll ledger.PollRecord
	HasPoll  bool
	// FailedPolls counts consecutive failed polls up to the last one.
	FailedPolls int
	// Latest is the position at the newest observation, with where it
	// came from, when there is one (HasLatest).
	Latest    ledger.Point
	HasLatest bool
}

// Status returns every account's status from its ledger (after Load or a
// cycle). It fails only for a ledger held frozen that cannot be read back,
// which this process froze: never expected.
func (g *Guard) Status(now time.Time) ([]AccountStatus, error) {
	var out []AccountStatus
	for _, w := range g.accounts {
		l := w.ledger
		if l == nil {
			var err error
			if l, err = w.frozen.Thaw(); err != nil {
				return nil, err
			}
		}
		// The position is as of the newest observation; the caller shows
		// how old that is.
		at := now
		pt, ok := l.Latest(now)
		if ok {
			at = pt.At
		}
		st := AccountStatus{Account: w.account, State: l.State(at, g.burnWindow), Latest: pt, HasLatest: ok}
		polls := l.RecentPolls(ledger.MaxPolls)
		if len(polls) > 0 {
			st.LastPoll, st.HasPoll = polls[0], true
			for _, p := range polls {
				if p.Err == "" {
					break
				}
				st.FailedPolls++
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// ObservationError is an observation of a replayed history that could not
// be used; Index is its place in the history.
type ObservationError struct {
	Index int
	Err   error
}

func (e *ObservationError) Error() string { return fmt.Sprintf("observations[%d]: %v", e.Index, e.Err) }
func (e *ObservationError) Unwrap() error { return e.Err }

// StoppedError is a replay stopped because its context ended (SIGINT or
// SIGTERM): Done of Total observations were replayed.
type StoppedError struct {
	Done, Total int
	Err         error
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("stopped after %d of %d observations: %v", e.Done, e.Total, e.Err)
}
func (e *StoppedError) Unwrap() error { return e.Err }

// Replay plays the observations of one account through a new guard, with
// its state in memory, as if polled live: one cycle per observation, at its
// time. A replay judges as check and run do (hysteresis included) but never
// repeats an alert, so each is sent once per episode, and sends each
// notification as it is decided (Policy.Immediate). each is called with
// every cycle's report; an observation that cannot be used stops the replay
// with an *ObservationError. When ctx ends the replay stops before the next
// observation with a *StoppedError. name identifies the history in errors.
func Replay(ctx context.Context, account billing.Account, name string, obs []billing.Observation, o Options,
	each func(i int, rep Report) error) error {
	o.State, o.History = nil, nil
	o.Policy.Repeat, o.Policy.Immediate = nil, true
	g := New([]Account{{Account: account, Source: file.New(name, obs)}}, o)
	for i, ob := range obs {
		if ctx.Err() != nil {
			return &StoppedError{Done: i, Total: len(obs), Err: context.Cause(ctx)}
		}
		rep, err := g.Cycle(ctx, ob.At)
		if ctx.Err() != nil {
			// The cycle may have been cut short: observation i does not
			// count as replayed.
			return &StoppedError{Done: i, Total: len(obs), Err: context.Cause(ctx)}
		}
		if len(rep.Failed) > 0 {
			return &ObservationError{Index: i, Err: rep.Failed[0].Err}
		}
		if err != nil {
			return err
		}
		if err := each(i, rep); err != nil {
			return err
		}
	}
	return nil
}

// unavailableParts returns the parts o could not read, each with its
// status; nil when every part attempted was read.
func unavailableParts(o billing.Observation) map[billing.Part]billing.PartStatus {
	var out map[billing.Part]billing.PartStatus
	for p, st := range o.Parts {
		if st.Unavailable != "" {
			if out == nil {
				out = make(map[billing.Part]billing.PartStatus)
			}
			out[p] = st
		}
	}
	return out
}
