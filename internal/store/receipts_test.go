package store

import (
	"context"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/mailbox"
)

// TestReceipts: a receipt is filed once per payment, waits until an
// observation carries it, and the mailbox's cursor is kept beside it.
func TestReceipts(t *testing.T) { eachBackend(t, testReceipts) }

func testReceipts(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t, Options{})
	defer s.Close()
	charge := billing.Charge{ID: "2001-0001", PaidAt: t0, Amount: usd(1080), Tax: usd(80), Origin: billing.ChargeReceipt, Trigger: billing.TriggerAutoRecharge}
	f := inbox.Filed{Key: "anthropic:2001-0001", Account: "acme", Mailbox: "billing", Charge: charge, ReadAt: t0.Add(time.Minute)}
	problem := inbox.Filed{Key: "problem:billing:imap:7:12", Account: "acme", Mailbox: "billing", Problem: "cannot read the amount", ReadAt: t0.Add(2 * time.Minute)}
	err := s.Update(ctx, func(tx *Tx) error {
		for i, want := range []bool{true, false} {
			added, err := tx.FileReceipt(f)
			if err != nil || added != want {
				t.Errorf("file receipt, time %d: got added %v, error %v; want %v", i+1, added, err, want)
			}
		}
		if _, err := tx.FileReceipt(problem); err != nil {
			return err
		}
		return tx.SetMailboxCursor("billing", mailbox.Cursor("imap:v1:abc"), t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	var pending []inbox.Filed
	var cursor mailbox.Cursor
	var cursorAt time.Time
	if err := s.View(ctx, func(tx *Tx) error {
		var err error
		if pending, err = tx.PendingReceipts("acme"); err != nil {
			return err
		}
		cursor, cursorAt, err = tx.MailboxCursor("billing")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if cursor != "imap:v1:abc" || !cursorAt.Equal(t0) {
		t.Errorf("cursor: got %q set at %v, want %q set at %v", cursor, cursorAt, "imap:v1:abc", t0)
	}
	if len(pending) != 2 || pending[0].Key != f.Key || pending[1].Problem != problem.Problem {
		t.Fatalf("pending: got %+v, want the charge then the problem", pending)
	}
	got := pending[0].Charge
	if got.ID != charge.ID || !got.PaidAt.Equal(t0) || got.Amount.String() != "10.80 USD" || got.Tax.String() != "0.80 USD" ||
		got.Credit().String() != "10.00 USD" || got.Trigger != billing.TriggerAutoRecharge || got.Origin != billing.ChargeReceipt {
		t.Errorf("charge read back: got %+v", got)
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		return tx.MarkReceiptsDelivered("acme", []string{f.Key, problem.Key}, t0.Add(time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(tx *Tx) error {
		var err error
		pending, err = tx.PendingReceipts("acme")
		return err
	}); err != nil || len(pending) != 0 {
		t.Errorf("after delivery: got %d pending (%v), want none", len(pending), err)
	}
	// Read again (a rescanned mailbox): still not filed twice.
	if err := s.Update(ctx, func(tx *Tx) error {
		added, err := tx.FileReceipt(f)
		if added {
			t.Errorf("a delivered receipt was filed again")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
