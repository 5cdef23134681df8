package guard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/store"
)

// MailTx is implemented by transactions that keep what the inbox read: the
// state store's. The receipts read and the cursor that read them are kept
// together, so a receipt is neither lost nor filed twice; an observation
// that carries a receipt marks it delivered in the transaction that records
// the observation.
type MailTx interface {
	FileReceipt(f inbox.Filed) (bool, error)
	SetMailboxCursor(name string, c mailbox.Cursor, at time.Time) error
	MarkReceiptsDelivered(account string, keys []string, at time.Time) error
}

var _ MailTx = (*store.Tx)(nil)

// mailFor is what the inbox has for one account at a cycle.
type mailFor struct {
	mailbox string
	filed   []inbox.Filed
	// unavailable says why the account's mailbox could not be read.
	unavailable string
}

// readMail reads every mailbox once, files what it found (when the state
// keeps it) and returns, per routed account, the receipts no observation
// has carried yet. Without a store (replay, a dry run's overlay) what was
// read is handed over directly and nothing is kept: the cursor does not
// move, and the next real run reads the same receipts.
//
// Replicas (Options.Claims) read each mailbox once a tick: one at a time
// (Claimer.LockMailboxes), and a replica that finds the mailbox's cursor
// moved since the tick began leaves it, its receipts filed already.
func (g *Guard) readMail(ctx context.Context, now time.Time) (map[string]*mailFor, error) {
	if g.inbox == nil {
		return nil, nil
	}
	in := *g.inbox
	var tick time.Time
	if g.claims != nil {
		names := make([]string, len(in.Mailboxes))
		for i, m := range in.Mailboxes {
			names[i] = m.Name
		}
		var interval time.Duration
		tick, interval = g.Tick(now)
		_, unlock, err := g.claims.LockMailboxes(ctx, names, mailboxWait(interval))
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	cursors := make(map[string]mailbox.Cursor)
	pending := make(map[string][]inbox.Filed)
	if g.history != nil {
		read := make(map[string]bool)
		if err := g.history.View(ctx, func(tx *store.Tx) error {
			for _, m := range in.Mailboxes {
				c, at, err := tx.MailboxCursor(m.Name)
				if err != nil {
					return err
				}
				cursors[m.Name] = c
				read[m.Name] = g.claims != nil && !at.Before(tick)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read mailbox cursors: %w", err)
		}
		in.Mailboxes = slices.DeleteFunc(slices.Clone(in.Mailboxes), func(m inbox.Mailbox) bool { return read[m.Name] })
	}
	b := in.Read(ctx, cursors, now)
	kept := false
	if err := g.state.Update(ctx, func(tx lifecycle.Tx) error {
		m, ok := tx.(MailTx)
		if !ok {
			return nil
		}
		for _, f := range b.Filed {
			if _, err := m.FileReceipt(f); err != nil {
				return err
			}
		}
		for name, c := range b.Cursors {
			if err := m.SetMailboxCursor(name, c, now); err != nil {
				return err
			}
		}
		kept = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("keep receipts read: %w", err)
	}
	out := make(map[string]*mailFor)
	for _, r := range g.inbox.Routes {
		m := &mailFor{mailbox: r.Mailbox}
		if err, failed := b.Failed[r.Mailbox]; failed {
			m.unavailable = fmt.Sprintf("mailbox %s: %v", r.Mailbox, err)
		}
		out[r.Account] = m
	}
	if g.history != nil {
		if err := g.history.View(ctx, func(tx *store.Tx) error {
			for name := range out {
				fs, err := tx.PendingReceipts(name)
				if err != nil {
					return err
				}
				pending[name] = fs
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read pending receipts: %w", err)
		}
	}
	for name, m := range out {
		m.filed = pending[name]
		if !kept {
			for _, f := range b.Filed {
				if f.Account == name {
					m.filed = append(m.filed, f)
				}
			}
		}
	}
	return out, nil
}

// attach adds the account's receipts to its observation o and returns the
// keys it carried. Their charges are the charges part (with whatever the
// source read), unless the mailbox could not be read or a receipt could not
// be: then the part is unavailable, with why, never read as "no charges".
func (m *mailFor) attach(o *billing.Observation, now time.Time) []string {
	if o.Parts == nil {
		o.Parts = make(map[billing.Part]billing.PartStatus)
	}
	source := "receipts:" + m.mailbox
	if st, ok := o.Parts[billing.PartCharges]; ok && st.Unavailable == "" {
		source = st.Source + "+" + source
	}
	var problems []string
	var keys []string
	var charges []billing.Charge
	for _, f := range m.filed {
		keys = append(keys, f.Key)
		if f.Problem != "" {
			problems = append(problems, f.Problem)
			continue
		}
		charges = append(charges, f.Charge)
	}
	switch {
	case m.unavailable != "":
		o.Parts[billing.PartCharges] = billing.PartStatus{Source: source, AsOf: now, Unavailable: m.unavailable, Cause: billing.CauseMailbox}
		return nil
	case len(problems) > 0:
		why := problems[0]
		if len(problems) > 1 {
			why = fmt.Sprintf("%d receipts could not be used; the first: %s", len(problems), why)
		}
		o.Parts[billing.PartCharges] = billing.PartStatus{Source: source, AsOf: now, Unavailable: why, Cause: billing.CauseMailbox}
		o.Charges = nil
		// Delivered: the problem is in this observation. The charges
		// stay pending for the next poll.
		var ks []string
		for _, f := range m.filed {
			if f.Problem != "" {
				ks = append(ks, f.Key)
			}
		}
		return ks
	}
	o.Charges = append(o.Charges, charges...)
	o.Parts[billing.PartCharges] = billing.PartStatus{Source: strings.TrimPrefix(source, "+"), AsOf: now}
	return keys
}

// mailboxWait is how long a replica waits for another to read a mailbox
// (Claimer.LockMailboxes) before it reads the mailbox itself: a mailbox
// server's answer to a command (imap.DefaultTimeout), at most a quarter
// of the interval, so that a slow server leaves the tick's polls their
// time.
func mailboxWait(interval time.Duration) time.Duration {
	const most = 30 * time.Second
	if interval <= 0 {
		return most
	}
	return min(most, interval/4)
}
