package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Claimer hands out the accounts to poll among replicas of guardd run
// that share one PostgreSQL database, so that each account is polled once
// per schedule tick, by one of them.
//
// An account is claimed by taking a session-level advisory lock on it, on
// one connection the Claimer keeps for itself, and is due when it has no
// poll recorded since the tick began. The poll is recorded (in the
// transaction that decides its alerts) before the lock is released, so a
// replica that takes the lock next sees it done. A replica that dies loses
// its connection, and PostgreSQL releases its locks at once: its accounts,
// not recorded as polled, are taken by the others in the same tick. Nothing
// is written for a claim, and no lease has to run out.
//
// Why not a lease table with FOR UPDATE SKIP LOCKED, or a job library such
// as River: both write a row per account per tick (10,000 accounts every 15
// minutes is a million rows a day, vacuumed), and need a lease length
// guessed against the slowest poll, after which a live but slow replica is
// polled over; River also brings its own schema and migrations beside
// ours. The polls table already says what was polled when, and a
// connection's life already says who is alive.
type Claimer struct {
	s    *Store
	mu   sync.Mutex // one query at a time on conn
	conn *sql.Conn
	// ns keeps the account locks apart from other advisory locks: the
	// first half of the two-key form. mailboxNS does the same for the
	// mailboxes' locks (LockMailboxes).
	ns, mailboxNS int32
}

// Claimed is an account a Claimer handed out.
type Claimed struct {
	Account string
	// LastPoll is when the account's last poll recorded was, by whichever
	// replica (zero when never): a replica whose ledger of the account
	// does not end there reloads it from the store.
	LastPoll time.Time
}

// ErrNoClaims is returned by NewClaimer on SQLite, where one daemon holds
// the file (LockDaemon) and claims nothing.
var ErrNoClaims = errors.New("claims need PostgreSQL: a SQLite state has one daemon")

// NewClaimer returns a Claimer on a connection of its own. Close it to
// release every claim.
func (s *Store) NewClaimer(ctx context.Context) (*Claimer, error) {
	if !s.d.dollar {
		return nil, ErrNoClaims
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("claims: connect: %w", s.classify(err))
	}
	// Two halves of the database's lock key, apart from the accounts'
	// writers' (int32(s.lock>>32)): a collision would only make waits.
	return &Claimer{s: s, conn: conn, ns: int32(s.lock), mailboxNS: int32(s.lock >> 16)}, nil
}

// Close releases every claim and the connection.
func (c *Claimer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock_all()")
	return c.conn.Close()
}

// Claim claims up to limit of accounts that have no poll recorded at or
// after since and are not claimed by another replica, and returns them; and
// it returns the accounts that need no poll any more (done since since),
// which the caller stops asking for. Accounts claimed by another replica
// are in neither list: ask again later, when they are done or their
// replica is gone.
func (c *Claimer) Claim(ctx context.Context, accounts []string, since time.Time, limit int) (claimed []Claimed, done []string, err error) {
	claimed, done, err = c.claim(ctx, accounts, since, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("claim accounts to poll: %w", err)
	}
	return claimed, done, nil
}

func (c *Claimer) claim(ctx context.Context, accounts []string, since time.Time, limit int) ([]Claimed, []string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(accounts) == 0 || limit <= 0 {
		return nil, nil, nil
	}
	lo, err := nanos(since)
	if err != nil {
		return nil, nil, err
	}
	// Two round trips, each its own transaction (so with a snapshot of
	// its own, whatever the server's default isolation): the locks, then
	// the last polls, read after them. So an account another replica
	// polled and let go of between this one's check and its lock is seen
	// polled, and let go of again. The second reads only the accounts the
	// first got to: those before its last lock, or all when it took fewer
	// than limit. Reading every account asked about, 8 for each one
	// claimed, was a sixth of PostgreSQL's work in a tick of three
	// replicas (BenchmarkReplicaCycle).
	var locked []claimLock
	var polls []lastPoll
	err = pgxOn(c.conn, func(conn *pgx.Conn) error {
		rows, _ := conn.Query(ctx, claimLocksQuery, accounts, c.ns, limit, lo)
		// A failed Query's rows hold its error, which CollectRows returns.
		var err error
		if locked, err = pgx.CollectRows(rows, pgx.RowToStructByPos[claimLock]); err != nil {
			return err
		}
		reached := accounts
		if len(locked) == limit {
			reached = accounts[:min(locked[len(locked)-1].N, len(accounts))]
		}
		rows, _ = conn.Query(ctx, claimLastPollsQuery, reached)
		polls, err = pgx.CollectRows(rows, pgx.RowToStructByPos[lastPoll])
		return err
	})
	if err != nil {
		names := make([]string, len(locked))
		for i, l := range locked {
			names[i] = l.Account
		}
		c.release(ctx, names)
		return nil, nil, c.s.classify(err)
	}
	var out []Claimed
	var done, late []string
	last := make(map[string]int64, len(polls))
	for _, p := range polls {
		if p.At == nil {
			continue
		}
		last[p.Account] = *p.At
		if *p.At >= lo {
			done = append(done, p.Account)
		}
	}
	for _, l := range locked {
		a := l.Account
		at, ok := last[a]
		if ok && at >= lo {
			late = append(late, a)
			continue
		}
		cl := Claimed{Account: a}
		if ok {
			cl.LastPoll = fromNanos(at)
		}
		out = append(out, cl)
	}
	if err := c.release(ctx, late); err != nil {
		return nil, nil, err
	}
	return out, done, nil
}

// The statements of a claim, with the accounts asked about in order
// ($1).
//
// claimLocksQuery locks up to $3 of them in the namespace $2, skipping
// those polled at or after $4, and returns each with its place in $1
// (from 1): CASE decides in order (never polled, an account's max is NULL
// and it is tried), and LIMIT stops the scan once enough locks are taken:
// each row's lock is tried at most once, and only rows returned hold one.
// claimLastPollsQuery reads each one's last poll.
//
// Both read an account's last poll as max(at), one probe of the index on
// polls (account, at) whatever the table's size and statistics
// (TestPostgresClaimPlans). With account = ANY(list), and with EXISTS
// (run as a hashed subplan over a scan of the whole table), a table not
// yet analyzed (a new database, a first tick) was read whole for every
// claim. Accounts never polled come back with no time: a condition on
// the subquery's result in SQL ("WHERE at IS NOT NULL") ran it, its
// probe, twice.
const (
	claimLocksQuery = `SELECT a, n FROM unnest($1::text[]) WITH ORDINALITY AS t(a, n)
		WHERE CASE WHEN (SELECT max(at) FROM polls WHERE account = a) >= $4 THEN false
			ELSE pg_try_advisory_lock($2::int, hashtext(a)) END
		ORDER BY n LIMIT $3`
	claimLastPollsQuery = `SELECT a, (SELECT max(at) FROM polls WHERE account = a) FROM unnest($1::text[]) AS a`
)

// claimLock is an account a claim locked, and its place among those asked
// about, from 1.
type claimLock struct {
	Account string
	N       int
}

// lastPoll is an account's last poll as a claim reads it: At is nil when
// it was never polled.
type lastPoll struct {
	Account string
	At      *int64
}

// Release gives up the claims on accounts: call it once their polls are
// recorded (or given up on).
func (c *Claimer) Release(ctx context.Context, accounts []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.release(ctx, accounts)
}

func (c *Claimer) release(ctx context.Context, accounts []string) error {
	if len(accounts) == 0 {
		return nil
	}
	if _, err := c.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1::int, hashtext(a)) FROM unnest($2::text[]) AS a`,
		c.ns, accounts); err != nil {
		return fmt.Errorf("release claims: %w", c.s.classify(err))
	}
	return nil
}

// LockMailboxes waits up to wait until no other replica reads any of the
// mailboxes names, and keeps them from doing so until unlock is called:
// the replicas of one tick read each mailbox once, one after the other,
// and the next finds the mailbox's cursor moved in the tick
// (Tx.MailboxCursor) and its receipts filed. It returns the names it
// locked: one still locked by another replica after wait (a mailbox
// server that is slow to answer it) is not, and the caller may read it
// anyway (a receipt read twice is filed once). A replica that dies loses
// its connection and its locks with it.
//
// It tries each lock again every lockRetry instead of waiting in
// pg_advisory_lock: a wait cut short by ctx or by lock_timeout would end
// on the connection the claims need.
func (c *Claimer) LockMailboxes(ctx context.Context, names []string, wait time.Duration) (locked []string, unlock func(), err error) {
	deadline := time.Now().Add(wait)
	todo := slices.Compact(slices.Sorted(slices.Values(names)))
	unlock = func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(locked) == 0 {
			return
		}
		// Unlocked even when ctx is done: a lock kept would keep the
		// mailbox from the other replicas for as long as this one lives.
		c.conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1::int, hashtext(n)) FROM unnest($2::text[]) AS n`,
			c.mailboxNS, locked)
	}
	for {
		var busy []string
		for _, n := range todo {
			ok, err := c.tryMailbox(ctx, n)
			if err != nil {
				unlock()
				return nil, nil, fmt.Errorf("lock mailbox %q: %w", n, err)
			}
			if ok {
				locked = append(locked, n)
			} else {
				busy = append(busy, n)
			}
		}
		todo = busy
		if len(todo) == 0 || !time.Now().Before(deadline) {
			return locked, unlock, nil
		}
		t := time.NewTimer(min(lockRetry, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			unlock()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// lockRetry is how often LockMailboxes tries a lock held by another
// replica.
const lockRetry = 50 * time.Millisecond

func (c *Claimer) tryMailbox(ctx context.Context, name string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ok bool
	if err := c.conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1::int, hashtext($2))", c.mailboxNS, name).Scan(&ok); err != nil {
		return false, c.s.classify(err)
	}
	return ok, nil
}
