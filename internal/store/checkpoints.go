package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// LedgerCheckpoint is an account's ledger as of the newest observation it
// holds, in the ledger package's checkpoint encoding. Version and
// Fingerprint repeat the encoding's own, so that a reader can tell a
// checkpoint it cannot use without reading it.
type LedgerCheckpoint struct {
	Account     string
	Version     int
	Fingerprint string
	// At is the time of the newest observation the ledger holds.
	At   time.Time
	Data []byte
}

// PutLedgerCheckpoint stores c as its account's checkpoint, replacing the
// one before. Call it in the transaction that stores the observation at
// c.At, so that the two are kept or lost together.
func (tx *Tx) PutLedgerCheckpoint(c LedgerCheckpoint) error {
	if err := tx.putLedgerCheckpoint(c); err != nil {
		return fmt.Errorf("store ledger checkpoint of account %q: %w", c.Account, err)
	}
	return nil
}

func (tx *Tx) putLedgerCheckpoint(c LedgerCheckpoint) error {
	if err := tx.writable(); err != nil {
		return err
	}
	switch {
	case c.Account == "":
		return errors.New("empty account")
	case c.Version <= 0:
		return fmt.Errorf("version must be positive (got %d)", c.Version)
	case c.Fingerprint == "":
		return errors.New("empty fingerprint")
	case len(c.Data) == 0:
		return errors.New("no data")
	}
	at, err := nanos(c.At)
	if err != nil {
		return err
	}
	return tx.execLaterRow("ledger_checkpoints", "put ledger checkpoint of account "+strconv.Quote(c.Account),
		"INSERT INTO ledger_checkpoints (account, version, fingerprint, at, data) VALUES ", "(?, ?, ?, ?, ?)",
		` ON CONFLICT (account) DO UPDATE SET version = excluded.version, fingerprint = excluded.fingerprint,
		at = excluded.at, data = excluded.data`, c.Account, c.Account, c.Version, c.Fingerprint, at, c.Data)
}

// LedgerCheckpoint returns account's checkpoint, and false when it has
// none.
func (tx *Tx) LedgerCheckpoint(account string) (LedgerCheckpoint, bool, error) {
	c := LedgerCheckpoint{Account: account}
	var at int64
	err := tx.queryRow([]any{&c.Version, &c.Fingerprint, &at, &c.Data},
		"SELECT version, fingerprint, at, data FROM ledger_checkpoints WHERE account = ?", account)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return LedgerCheckpoint{}, false, nil
	case err != nil:
		return LedgerCheckpoint{}, false, fmt.Errorf("read ledger checkpoint of account %q: %w", account, err)
	}
	c.At = fromNanos(at)
	return c, true, nil
}

// DeleteLedgerCheckpoint deletes account's checkpoint, if it has one: its
// ledger is then rebuilt from the stored observations.
func (tx *Tx) DeleteLedgerCheckpoint(account string) error {
	if err := tx.writable(); err != nil {
		return fmt.Errorf("delete ledger checkpoint of account %q: %w", account, err)
	}
	if _, err := tx.exec("DELETE FROM ledger_checkpoints WHERE account = ?", account); err != nil {
		return fmt.Errorf("delete ledger checkpoint of account %q: %w", account, err)
	}
	return nil
}
