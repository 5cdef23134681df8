package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Account transactions written together, on PostgreSQL.
//
// A replica's polls return faster than accountWriters transactions can
// write them when its CPU or the server's is the bound: then the
// transactions wait for a turn. Instead of each waiting for one of its
// own, those waiting when a turn comes are written in one transaction
// (group commit): the accounts' BEGIN, locks and prefetches in one round
// trip, each account's fn in turn, and every write and COMMIT in another.
// Two round trips, one BEGIN and one COMMIT for up to maxTogether
// accounts, where each took its own: on the test machine a third of the
// server's CPU an account went to the round trips and the commit.
//
// Nothing changes for the caller but how long it waits: each account's fn
// still sees its account's rows as committed before it (a batch never holds
// one account twice, and its accounts' rows are theirs alone: see
// UpdateAccount), and its error is its own. When anything in a batch
// fails (an fn's error, a write refused at COMMIT, the connection), the
// batch is rolled back and each of its accounts written again alone, so
// that the account that failed fails alone, with its error, and the
// others are kept. fn may therefore run twice; UpdateAccount says so.
//
// With a turn free, a transaction is written at once and alone, as it
// always was: batches form only when writers wait.

// maxTogether bounds the accounts written in one transaction: their locks
// are held until its COMMIT, and its statements wait in memory.
const maxTogether = 16

// accountWrite is one UpdateAccount waiting to be written.
type accountWrite struct {
	ctx     context.Context
	account string
	fn      func(*Tx) error
	// done receives the transaction's outcome, once.
	done chan error
	// taken is set when a writer takes it from the queue (under the
	// queue's lock).
	taken bool
}

// writeQueue holds the account transactions waiting for a turn, oldest
// first.
type writeQueue struct {
	mu      sync.Mutex
	waiting []*accountWrite
}

func (q *writeQueue) add(w *accountWrite) {
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	q.mu.Unlock()
}

// remove takes w out of the queue; false when a writer took it first.
func (q *writeQueue) remove(w *accountWrite) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.taken {
		return false
	}
	q.waiting = slices.DeleteFunc(q.waiting, func(o *accountWrite) bool { return o == w })
	return true
}

// isTaken says whether a writer took w.
func (q *writeQueue) isTaken(w *accountWrite) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return w.taken
}

// take takes up to maxTogether of the waiting, oldest first, no account
// twice: a second transaction of an account must see what the first
// wrote, so it waits for a batch after the first's.
func (q *writeQueue) take() []*accountWrite {
	q.mu.Lock()
	defer q.mu.Unlock()
	var batch []*accountWrite
	kept := q.waiting[:0]
	for _, w := range q.waiting {
		if len(batch) < maxTogether && !slices.ContainsFunc(batch, func(b *accountWrite) bool { return b.account == w.account }) {
			w.taken = true
			batch = append(batch, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(q.waiting[len(kept):])
	q.waiting = kept
	return batch
}

// writeAccount runs UpdateAccount's transaction on PostgreSQL: it waits
// in the queue until a writer (itself, with a turn, or another) writes
// it.
func (s *Store) writeAccount(ctx context.Context, account string, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	w := &accountWrite{ctx: ctx, account: account, fn: fn, done: make(chan error, 1)}
	s.queue.add(w)
	for {
		if s.queue.isTaken(w) {
			// Another writer has it: no turn is taken, which would
			// find nothing of it to write.
			return <-w.done
		}
		select {
		case err := <-w.done:
			return err
		case s.writers <- struct{}{}:
			s.writeBatch(s.queue.take())
			<-s.writers
		case <-ctx.Done():
			if s.queue.remove(w) {
				return fmt.Errorf("begin write transaction: %w", ctx.Err())
			}
			// A writer has it: its outcome comes.
			return <-w.done
		}
	}
}

// writeBatch writes batch (possibly empty) and gives each its outcome.
func (s *Store) writeBatch(batch []*accountWrite) {
	// One whose context ended while it waited is not begun.
	batch = slices.DeleteFunc(batch, func(w *accountWrite) bool {
		if err := w.ctx.Err(); err != nil {
			w.done <- fmt.Errorf("begin write transaction: %w", err)
			return true
		}
		return false
	})
	switch len(batch) {
	case 0:
		return
	case 1:
		w := batch[0]
		w.done <- s.runPipelined(w.ctx, batch)
		return
	}
	// The functions run in the accounts' order, whatever order they
	// came in. The locks are taken in their keys' order, as every batch
	// takes them (postgresAccountsLock), so two batches do not wait for
	// each other crosswise.
	slices.SortFunc(batch, func(a, b *accountWrite) int { return strings.Compare(a.account, b.account) })
	ctx, cancel := whileAnyWaits(batch)
	err := s.runPipelined(ctx, batch)
	cancel()
	if err == nil {
		for _, w := range batch {
			w.done <- nil
		}
		return
	}
	// Each alone, as a batch of one: not begun if its context ended.
	for _, w := range batch {
		s.writeBatch([]*accountWrite{w})
	}
}

// whileAnyWaits returns a context that ends when every one of batch's
// has ended: a batch is written while one of its callers still waits for
// it.
func whileAnyWaits(batch []*accountWrite) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int32
	left.Store(int32(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, w := range batch {
		stops[i] = context.AfterFunc(w.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
