package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store/pgtest"
)

// holdTurns takes every turn of s's account writers with a transaction
// that waits; release lets them commit, and returns once they did.
func holdTurns(t *testing.T, s *Store) (release func()) {
	t.Helper()
	inside, let := make(chan struct{}), make(chan struct{})
	errs := make(chan error, accountWriters)
	for i := range accountWriters {
		name := fmt.Sprintf("holder%d", i)
		go func() {
			errs <- s.UpdateAccount(t.Context(), name, func(tx *Tx) error {
				inside <- struct{}{}
				<-let
				return recordsPoll(name)(tx)
			})
		}()
		<-inside
	}
	return func() {
		close(let)
		for range accountWriters {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}

// queued starts UpdateAccount(ctx, account, fn) for each write (ctx the
// test's when nil), in order, each once the one before waits in s's
// queue, and returns their outcomes' channels.
func queued(t *testing.T, s *Store, writes []accountWrite) []chan error {
	t.Helper()
	outs := make([]chan error, len(writes))
	for i, w := range writes {
		outs[i] = make(chan error, 1)
		ctx := w.ctx
		if ctx == nil {
			ctx = t.Context()
		}
		go func() { outs[i] <- s.UpdateAccount(ctx, w.account, w.fn) }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			s.queue.mu.Lock()
			n := len(s.queue.waiting)
			s.queue.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes wait, want %d", n, i+1)
			}
		}
	}
	return outs
}

// recordsPoll is an account transaction that records a poll of name.
func recordsPoll(name string) func(*Tx) error {
	return func(tx *Tx) error { return tx.RecordPoll(Poll{Account: name, At: t0, OK: true}) }
}

// pollsOf lists, comma-separated, the accounts whose names are LIKE like
// that have polls stored.
func pollsOf(t *testing.T, s *Store, like string) string {
	t.Helper()
	var accounts sql.NullString
	if err := s.db.QueryRowContext(t.Context(), "SELECT string_agg(DISTINCT account, ',' ORDER BY account) FROM polls WHERE account LIKE $1",
		like).Scan(&accounts); err != nil {
		t.Fatal(err)
	}
	return accounts.String
}

// TestPostgresWritesTogether: account transactions that wait for a turn
// are written in one transaction, but for a second transaction of an
// account, which is written in another (it must see the first's writes,
// which a transaction's prefetch, taken at BEGIN, would not).
func TestPostgresWritesTogether(t *testing.T) {
	ctx := t.Context()
	s := postgresBackend.at(t, pgtest.DSN(t), Options{})
	release := holdTurns(t, s)
	const n = 10
	xids := make([]string, n+1) // the transaction each write ran in
	// q0's second write only records a poll: either of q0's may be
	// written first (their batches run at once; each takes the account's
	// lock), and observations must come in order.
	var statements []int // the arguments of the statements waiting after q9's writes
	write := func(i int, name string, at time.Time, observe bool) accountWrite {
		return accountWrite{account: name, fn: func(tx *Tx) error {
			if err := tx.queryRow([]any{&xids[i]}, "SELECT pg_current_xact_id()::text"); err != nil {
				return err
			}
			if observe {
				if err := tx.AppendObservation(account(name), observation(name, at, 1)); err != nil {
					return err
				}
			}
			if err := tx.RecordPoll(Poll{Account: name, At: at, OK: true}); err != nil {
				return err
			}
			if name == "q9" {
				statements = waitingArgs(tx)
			}
			return nil
		}}
	}
	var writes []accountWrite
	for i := range n {
		writes = append(writes, write(i, fmt.Sprintf("q%d", i), t0, true))
	}
	writes = append(writes, write(n, "q0", t0.Add(time.Minute), false))
	outs := queued(t, s, writes)
	release()
	for i, out := range outs {
		if err := <-out; err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	for i := 1; i < n; i++ {
		if xids[i] != xids[0] {
			t.Errorf("q%d was written in transaction %s, q0 in %s: want one for all ten", i, xids[i], xids[0])
		}
	}
	// One statement for the ten observations (4 arguments each), one for
	// the ten polls (6 each).
	if want := []int{n * 4, n * 6}; !slices.Equal(statements, want) {
		t.Errorf("arguments of the statements waiting after the ten: %v, want %v", statements, want)
	}
	if xids[n] == xids[0] {
		t.Errorf("q0's second write was in its first's transaction, %s", xids[0])
	}
	var polls, obs int
	if err := s.db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM polls WHERE account LIKE 'q%'), (SELECT count(*) FROM observations)").
		Scan(&polls, &obs); err != nil || polls != n+1 || obs != n {
		t.Errorf("stored %d polls, %d observations (%v); want %d, %d", polls, obs, err, n+1, n)
	}
}

// TestPostgresTogetherFailsAlone: when one account of a batch fails, by its
// function's error or by a write the server refuses at COMMIT, that account
// fails alone with its own error, and the others are written (their
// functions run again, alone: a function of an account after the one that
// failed had not run); nothing of the failed one is kept.
func TestPostgresTogetherFailsAlone(t *testing.T) {
	errDecide := errors.New("the poll's decisions failed")
	for _, c := range []struct {
		name    string
		fail    func(tx *Tx) error
		wantErr string
		// runs is how many times each account's function runs: the
		// batch's, in the accounts' order, stop at the one that fails.
		runs [5]int32
	}{
		{"its function fails", func(*Tx) error { return errDecide }, errDecide.Error(), [5]int32{2, 2, 2, 1, 1}},
		{"a write is refused", func(tx *Tx) error {
			return tx.execLater("first_seen", "a sight of no kind", firstSeenInsert, "f2", "invoice", "x", 1)
		}, `commit: a sight of no kind: ERROR: new row for relation "first_seen" violates check constraint "first_seen_kind_check" (SQLSTATE 23514)`,
			[5]int32{2, 2, 2, 2, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := postgresBackend.at(t, pgtest.DSN(t), Options{})
			release := holdTurns(t, s)
			var runs [5]atomic.Int32
			var writes []accountWrite
			for i := range runs {
				name := fmt.Sprintf("f%d", i)
				writes = append(writes, accountWrite{account: name, fn: func(tx *Tx) error {
					runs[i].Add(1)
					if err := recordsPoll(name)(tx); err != nil {
						return err
					}
					if i == 2 {
						return c.fail(tx)
					}
					return nil
				}})
			}
			outs := queued(t, s, writes)
			release()
			for i, out := range outs {
				err := <-out
				if i == 2 {
					wantErr(t, err, c.wantErr)
					continue
				}
				if err != nil {
					t.Errorf("f%d: %v", i, err)
				}
			}
			for i := range runs {
				if got := runs[i].Load(); got != c.runs[i] {
					t.Errorf("f%d's function ran %d times, want %d", i, got, c.runs[i])
				}
			}
			if got := pollsOf(t, s, "f%"); got != "f0,f1,f3,f4" {
				t.Errorf("polls stored of %q, want f0,f1,f3,f4", got)
			}
		})
	}
}

// TestPostgresTogetherCancelled: a write whose context ends while it waits
// is not begun, and the others waiting are written without it.
func TestPostgresTogetherCancelled(t *testing.T) {
	ctx := t.Context()
	s := postgresBackend.at(t, pgtest.DSN(t), Options{})
	release := holdTurns(t, s)
	cctx, cancel := context.WithCancel(ctx)
	var ran atomic.Bool
	outs := queued(t, s, []accountWrite{
		{account: "a", fn: recordsPoll("a")},
		{ctx: cctx, account: "b", fn: func(tx *Tx) error {
			ran.Store(true)
			return recordsPoll("b")(tx)
		}},
		{account: "c", fn: recordsPoll("c")},
	})
	cancel()
	if err := <-outs[1]; !errors.Is(err, context.Canceled) {
		t.Errorf("b, cancelled while it waited: got %v, want context.Canceled", err)
	}
	release()
	for _, i := range []int{0, 2} {
		if err := <-outs[i]; err != nil {
			t.Error(err)
		}
	}
	if ran.Load() {
		t.Error("b's function ran after its context ended")
	}
	if got := pollsOf(t, s, "_"); got != "a,c" {
		t.Errorf("polls stored of %q, want a,c", got)
	}
}

// TestPostgresBatchPrefetch: what a batch reads of its accounts with BEGIN
// (four statements for all of them) is what the queries of one account
// answer for each: its last poll, its last observation as stored and that
// one's base, its firing alerts in order, and the silences that could apply
// to it, or none when it has too many to prefetch. The accounts differ in
// all of these; a silence of an account outside the batch is not read.
func TestPostgresBatchPrefetch(t *testing.T) {
	ctx := t.Context()
	s := postgresBackend.at(t, pgtest.DSN(t), Options{})
	alert := func(name, rule string, state lifecycle.State, fired time.Time) lifecycle.Alert {
		a := lifecycle.Alert{Fingerprint: billing.Fingerprint(rule, name, ""), Account: name, Rule: rule,
			Severity: billing.SeverityWarning, State: state, FiredAt: fired, LastSentAt: fired, LastSeenAt: fired,
			Finding: []byte(`{"summary":"s"}`)}
		if state == lifecycle.Resolved {
			a.ResolvedAt = fired.Add(time.Minute)
		}
		return a
	}
	silence := func(tx *Tx, account string) error {
		_, err := tx.AddSilence(lifecycle.Silence{Account: account, Start: t0, End: t0.Add(time.Hour), Comment: "c"})
		return err
	}
	for i := range 3 { // b's observations: whole, then on a new base, then on it
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.UpdateAccount(ctx, "b", func(tx *Tx) error {
			if err := tx.AppendObservation(account("b"), observation("b", at, 1)); err != nil {
				return err
			}
			return tx.RecordPoll(Poll{Account: "b", At: at, OK: true})
		}); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.AppendObservation(account("c"), observation("c", t0, 2)); err != nil {
			return err
		}
		if err := tx.RecordPoll(Poll{Account: "c", At: t0.Add(time.Hour), OK: false, Error: "e"}); err != nil {
			return err
		}
		for _, a := range []lifecycle.Alert{alert("b", "r1", lifecycle.Firing, t0), alert("b", "r2", lifecycle.Resolved, t0),
			alert("c", "r2", lifecycle.Firing, t0.Add(time.Minute)), alert("c", "r1", lifecycle.Firing, t0)} {
			if err := tx.PutAlert(a); err != nil {
				return err
			}
		}
		for _, account := range []string{"", "", "c", "outside"} {
			if err := silence(tx, account); err != nil {
				return err
			}
		}
		for range maxPrefetchedSilences {
			if err := silence(tx, "d"); err != nil {
				return err
			}
		}
		return nil
	})
	names := []string{"a", "b", "c", "d"}
	got := make([]prefetched, len(names))
	var batch []*accountWrite
	for i, name := range names {
		batch = append(batch, &accountWrite{account: name, fn: func(tx *Tx) error {
			got[i] = tx.pipe.pre
			return nil
		}})
	}
	if err := s.runPipelined(ctx, batch); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx *Tx) error {
		for i, name := range names {
			g := got[i]
			if !g.havePoll || !g.haveRow || !g.haveFiring || g.account != name {
				t.Errorf("%s: prefetched %v %v %v of %q, want all of %q", name, g.havePoll, g.haveRow, g.haveFiring, g.account, name)
			}
			var poll sql.NullInt64
			if err := tx.queryRow([]any{&poll}, lastPollQuery, name); err != nil {
				return err
			}
			if g.poll != poll {
				t.Errorf("%s: last poll %v, want %v", name, g.poll, poll)
			}
			row, err := tx.lastRow(name)
			if err != nil {
				return err
			}
			if fmt.Sprintf("%+v", g.row) != fmt.Sprintf("%+v", row) {
				t.Errorf("%s: last row\n%+v\nwant\n%+v", name, g.row, row)
			}
			// As FiringAlerts reads them alone: without their findings.
			firing, err := tx.FiringAlerts(name)
			if err != nil {
				return err
			}
			for _, a := range firing {
				if a.Finding != nil {
					t.Errorf("%s: alert %s read with its finding", name, a.Rule)
				}
			}
			if fmt.Sprint(g.firing) != fmt.Sprint(firing) {
				t.Errorf("%s: firing\n%v\nwant\n%v", name, g.firing, firing)
			}
			all, err := tx.silences("SELECT "+silenceColumns+" FROM silences WHERE account IN ('', ?) ORDER BY id", name)
			if err != nil {
				return err
			}
			want := len(all) <= maxPrefetchedSilences
			if !want {
				all = nil
			}
			if g.haveSilences != want || fmt.Sprint(g.silences) != fmt.Sprint(all) {
				t.Errorf("%s: silences %v (%d), want %v (%d)", name, g.haveSilences, len(g.silences), want, len(all))
			}
		}
		return nil
	})
	// What the data was made to be.
	if !got[1].row.base.Valid || got[2].row.base.Valid || got[0].row.found || got[0].poll.Valid {
		t.Errorf("b's last row has no base, c's has, or a has a row or a poll: the test's data is not what it says")
	}
	if len(got[2].firing) != 2 || len(got[1].firing) != 1 || len(got[2].silences) != 3 || got[3].haveSilences {
		t.Errorf("c's firing alerts, b's, c's silences or d's: the test's data is not what it says")
	}
}

// TestPostgresAccountLocksByKey: two writers whose accounts' lock keys
// collide (hashtext is 32 bits: found here among generated names) take
// them in one order, so neither waits for the other crosswise. T1 writes
// a1, c and a2, T2 b1 and b2, where a1 and b2 share a key and so do a2
// and b1; a third transaction holds c's key, so that T1 holds a1's key
// while T2 starts. Taken in the accounts' order, T2 then held b1's key,
// which T1 waited for, while it waited for a1's: the server ended the
// deadlock after a second by failing one of them.
func TestPostgresAccountLocksByKey(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	s := postgresBackend.at(t, dsn, Options{})
	db := rawPG(t, dsn)
	var pairs [][]string
	rows, err := db.QueryContext(ctx, `SELECT min(n), max(n) FROM
		(SELECT 'acct-' || g AS n FROM generate_series(1, 400000) AS g) AS names
		GROUP BY hashtext(n) HAVING count(*) = 2 LIMIT 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var first, second string
		if err := rows.Scan(&first, &second); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, []string{first, second})
	}
	if err := rows.Err(); err != nil || len(pairs) != 2 {
		t.Fatalf("colliding names: %v (%v), want two pairs", pairs, err)
	}
	a1, b2, a2, b1, c := pairs[0][0], pairs[0][1], pairs[1][0], pairs[1][1], "acct-c"
	begin := func() (*sql.Conn, *sql.Tx, int) {
		t.Helper()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		var pid int
		if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		return conn, tx, pid
	}
	lock := func(tx *sql.Tx, accounts ...string) <-chan error {
		done := make(chan error, 1)
		go func() {
			for _, st := range postgresAccountsLock(s, accounts) {
				if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		return done
	}
	// waiting waits until pid waits for a lock, or done has its result.
	waiting := func(pid int, done <-chan error) {
		t.Helper()
		for range 500 {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", pid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 || len(done) > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("backend %d neither waits for a lock nor is done", pid)
	}
	_, holder, _ := begin()
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1::int, hashtext($2))", int32(s.lock>>32), c); err != nil {
		t.Fatal(err)
	}
	_, t1, pid1 := begin()
	done1 := lock(t1, a1, c, a2)
	waiting(pid1, done1)
	_, t2, pid2 := begin()
	done2 := lock(t2, b1, b2)
	waiting(pid2, done2)
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	// Whichever locks first finishes; the other then gets its locks.
	for i := 0; i < 2; i++ {
		select {
		case err := <-done1:
			if err != nil {
				t.Errorf("T1 (%s, %s, %s): %v", a1, c, a2, err)
			}
			t1.Commit()
		case err := <-done2:
			if err != nil {
				t.Errorf("T2 (%s, %s): %v", b1, b2, err)
			}
			t2.Commit()
		case <-time.After(30 * time.Second):
			t.Fatal("the writers still wait after 30 s")
		}
	}
}
