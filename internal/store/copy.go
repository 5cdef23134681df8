package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// copyTable is one table of the state as Copy moves it: its columns, each
// with its kind (i integer, t text, b boolean, x bytes; upper case when it
// may be NULL), and the key its rows are read in order of.
type copyTable struct {
	name, key string
	cols      []string
	kinds     string
	// identity: id is an identity column whose sequence must follow the
	// copied ids (PostgreSQL).
	identity bool
}

// copyTables lists every table of the state but schema_version, in an
// order foreign keys would allow. TestCopyTablesCoverSchema holds it to the
// schema: a migration that adds a table or a column must add it here.
var copyTables = []copyTable{
	{"observation_bases", "id", []string{"id", "account", "data"}, "itt", true},
	{"observations", "id", []string{"id", "account", "at", "data", "base"}, "ititI", true},
	{"first_seen", "account, kind, id", []string{"account", "kind", "id", "at"}, "ttti", false},
	{"polls", "id", []string{"id", "account", "at", "ok", "error", "missing", "reasons"}, "itibttt", true},
	{"findings", "id", []string{"id", "account", "rule", "entity", "fingerprint", "severity", "at", "silenced", "summary"}, "ittttt" + "ibt", true},
	{"alerts", "fingerprint", []string{"fingerprint", "account", "rule", "entity", "severity", "state", "fired_at",
		"last_sent_at", "resolved_at", "last_seen_at", "miss_count", "finding", "receivers", "acked_by", "acked_at"}, "ttttttiIIIiTttI", false},
	{"silences", "id", []string{"id", "rule", "account", "start_at", "end_at", "comment", "created_by", "expired_at"}, "ittiittI", true},
	{"outbox", "id", []string{"id", "receiver", "fingerprint", "status", "payload", "created_at", "next_attempt_at",
		"attempts", "last_error", "last_attempt_at", "delivery", "sent_at", "claimed_by", "claimed_until"}, "ittttiiitItItI", true},
	{"mailbox_cursors", "mailbox", []string{"mailbox", "cursor", "updated_at"}, "tti", false},
	{"receipts", "key", []string{"key", "account", "mailbox", "charge", "problem", "read_at", "delivered_at"}, "tttttiI", false},
	{"ledger_checkpoints", "account", []string{"account", "version", "fingerprint", "at", "data"}, "titix", false},
}

// TableCopy is what Copy did with one table.
type TableCopy struct {
	Table string
	Rows  int64
	// Checksum is the SHA-256 of the table's rows in key order, as read
	// back from the destination; it equals the source's.
	Checksum string
}

// Copy copies every row of the state in src into dst, in one write
// transaction of dst, keeping ids (silence ids are shown to people, outbox
// ids are claimed by them), and then verifies the copy: each table's row
// count and checksum read back from dst must equal src's. dst must be
// empty (a new database: Copy never merges two states) and both must be at
// the same schema version (they are once opened by this guardd). src is
// only read, in one snapshot.
func Copy(ctx context.Context, dst, src *Store) ([]TableCopy, error) {
	out, err := copyState(ctx, dst, src)
	if err != nil {
		return nil, fmt.Errorf("copy state from %s to %s: %w", src.name, dst.name, err)
	}
	return out, nil
}

func copyState(ctx context.Context, dst, src *Store) ([]TableCopy, error) {
	if dst.version != src.version {
		return nil, fmt.Errorf("schema versions differ (%d and %d)", src.version, dst.version)
	}
	err := src.View(ctx, func(stx *Tx) error {
		return dst.Update(ctx, func(dtx *Tx) error {
			for _, t := range copyTables {
				var n int64
				if err := dtx.queryRow([]any{&n}, "SELECT count(*) FROM "+t.name); err != nil {
					return err
				}
				if n > 0 {
					return fmt.Errorf("the destination already holds state (%d rows in %s): copy only into a new database", n, t.name)
				}
				if err := copyRows(stx, dtx, t); err != nil {
					return fmt.Errorf("table %s: %w", t.name, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	want, err := Checksums(ctx, src)
	if err != nil {
		return nil, err
	}
	got, err := Checksums(ctx, dst)
	if err != nil {
		return nil, err
	}
	var bad []string
	for i := range want {
		if got[i] != want[i] {
			bad = append(bad, fmt.Sprintf("%s: %d rows (%.12s) copied as %d rows (%.12s)",
				want[i].Table, want[i].Rows, want[i].Checksum, got[i].Rows, got[i].Checksum))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("the copy differs: %s", strings.Join(bad, "; "))
	}
	return got, nil
}

// scanner returns a destination per column of t, for rows.Scan.
func (t copyTable) scanner() []any {
	dest := make([]any, len(t.cols))
	for i, k := range t.kinds {
		switch k {
		case 'i', 'I':
			dest[i] = new(sql.NullInt64)
		case 't', 'T':
			dest[i] = new(sql.NullString)
		case 'b':
			dest[i] = new(sql.NullBool)
		case 'x':
			dest[i] = new([]byte)
		}
	}
	return dest
}

// values turns the scanned destinations into arguments of an INSERT.
func values(dest []any) []any {
	args := make([]any, len(dest))
	for i, d := range dest {
		switch v := d.(type) {
		case *sql.NullInt64:
			args[i] = *v
		case *sql.NullString:
			args[i] = *v
		case *sql.NullBool:
			args[i] = *v
		case *[]byte:
			args[i] = *v
		}
	}
	return args
}

func copyRows(src, dst *Tx, t copyTable) error {
	if err := dst.writable(); err != nil {
		return err
	}
	cols := strings.Join(t.cols, ", ")
	rows, err := src.query("SELECT " + cols + " FROM " + t.name + " ORDER BY " + t.key)
	if err != nil {
		return err
	}
	defer rows.Close()
	insert := "INSERT INTO " + t.name + " (" + cols + ") VALUES (?" + strings.Repeat(", ?", len(t.cols)-1) + ")"
	stmt, err := dst.tx.PrepareContext(dst.ctx, dst.s.d.rebind(insert))
	if err != nil {
		return dst.s.classify(err)
	}
	defer stmt.Close()
	for rows.Next() {
		dest := t.scanner()
		if err := rows.Scan(dest...); err != nil {
			return src.s.classify(err)
		}
		if _, err := stmt.ExecContext(dst.ctx, values(dest)...); err != nil {
			return dst.s.classify(err)
		}
	}
	if err := rows.Err(); err != nil {
		return src.s.classify(err)
	}
	if t.identity && dst.s.d.dollar {
		// The next id follows the copied ones, as SQLite's would.
		if _, err := dst.exec("SELECT setval(pg_get_serial_sequence('" + t.name + "', 'id'), coalesce(max(id), 0) + 1, false) FROM " + t.name); err != nil {
			return err
		}
	}
	return nil
}

// Checksums counts each table's rows and hashes them in key order, in one
// read snapshot: two states with equal checksums hold the same rows,
// whichever database keeps them.
func Checksums(ctx context.Context, s *Store) ([]TableCopy, error) {
	var out []TableCopy
	err := s.View(ctx, func(tx *Tx) error {
		for _, t := range copyTables {
			c, err := checksum(tx, t)
			if err != nil {
				return fmt.Errorf("checksum table %s: %w", t.name, err)
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checksum state %s: %w", s.name, err)
	}
	return out, nil
}

func checksum(tx *Tx, t copyTable) (TableCopy, error) {
	rows, err := tx.query("SELECT " + strings.Join(t.cols, ", ") + " FROM " + t.name + " ORDER BY " + t.key)
	if err != nil {
		return TableCopy{}, err
	}
	defer rows.Close()
	h := sha256.New()
	c := TableCopy{Table: t.name}
	var line []byte
	for rows.Next() {
		dest := t.scanner()
		if err := rows.Scan(dest...); err != nil {
			return TableCopy{}, tx.s.classify(err)
		}
		line = line[:0]
		for _, d := range dest {
			switch v := d.(type) {
			case *sql.NullInt64:
				if v.Valid {
					line = strconv.AppendInt(line, v.Int64, 10)
				} else {
					line = append(line, 'N')
				}
			case *sql.NullString:
				if v.Valid {
					line = strconv.AppendQuote(line, v.String)
				} else {
					line = append(line, 'N')
				}
			case *sql.NullBool:
				line = strconv.AppendBool(line, v.Bool)
			case *[]byte:
				line = hex.AppendEncode(line, *v)
			}
			line = append(line, '\t')
		}
		h.Write(append(line, '\n'))
		c.Rows++
	}
	if err := rows.Err(); err != nil {
		return TableCopy{}, tx.s.classify(err)
	}
	c.Checksum = hex.EncodeToString(h.Sum(nil))
	return c, nil
}
