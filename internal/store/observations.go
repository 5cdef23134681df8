package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
)

// AppendObservation stores o as account's newest observation, in the JSON
// form of history.EncodeObservation, whole or as a delta against a base
// (compact.go); Observations reads it back the same either way. o.At must
// be after the account's last
// stored observation; an observation at the same or an earlier time is an
// error naming both times, and nothing is written. o must read back with
// history.DecodeObservation, and its money must be in the account's currency.
func (tx *Tx) AppendObservation(account billing.Account, o billing.Observation) error {
	if err := tx.appendObservation(account, o); err != nil {
		return fmt.Errorf("append observation of account %q: %w", account.Name, err)
	}
	return nil
}

func (tx *Tx) appendObservation(account billing.Account, o billing.Observation) error {
	if err := tx.writable(); err != nil {
		return err
	}
	switch {
	case account.Name == "":
		return errors.New("the account has no name")
	case account.Currency == "":
		return errors.New("the account has no currency")
	case o.Account != "" && o.Account != account.Name:
		return fmt.Errorf("the observation is of account %q", o.Account)
	}
	at, err := nanos(o.At)
	if err != nil {
		return err
	}
	if err := checkCurrency(account.Currency, o); err != nil {
		return fmt.Errorf("at %s: %w", fmtTime(o.At), err)
	}
	data, err := history.EncodeObservation(o)
	if err != nil {
		return fmt.Errorf("at %s: %w", fmtTime(o.At), err)
	}
	// Refuse what would not read back: one bad row would make the
	// account's history unreadable.
	if _, err := history.DecodeObservation(data, account); err != nil {
		return fmt.Errorf("at %s: it would not read back: %w", fmtTime(o.At), err)
	}
	last, err := tx.lastRow(account.Name)
	if err != nil {
		return err
	}
	if last.found && at <= last.at {
		return fmt.Errorf("at %s: not after the last stored observation at %s",
			fmtTime(o.At), fmtTime(fromNanos(last.at)))
	}
	stored, base, fresh := compact(account.Name, data, last)
	return tx.appendRow(account.Name, at, stored, base, data, fresh,
		"append observation of account "+strconv.Quote(account.Name)+" at "+fmtTime(o.At))
}

// checkCurrency fails when any amount in o is in a currency other than c:
// the stored form holds amounts without their currency.
func checkCurrency(c billing.Currency, o billing.Observation) error {
	bad := func(m billing.Money) bool { return m.Currency() != "" && m.Currency() != c }
	fail := func(what string, m billing.Money) error {
		return fmt.Errorf("%s %s is in %s, not the account currency %s", what, m.Exact(), m.Currency(), c)
	}
	switch b := o.Balance; {
	case bad(b.Shown):
		return fail("balance.shown", b.Shown)
	case bad(b.Granted):
		return fail("balance.granted", b.Granted)
	case bad(b.Paid):
		return fail("balance.paid", b.Paid)
	}
	for _, g := range o.Grants {
		if bad(g.Amount) {
			return fail("grant "+g.ID+" amount", g.Amount)
		}
		if bad(g.Used) {
			return fail("grant "+g.ID+" used", g.Used)
		}
	}
	for _, ch := range o.Charges {
		if bad(ch.Amount) {
			return fail("charge "+ch.ID+" amount", ch.Amount)
		}
		if bad(ch.Tax) {
			return fail("charge "+ch.ID+" tax", ch.Tax)
		}
	}
	for _, cb := range o.Costs {
		if bad(cb.Amount) {
			return fail("cost bucket at "+fmtTime(cb.Start), cb.Amount)
		}
	}
	return nil
}

// Observations returns account's observations at or after since (all of
// them when since is zero), oldest first, decoded with
// history.DecodeObservation.
func (tx *Tx) Observations(account billing.Account, since time.Time) ([]billing.Observation, error) {
	obs, err := tx.observations(account, since)
	if err != nil {
		return nil, fmt.Errorf("read observations of account %q: %w", account.Name, err)
	}
	return obs, nil
}

func (tx *Tx) observations(account billing.Account, from time.Time) ([]billing.Observation, error) {
	if account.Currency == "" {
		return nil, errors.New("the account has no currency")
	}
	lo, err := since(from)
	if err != nil {
		return nil, err
	}
	var n int
	if err := tx.queryRow([]any{&n}, "SELECT count(*) FROM observations WHERE account = ? AND at >= ?",
		account.Name, lo); err != nil {
		return nil, err
	}
	bases, err := tx.basesOf(account.Name, lo)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query("SELECT at, base, data FROM observations WHERE account = ? AND at >= ? ORDER BY at",
		account.Name, lo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	obs := make([]billing.Observation, 0, n)
	dec := history.NewObservationDecoder(account)
	var (
		data, full []byte
		ref        sql.NullInt64
	)
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at, &ref, &data); err != nil {
			return nil, tx.s.classify(err)
		}
		text := data
		if ref.Valid {
			if full, err = bases.rebuild(full[:0], data, ref.Int64); err != nil {
				return nil, fmt.Errorf("the observation at %s: %w", fmtTime(fromNanos(at)), err)
			}
			text = full
		}
		o, err := dec.Decode(text)
		if err != nil {
			return nil, fmt.Errorf("decode the observation at %s: %w", fmtTime(fromNanos(at)), err)
		}
		obs = append(obs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return obs, nil
}

// LastObservationAt returns the time of account's newest observation, and
// false when it has none.
func (tx *Tx) LastObservationAt(account string) (time.Time, bool, error) {
	var last sql.NullInt64
	if err := tx.queryRow([]any{&last}, "SELECT max(at) FROM observations WHERE account = ?", account); err != nil {
		return time.Time{}, false, fmt.Errorf("read last observation time of account %q: %w", account, err)
	}
	return fromNull(last), last.Valid, nil
}

// ObservationCount returns how many observations of account are stored.
func (tx *Tx) ObservationCount(account string) (int, error) {
	var n int
	if err := tx.queryRow([]any{&n}, "SELECT count(*) FROM observations WHERE account = ?", account); err != nil {
		return 0, fmt.Errorf("count observations of account %q: %w", account, err)
	}
	return n, nil
}

// Kinds of first-seen facts.
const (
	KindGrant  = "grant"
	KindCharge = "charge"
)

// FirstSeen records that account's grant or charge id (kind KindGrant or
// KindCharge) was seen at at, unless it was seen before, and returns when it
// was first seen: the first call wins, later calls (even with an earlier at)
// return the stored time. It writes, so it needs Update. First-seen facts are
// never pruned.
func (tx *Tx) FirstSeen(account, kind, id string, at time.Time) (time.Time, error) {
	t, err := tx.firstSeen(account, kind, id, at)
	if err != nil {
		return time.Time{}, fmt.Errorf("record first sight of %s %q of account %q: %w", kind, id, account, err)
	}
	return t, nil
}

func (tx *Tx) firstSeen(account, kind, id string, at time.Time) (time.Time, error) {
	n, err := tx.firstSeenAt(account, kind, id, at)
	if err != nil {
		return time.Time{}, err
	}
	// Read first: an id asked about was most often seen before, and
	// then this is one query, not two.
	const read = "SELECT at FROM first_seen WHERE account = ? AND kind = ? AND id = ?"
	var stored int64
	switch err := tx.queryRow([]any{&stored}, read, account, kind, id); {
	case err == nil:
		return fromNanos(stored), nil
	case !errors.Is(err, sql.ErrNoRows):
		return time.Time{}, err
	}
	r, err := tx.exec(firstSeenInsert, account, kind, id, n)
	if err != nil {
		return time.Time{}, err
	}
	if added, err := r.RowsAffected(); err == nil && added == 1 {
		return fromNanos(n), nil
	}
	// Another transaction stored it first.
	if err := tx.queryRow([]any{&stored}, read, account, kind, id); err != nil {
		return time.Time{}, err
	}
	return fromNanos(stored), nil
}

// firstSeenAt checks a first sight and returns its time as stored.
func (tx *Tx) firstSeenAt(account, kind, id string, at time.Time) (int64, error) {
	if err := tx.writable(); err != nil {
		return 0, err
	}
	switch {
	case kind != KindGrant && kind != KindCharge:
		return 0, fmt.Errorf("unknown kind %q: want grant or charge", kind)
	case account == "":
		return 0, errors.New("empty account")
	case id == "":
		return 0, errors.New("empty id")
	}
	return nanos(at)
}

// RecordFirstSeen records that each of account's grants or charges (kind
// KindGrant or KindCharge) with ids was seen at at, unless it was seen
// before, as FirstSeen does, without reading back when: an insert that
// keeps the first sight (ON CONFLICT DO NOTHING). In the transaction of the
// account's poll on PostgreSQL (UpdateAccount), it costs no round trip of
// its own: the inserts go with the transaction's next statement.
func (tx *Tx) RecordFirstSeen(account, kind string, ids []string, at time.Time) error {
	for _, id := range ids {
		what := fmt.Sprintf("record first sight of %s %q of account %q", kind, id, account)
		n, err := tx.firstSeenAt(account, kind, id, at)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := tx.execLaterRow("first_seen", what, firstSeenHead, firstSeenRow, firstSeenTail, account+"\x00"+kind+"\x00"+id,
			account, kind, id, n); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// firstSeenInsert stores a first sight unless one is stored.
const (
	firstSeenHead   = "INSERT INTO first_seen (account, kind, id, at) VALUES "
	firstSeenRow    = "(?, ?, ?, ?)"
	firstSeenTail   = " ON CONFLICT DO NOTHING"
	firstSeenInsert = firstSeenHead + firstSeenRow + firstSeenTail
)

// Poll is one poll attempt of one account, successful or not, for detecting
// a guard that has gone blind.
type Poll struct {
	Account string
	At      time.Time
	// OK is false when the poll read nothing usable; Error then says why
	// (and must be set). A poll that read some parts is OK, with the parts
	// it could not read in Unavailable, each with the reason.
	OK          bool
	Error       string
	Unavailable map[billing.Part]string
}

// lostReason stands for the reason of an unavailable part recorded before
// the store kept reasons.
const lostReason = "unavailable (the reason was not kept by an older guardd)"

// RecordPoll stores one poll attempt.
func (tx *Tx) RecordPoll(p Poll) error {
	if err := tx.recordPoll(p); err != nil {
		return fmt.Errorf("record poll of account %q: %w", p.Account, err)
	}
	return nil
}

func (tx *Tx) recordPoll(p Poll) error {
	if err := tx.writable(); err != nil {
		return err
	}
	switch {
	case p.Account == "":
		return errors.New("empty account")
	case !p.OK && p.Error == "":
		return errors.New("a failed poll needs an error")
	case p.OK && p.Error != "":
		return fmt.Errorf("a successful poll has no error (got %q)", p.Error)
	}
	at, err := nanos(p.At)
	if err != nil {
		return err
	}
	var missing []string
	reasons := make(map[string]string, len(p.Unavailable))
	for _, part := range billing.Parts {
		if why, ok := p.Unavailable[part]; ok {
			missing = append(missing, string(part))
			reasons[string(part)] = why
		}
	}
	for part, why := range p.Unavailable {
		if _, err := billing.ParsePart(string(part)); err != nil {
			return err
		}
		if why == "" {
			return fmt.Errorf("part %s is unavailable without a reason", part)
		}
	}
	js, err := json.Marshal(reasons)
	if err != nil {
		return err
	}
	return tx.execLaterRow("polls", "record poll of account "+strconv.Quote(p.Account),
		"INSERT INTO polls (account, at, ok, error, missing, reasons) VALUES ", "(?, ?, ?, ?, ?, ?)", "", "",
		p.Account, at, p.OK, p.Error, strings.Join(missing, ","), string(js))
}

// LastPollAt returns when account's last stored poll was, successful or
// not; false when it has none.
func (tx *Tx) LastPollAt(account string) (time.Time, bool, error) {
	at, ok, err := tx.lastPollAt(account)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last poll time of account %q: %w", account, err)
	}
	return fromNanos(at), ok, nil
}

func (tx *Tx) lastPollAt(account string) (int64, bool, error) {
	if p := tx.pipe; p != nil && p.pre.havePoll && p.pre.account == account {
		return p.pre.poll.Int64, p.pre.poll.Valid, nil
	}
	var last sql.NullInt64
	if err := tx.queryRow([]any{&last}, lastPollQuery, account); err != nil {
		return 0, false, err
	}
	return last.Int64, last.Valid, nil
}

// RecentPolls returns account's last n polls, newest first.
func (tx *Tx) RecentPolls(account string, n int) ([]Poll, error) {
	return tx.PollsAfter(account, time.Time{}, n)
}

// PollsAfter returns the last n of account's polls after after (all when
// after is zero), newest first.
func (tx *Tx) PollsAfter(account string, after time.Time, n int) ([]Poll, error) {
	ps, err := tx.recentPolls(account, after, n)
	if err != nil {
		return nil, fmt.Errorf("read polls of account %q: %w", account, err)
	}
	return ps, nil
}

func (tx *Tx) recentPolls(account string, after time.Time, n int) ([]Poll, error) {
	if n <= 0 {
		return nil, fmt.Errorf("the number of polls must be positive (got %d)", n)
	}
	lo, err := since(after)
	if err != nil {
		return nil, err
	}
	rows, err := tx.query(`SELECT at, ok, error, missing, reasons FROM polls WHERE account = ? AND at > ?
		ORDER BY at DESC, id DESC LIMIT ?`, account, lo, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Poll
	for rows.Next() {
		p := Poll{Account: account}
		var at int64
		var missing, reasons string
		if err := rows.Scan(&at, &p.OK, &p.Error, &missing, &reasons); err != nil {
			return nil, tx.s.classify(err)
		}
		p.At = fromNanos(at)
		if p.Unavailable, err = pollReasons(missing, reasons); err != nil {
			return nil, fmt.Errorf("poll at %s: %w", p.At.Format(time.RFC3339), err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return ps, nil
}

// pollReasons reads a stored poll's unavailable parts: the missing list
// and the reasons kept for them (none for polls stored before reasons were).
func pollReasons(missing, reasons string) (map[billing.Part]string, error) {
	if missing == "" {
		return nil, nil
	}
	var why map[string]string
	if err := json.Unmarshal([]byte(reasons), &why); err != nil {
		return nil, fmt.Errorf("stored reasons %.80q: %w", reasons, err)
	}
	out := make(map[billing.Part]string)
	for _, s := range strings.Split(missing, ",") {
		part, err := billing.ParsePart(s)
		if err != nil {
			return nil, err
		}
		out[part] = why[s]
		if out[part] == "" {
			out[part] = lostReason
		}
	}
	return out, nil
}
