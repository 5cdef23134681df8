package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
)

// Compact observations.
//
// An observation's full text is history.EncodeObservation's compact JSON,
// and most of it is the same from one poll to the next: the same twenty
// credit grants but for the one being drawn down, the same cost buckets but
// for today's, the same sources. So an observation may be stored as a delta
// against a base: the full text of an earlier observation of the account,
// kept in the observation_bases table, which any number of later rows
// refer to (observations.base). A row without a base holds the full text,
// as every row written before deltas did.
//
// A delta is the observation's JSON object with the same members in the
// same order, where a value may be written shorter than itself:
//
//   - 0 is the base's value of the same member;
//   - in an array, a number n is the base array's element n, and [a,b] its
//     elements a to b;
//   - an object whose first member is "=" is a patch: the object of the base
//     it names ("=":n, element n of the base's array; "=":0 as a member, the
//     base's member) with the values of the members that follow replaced.
//
// Anything else is itself. The full text holds no numbers and no "=" key,
// so a delta is never ambiguous; and a delta is stored only when it rebuilds
// the very bytes of the full text (AppendObservation checks), so what is
// read back is exactly what the full text would have decoded to. Reading
// rebuilds the full text and decodes it with the same strict decoder as a
// full row: a delta or a base that does not fit (an element it lacks, a
// base missing or of another account, text that is not JSON) is an error
// naming the observation, never a panic.
//
// Which base: the account's current base is the base of its newest row.
// An observation is stored as a delta against it while that delta is
// shorter than the full text and has not drifted from the delta against
// the previous observation by more than a thirty-second of the full text
// (a grant bought since the base, a new day's cost bucket). Otherwise,
// when the observation is close to the previous one (its delta against it
// is at most half the full text), the observation becomes the new base;
// when it is not, it is stored whole. So an account whose observations
// change all over (a DeepSeek balance) keeps whole rows, a poll that could
// not read a part keeps the base, and a base costs one full text every few
// days at most.
//
// Everything happens in the transaction that appends the observation, and
// Prune deletes a base once no row refers to it, in the transaction that
// deletes the rows: a crash leaves both or neither. The foreign key from
// observations.base makes deleting a base still referred to an error,
// never an orphan. Rows written before deltas have no base and are read as
// they always were.

// storedRow is an account's newest stored observation as stored: its full
// text, or a delta against base.
type storedRow struct {
	found bool
	at    int64
	base  sql.NullInt64
	data  []byte
}

// lastRow returns account's newest stored observation; found is false when
// it has none.
func (tx *Tx) lastRow(account string) (storedRow, error) {
	r := storedRow{found: true}
	err := tx.queryRow([]any{&r.at, &r.base, &r.data},
		"SELECT at, base, data FROM observations WHERE account = ? ORDER BY at DESC LIMIT 1", account)
	if errors.Is(err, sql.ErrNoRows) {
		return storedRow{}, nil
	}
	return r, err
}

// compact returns what to store of an observation whose full text is full,
// the newest stored one being last (see the policy above): a delta and the
// base it is against, or full and no base. A delta is used only when it
// rebuilds full byte for byte.
func (tx *Tx) compact(account string, full []byte, last storedRow) ([]byte, sql.NullInt64, error) {
	none := sql.NullInt64{}
	if !last.found {
		return full, none, nil
	}
	var (
		cur    *base  // the current base
		onBase []byte // the delta against it
		prev   = last.data
	)
	if last.base.Valid {
		var err error
		if cur, err = tx.base(account, last.base.Int64); err != nil {
			return nil, none, err
		}
		if cur == nil {
			// A base that cannot be used is not built on; reading the
			// rows that refer to it reports it.
			return full, none, nil
		}
		if onBase, err = diff(full, cur); err != nil {
			return full, none, nil
		}
		if len(onBase) <= len(full)/drift {
			// Short enough whatever the delta against the previous one.
			return onCurrent(onBase, full, cur, last.base)
		}
		if prev, err = patch(nil, last.data, cur); err != nil {
			return full, none, nil
		}
	}
	var onPrev []byte // the delta against the previous observation
	if p, err := newBase(prev); err == nil {
		onPrev, _ = diff(full, p)
	}
	switch {
	case onBase != nil && len(onBase) < len(full) &&
		(onPrev == nil || len(onBase)-len(onPrev) <= len(full)/drift):
		return onCurrent(onBase, full, cur, last.base)
	case onPrev == nil || len(onPrev)*2 > len(full):
		return full, none, nil
	}
	// The observation is close to the previous one, and the base (if any)
	// has drifted away from both: start a new base.
	nb, err := newBase(full)
	if err != nil {
		return full, none, nil
	}
	d, err := diff(full, nb)
	if err != nil {
		return full, none, nil
	}
	if !rebuilds(d, full, nb) {
		return full, none, nil
	}
	r, err := tx.exec("INSERT INTO observation_bases (account, data) VALUES (?, ?)", account, string(full))
	if err != nil {
		return nil, none, err
	}
	id, err := r.LastInsertId()
	if err != nil {
		return nil, none, err
	}
	return d, sql.NullInt64{Int64: id, Valid: true}, nil
}

// onCurrent returns delta d against the current base cur (whose id is
// id), or full without a base when d does not rebuild it.
func onCurrent(d, full []byte, cur *base, id sql.NullInt64) ([]byte, sql.NullInt64, error) {
	if !rebuilds(d, full, cur) {
		return full, sql.NullInt64{}, nil
	}
	return d, id, nil
}

// rebuilds reports whether delta d against b rebuilds full byte for byte.
func rebuilds(d, full []byte, b *base) bool {
	back, err := patch(make([]byte, 0, len(full)), d, b)
	return err == nil && bytes.Equal(back, full)
}

// drift is how much longer than the delta against the previous
// observation the delta against the base may grow, as a fraction of the
// full text (1/drift), before a new base is started: a new base costs one
// full text, a drifted one costs the difference at every poll.
const drift = 32

// base reads account's base id, or nil when it is missing, of another
// account or not an object.
func (tx *Tx) base(account string, id int64) (*base, error) {
	var owner string
	var data []byte
	err := tx.queryRow([]any{&owner, &data}, "SELECT account, data FROM observation_bases WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil || owner != account {
		return nil, err
	}
	b, err := newBase(data)
	if err != nil {
		return nil, nil
	}
	return b, nil
}

// baseSet holds the bases an account's observations refer to, each split
// once, when first used.
type baseSet struct {
	account string
	text    map[int64][]byte
	owner   map[int64]string
	split   map[int64]*base
}

// basesOf reads the bases of account's observations at or after lo.
func (tx *Tx) basesOf(account string, lo int64) (*baseSet, error) {
	bs := &baseSet{account: account, text: make(map[int64][]byte), owner: make(map[int64]string), split: make(map[int64]*base)}
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
func (bs *baseSet) rebuild(out, delta []byte, id int64) ([]byte, error) {
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
		if b, err = newBase(text); err != nil {
			return nil, fmt.Errorf("its base %d: %w", id, err)
		}
		bs.split[id] = b
	}
	out, err := patch(out, delta, b)
	if err != nil {
		return nil, fmt.Errorf("its delta against base %d: %w", id, err)
	}
	return out, nil
}
