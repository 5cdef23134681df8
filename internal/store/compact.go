package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/guardd/guardd/internal/store/delta"
)

// Compact observations.
//
// An observation's full text is history.EncodeObservation's compact JSON,
// and most of it is the same from one poll to the next: the same twenty
// credit grants but for the one being drawn down, the same cost buckets but
// for today's, the same sources. So an observation may be stored as a delta
// (package delta: the encoding, and which form each poll is stored in)
// against a base: the full text of an earlier observation of the account,
// kept in the observation_bases table, which any number of later rows
// refer to (observations.base). A row without a base holds the full text,
// as every row written before deltas did, and reads as it always did; rows
// of both kinds read side by side. The account's current base is the base
// of its newest row.
//
// Reading rebuilds the full text and decodes it with the same strict
// decoder as a full row: a delta or a base that does not fit (an element
// it lacks, a base missing or of another account, text that is not JSON)
// is an error naming the observation, never a panic.
//
// Everything happens in the transaction that appends the observation, and
// Prune deletes a base once no row refers to it, in the transaction that
// deletes the rows: a crash leaves both or neither. The foreign key from
// observations.base makes deleting a base still referred to an error,
// never an orphan.

// storedRow is an account's newest stored observation as stored: its full
// text, or a delta against base.
type storedRow struct {
	found bool
	at    int64
	base  sql.NullInt64
	data  []byte
	// owner and baseText are base's account and full text, read with
	// the row (NULL when it has no base, or its base is missing).
	owner    sql.NullString
	baseText []byte
}

// dest is what a row of lastRowQuery is scanned into.
func (r *storedRow) dest() []any {
	return []any{&r.at, &r.base, &r.data, &r.owner, &r.baseText}
}

// lastRow returns account's newest stored observation; found is false when
// it has none.
func (tx *Tx) lastRow(account string) (storedRow, error) {
	if p := tx.pipe; p != nil && p.pre.haveRow && p.pre.account == account {
		return p.pre.row, nil
	}
	r := storedRow{found: true}
	err := tx.queryRow(r.dest(), lastRowQuery, account)
	if errors.Is(err, sql.ErrNoRows) {
		return storedRow{}, nil
	}
	return r, err
}

// compact returns what to store of an observation whose full text is full,
// the newest stored one being last (delta.Choose): a delta and the base it
// is against; or a delta against a new base, full itself (fresh true); or
// full and no base.
func compact(account string, full []byte, last storedRow) (data []byte, base sql.NullInt64, fresh bool) {
	none := sql.NullInt64{}
	if !last.found {
		return full, none, false
	}
	var cur *delta.Base
	if last.base.Valid {
		if cur = last.currentBase(account); cur == nil {
			// A base that cannot be used is not built on; reading the
			// rows that refer to it reports it.
			return full, none, false
		}
	}
	form, data := delta.Choose(full, last.data, cur)
	switch form {
	case delta.OnCurrent:
		return data, last.base, false
	case delta.OnNew:
		return data, none, true
	}
	return full, none, false
}

// Queries of an observation's row, and of one with a new base.
const (
	insertObservationHead = "INSERT INTO observations (account, at, data, base) VALUES "
	insertObservationRow  = "(?, ?, ?, ?)"
	insertBase            = "INSERT INTO observation_bases (account, data) VALUES (?, ?) RETURNING id"
	// insertOnNewBase is both in one statement, for PostgreSQL: the
	// base's id goes from the one to the other in the server.
	insertOnNewBase = "WITH b AS (" + insertBase + ") INSERT INTO observations (account, at, data, base) VALUES (?, ?, ?, (SELECT id FROM b))"
)

// appendRow stores account's observation at at: data, against base, or
// against a new base whose text is full when fresh. what names the write
// in an error.
//
// In a pipelined transaction the new base and the row are one statement,
// which waits with the other writes: reading the base's id back took a
// round trip of its own, a third of a poll's round trips when the poll
// wrote a base. SQLite, whose statements run at once, inserts the base
// first and reads its id back (its WITH holds no INSERT).
func (tx *Tx) appendRow(account string, at int64, data []byte, base sql.NullInt64, full []byte, fresh bool, what string) error {
	if fresh && tx.pipe != nil {
		// Its table is named so that a later statement reading either
		// table sends it first.
		return tx.execLater("observation", what, insertOnNewBase, account, string(full), account, at, string(data))
	}
	if fresh {
		var id int64
		if err := tx.queryRow([]any{&id}, insertBase, account, string(full)); err != nil {
			return err
		}
		base = sql.NullInt64{Int64: id, Valid: true}
	}
	return tx.execLaterRow("observations", what, insertObservationHead, insertObservationRow, "", "", account, at, string(data), base)
}

// currentBase returns the base r refers to, or nil when it is missing, of
// another account or not an object.
func (r storedRow) currentBase(account string) *delta.Base {
	if !r.owner.Valid || r.owner.String != account {
		return nil
	}
	b, err := delta.NewBase(r.baseText)
	if err != nil {
		return nil
	}
	return b
}

// baseSet holds the bases an account's observations refer to, each split
// once, when first used.
type baseSet struct {
	account string
	text    map[int64][]byte
	owner   map[int64]string
	split   map[int64]*delta.Base
}

// basesOf reads the bases of account's observations at or after lo.
func (tx *Tx) basesOf(account string, lo int64) (*baseSet, error) {
	bs := &baseSet{account: account, text: make(map[int64][]byte), owner: make(map[int64]string), split: make(map[int64]*delta.Base)}
	rows, err := tx.query(`SELECT id, account, data FROM observation_bases WHERE id IN
		(SELECT base FROM observations WHERE account = ? AND at >= ? AND base IS NOT NULL)`, account, lo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var owner string
		var data []byte
		if err := rows.Scan(&id, &owner, &data); err != nil {
			return nil, tx.s.classify(err)
		}
		bs.text[id], bs.owner[id] = data, owner
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return bs, nil
}

// rebuild appends to out the full text of a delta against base id.
func (bs *baseSet) rebuild(out, d []byte, id int64) ([]byte, error) {
	b, ok := bs.split[id]
	if !ok {
		text, found := bs.text[id]
		switch {
		case !found:
			return nil, fmt.Errorf("its base %d is missing", id)
		case bs.owner[id] != bs.account:
			return nil, fmt.Errorf("its base %d is of account %q", id, bs.owner[id])
		}
		var err error
		if b, err = delta.NewBase(text); err != nil {
			return nil, fmt.Errorf("its base %d: %w", id, err)
		}
		bs.split[id] = b
	}
	out, err := delta.Patch(out, d, b)
	if err != nil {
		return nil, fmt.Errorf("its delta against base %d: %w", id, err)
	}
	return out, nil
}
