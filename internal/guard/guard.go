// Package guard runs guardd's cycle: poll every account, add what was read to
// its ledger, evaluate the rules, and send the notifications due. The same
// cycle serves replay, the one-shot check and the daemon.
package guard

import (
	"context"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
)

// Account is an account to watch and the source that reads it.
type Account struct {
	Account billing.Account
	Source  poller.Source
}

// Options configure a Guard.
type Options struct {
	Params     rules.Params
	Ledger     ledger.Options
	Poller     poller.Poller
	Dispatcher *alert.Dispatcher
}

type watched struct {
	account billing.Account
	source  poller.Source
	ledger  *ledger.Ledger
}

// Guard watches a set of accounts. It is not safe for concurrent cycles; the
// scheduler runs one at a time.
type Guard struct {
	accounts   []*watched
	poller     poller.Poller
	engine     *rules.Engine
	burnWindow time.Duration
	tracker    *alert.Tracker
	dispatcher *alert.Dispatcher
}

// New returns a guard over accounts.
func New(accounts []Account, o Options) *Guard {
	g := &Guard{
		poller:     o.Poller,
		engine:     rules.New(o.Params),
		burnWindow: o.Params.BurnWindow,
		tracker:    alert.NewTracker(),
		dispatcher: o.Dispatcher,
	}
	if g.dispatcher == nil {
		g.dispatcher = &alert.Dispatcher{}
	}
	for _, a := range accounts {
		g.accounts = append(g.accounts, &watched{account: a.Account, source: a.Source, ledger: ledger.New(a.Account, o.Ledger)})
	}
	return g
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
	// was rejected; their rules were not evaluated (a blind poll resolves
	// nothing).
	Failed []*AccountError
	// Findings counts every finding that held, notified or not.
	Findings int
	// Holding is, per account, every finding that held (identified, not
	// explained), inhibited ones included.
	Holding map[string][]billing.Finding
	// Sent lists the notifications handed to the dispatcher.
	Sent []alert.Notification
	// States is each readable account's position after the cycle.
	States map[string]billing.AccountState
}

// Cycle polls every account once at now, evaluates the rules and sends the
// notifications due. Account failures are reported in the Report, not
// returned; the error is for notifications that could not be delivered.
func (g *Guard) Cycle(ctx context.Context, now time.Time) (Report, error) {
	now = now.UTC()
	targets := make([]poller.Target, len(g.accounts))
	for i, w := range g.accounts {
		targets[i] = poller.Target{Account: w.account.Name, Source: w.source}
	}
	rep := Report{At: now, States: make(map[string]billing.AccountState), Holding: make(map[string][]billing.Finding)}
	var due []alert.Notification
	for i, res := range g.poller.Poll(ctx, targets, now) {
		w := g.accounts[i]
		err := res.Err
		if err != nil {
			err = fmt.Errorf("poll: %w", err)
		} else if aerr := w.ledger.Append(res.Observation); aerr != nil {
			err = fmt.Errorf("%w: %w", poller.ErrInvalid, aerr)
		}
		at, holding, judged := res.Observation.At, []billing.Finding(nil), func(string) bool { return true }
		if err != nil {
			// A blind poll is evaluated only by the rule that watches the
			// source; nothing else may fire or resolve on stale data.
			rep.Failed = append(rep.Failed, &AccountError{Account: w.account.Name, Err: err})
			at = now
			w.ledger.RecordFailure(at, err)
			holding = g.engine.CheckSource(w.ledger, at)
			judged = func(rule string) bool { return rule == rules.SourceRule }
		} else {
			rep.Polled++
			holding = g.engine.Check(w.ledger, at)
		}
		rep.Findings += len(holding)
		rep.Holding[w.account.Name] = holding
		state := w.ledger.State(at, g.burnWindow)
		if err == nil {
			rep.States[w.account.Name] = state
		}
		explain := func(f billing.Finding) billing.Finding { return g.engine.Explain(w.ledger, at, f, holding) }
		due = append(due, g.tracker.Update(w.account.Name, holding, explain, judged, state, at)...)
	}
	rep.Sent = due
	if len(due) == 0 {
		return rep, nil
	}
	return rep, g.dispatcher.Dispatch(ctx, due)
}
