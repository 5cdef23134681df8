package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/mailbox"
)

// MailboxCursor returns how far mailbox name has been read ("" when never).
func (tx *Tx) MailboxCursor(name string) (c mailbox.Cursor, at time.Time, err error) {
	var cur sql.NullString
	var n int64
	err = tx.queryRow([]any{&cur, &n}, "SELECT cursor, updated_at FROM mailbox_cursors WHERE mailbox = ?", name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read cursor of mailbox %q: %w", name, err)
	}
	return mailbox.Cursor(cur.String), fromNanos(n), nil
}

// SetMailboxCursor records how far mailbox name has been read. Keep it in
// the transaction that files what was read up to it.
func (tx *Tx) SetMailboxCursor(name string, c mailbox.Cursor, at time.Time) error {
	if err := tx.writable(); err != nil {
		return err
	}
	n, err := nanos(at)
	if err != nil {
		return err
	}
	if _, err := tx.exec(`INSERT INTO mailbox_cursors (mailbox, cursor, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (mailbox) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, name, string(c), n); err != nil {
		return fmt.Errorf("record cursor of mailbox %q: %w", name, err)
	}
	return nil
}

// storedCharge is a receipt's charge as the receipts table keeps it.
type storedCharge struct {
	ID       string                `json:"id,omitempty"`
	PaidAt   time.Time             `json:"paid_at,omitzero"`
	Amount   string                `json:"amount,omitempty"`
	Tax      string                `json:"tax,omitempty"`
	Currency string                `json:"currency,omitempty"`
	Trigger  billing.ChargeTrigger `json:"trigger,omitempty"`
}

// FileReceipt keeps f, unless a receipt with its key was filed before (the
// same payment read again: a re-sent receipt, a rescanned mailbox); it
// reports whether f is new.
func (tx *Tx) FileReceipt(f inbox.Filed) (bool, error) {
	if err := tx.writable(); err != nil {
		return false, err
	}
	at, err := nanos(f.ReadAt)
	if err != nil {
		return false, err
	}
	sc := storedCharge{}
	if f.Problem == "" {
		c := f.Charge
		sc = storedCharge{ID: c.ID, PaidAt: c.PaidAt.UTC(), Amount: c.Amount.Exact(), Tax: c.Tax.Exact(),
			Currency: string(c.Amount.Currency()), Trigger: c.Trigger}
	}
	data, err := json.Marshal(sc)
	if err != nil {
		return false, err
	}
	r, err := tx.exec(`INSERT INTO receipts (key, account, mailbox, charge, problem, read_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, f.Key, f.Account, f.Mailbox, string(data), f.Problem, at)
	if err != nil {
		return false, fmt.Errorf("file receipt %s of account %q: %w", f.Key, f.Account, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// PendingReceipts returns the receipts filed under account that no
// observation has carried yet, oldest first.
func (tx *Tx) PendingReceipts(account string) ([]inbox.Filed, error) {
	rows, err := tx.query(`SELECT key, mailbox, charge, problem, read_at FROM receipts
		WHERE account = ? AND delivered_at IS NULL ORDER BY read_at, key`, account)
	if err != nil {
		return nil, fmt.Errorf("read receipts of account %q: %w", account, err)
	}
	defer rows.Close()
	var out []inbox.Filed
	for rows.Next() {
		f := inbox.Filed{Account: account}
		var data string
		var at int64
		if err := rows.Scan(&f.Key, &f.Mailbox, &data, &f.Problem, &at); err != nil {
			return nil, tx.s.classify(err)
		}
		f.ReadAt = fromNanos(at)
		if f.Problem == "" {
			c, err := decodeCharge(data)
			if err != nil {
				return nil, fmt.Errorf("read receipt %s of account %q: %w", f.Key, account, err)
			}
			f.Charge = c
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return out, nil
}

func decodeCharge(data string) (billing.Charge, error) {
	var sc storedCharge
	if err := json.Unmarshal([]byte(data), &sc); err != nil {
		return billing.Charge{}, err
	}
	cur, err := billing.ParseCurrency(sc.Currency)
	if err != nil {
		return billing.Charge{}, err
	}
	amount, err := billing.ParseMoney(sc.Amount, cur)
	if err != nil {
		return billing.Charge{}, fmt.Errorf("amount: %w", err)
	}
	tax, err := billing.ParseMoney(sc.Tax, cur)
	if err != nil {
		return billing.Charge{}, fmt.Errorf("tax: %w", err)
	}
	return billing.Charge{ID: sc.ID, PaidAt: sc.PaidAt, Amount: amount, Tax: tax, Origin: billing.ChargeReceipt, Trigger: sc.Trigger}, nil
}

// MarkReceiptsDelivered records that an observation of account carried the
// receipts with these keys.
func (tx *Tx) MarkReceiptsDelivered(account string, keys []string, at time.Time) error {
	if err := tx.writable(); err != nil {
		return err
	}
	n, err := nanos(at)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := tx.exec("UPDATE receipts SET delivered_at = ? WHERE key = ? AND account = ? AND delivered_at IS NULL", n, k, account); err != nil {
			return fmt.Errorf("mark receipt %s of account %q delivered: %w", k, account, err)
		}
	}
	return nil
}
