// Package inbox turns the receipts in people's mailboxes into charges of the
// accounts guardd watches. Once per cycle it reads every mailbox from its
// cursor (mailbox.Reader), parses each message (receipt.Parse) and files
// every card charge under the one account it belongs to: the account whose
// provider sent it, narrowed, when one mailbox serves several accounts of a
// provider, by the organisation or the recipient the receipt names.
//
// A message that looks like a receipt but cannot be read with certainty is
// filed as a problem of its account, never as a guessed charge; so is a
// receipt that could belong to several accounts, or is in another currency
// than its account. Refunds, failed payments and plan (subscription)
// receipts are not charges of prepaid credit and are left out.
//
// Inbox does no storage: the caller keeps the cursors and what was filed
// (in the state store, with the cursor, in one transaction), so that a
// receipt is neither lost nor counted twice across restarts.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/receipt"
)

// Mailbox is one configured mailbox.
type Mailbox struct {
	Name   string
	Reader mailbox.Reader
}

// Route ties an account to the receipts of one mailbox.
type Route struct {
	Account  string
	Provider string
	Currency billing.Currency
	Mailbox  string
	// Organization and Recipient, when set, must match what the receipt
	// names (case-insensitive): the organisation (or its id) it was
	// billed to, or the address it was sent to.
	Organization string
	Recipient    string
}

// Filed is one receipt filed under an account: a charge, or a problem.
type Filed struct {
	// Key identifies the payment (receipt.Result.DedupKey), so that the
	// same receipt read twice is filed once; for a problem, the message.
	Key     string
	Account string
	Mailbox string
	// Charge is the card charge; zero for a problem.
	Charge billing.Charge
	// Problem, when not empty, says why the message could not be used.
	Problem string
	// ReadAt is when guardd read it.
	ReadAt time.Time
}

// Batch is what one Read found.
type Batch struct {
	Filed []Filed
	// Cursors holds the next cursor of every mailbox read.
	Cursors map[string]mailbox.Cursor
	// Failed holds, per mailbox that could not be read, why.
	Failed map[string]error
}

// Inbox reads mailboxes and files their receipts.
type Inbox struct {
	Mailboxes []Mailbox
	Routes    []Route
	Log       *zap.Logger
}

// Read reads every mailbox that has a route from its cursor in cursors and
// files what it finds at now. A mailbox that cannot be read is in Failed
// and keeps its cursor: what it holds is read next time.
func (in *Inbox) Read(ctx context.Context, cursors map[string]mailbox.Cursor, now time.Time) Batch {
	b := Batch{Cursors: make(map[string]mailbox.Cursor), Failed: make(map[string]error)}
	log := in.Log
	if log == nil {
		log = zap.NewNop()
	}
	for _, m := range in.Mailboxes {
		if !slices.ContainsFunc(in.Routes, func(r Route) bool { return r.Mailbox == m.Name }) {
			continue
		}
		msgs, next, err := m.Reader.Read(ctx, cursors[m.Name])
		if errors.Is(err, mailbox.ErrCursor) {
			// A damaged cursor: read from the start; filed receipts are
			// not filed twice.
			log.Warn("mailbox cursor damaged, reading from the start", zap.String("mailbox", m.Name), zap.Error(err))
			msgs, next, err = m.Reader.Read(ctx, "")
		}
		if err != nil {
			b.Failed[m.Name] = err
			continue
		}
		b.Cursors[m.Name] = next
		for _, msg := range msgs {
			b.Filed = append(b.Filed, in.file(m.Name, msg, now, log)...)
		}
	}
	return b
}

// file parses one message and files it under the accounts it concerns.
func (in *Inbox) file(box string, msg mailbox.Message, now time.Time, log *zap.Logger) []Filed {
	problem := func(r receipt.Result, why string) []Filed {
		var out []Filed
		for _, rt := range in.candidates(box, r) {
			out = append(out, Filed{Key: "problem:" + box + ":" + msg.ID, Account: rt.Account, Mailbox: box, Problem: why, ReadAt: now})
		}
		return out
	}
	if msg.Skipped != "" {
		log.Warn("mailbox message not read", zap.String("mailbox", box), zap.String("message", msg.ID), zap.String("why", msg.Skipped))
		return nil
	}
	r, err := receipt.ParseBytes(msg.Raw)
	switch {
	case errors.Is(err, receipt.ErrUnreadable):
		return problem(r, fmt.Sprintf("a receipt from %s could not be read: %s", r.Sender, r.Reason))
	case err != nil:
		log.Debug("mailbox message is not a message", zap.String("mailbox", box), zap.String("message", msg.ID), zap.Error(err))
		return nil
	}
	c, ok := r.Charge()
	switch {
	case r.Kind != receipt.KindCharge || !ok:
		log.Debug("mailbox message is no charge", zap.String("mailbox", box), zap.String("message", msg.ID), zap.String("kind", string(r.Kind)))
		return nil
	case r.Purpose == receipt.PurposePlan:
		log.Debug("receipt is for a plan, not prepaid credit", zap.String("mailbox", box), zap.String("receipt", r.ID))
		return nil
	}
	routes := in.candidates(box, r)
	switch {
	case len(routes) == 0:
		return nil
	case len(routes) > 1:
		var names []string
		for _, rt := range routes {
			names = append(names, rt.Account)
		}
		return problem(r, fmt.Sprintf("receipt %s could belong to accounts %s: set receipts.organization or receipts.recipient to tell them apart",
			r.ID, strings.Join(names, ", ")))
	case c.Amount.Currency() != routes[0].Currency:
		return problem(r, fmt.Sprintf("receipt %s is in %s, account %s is in %s: guardd never converts currencies",
			r.ID, c.Amount.Currency(), routes[0].Account, routes[0].Currency))
	}
	return []Filed{{Key: r.DedupKey(), Account: routes[0].Account, Mailbox: box, Charge: c, ReadAt: now}}
}

// candidates returns the routes of mailbox box that a receipt could belong
// to: its provider's, narrowed by organisation and recipient where set.
func (in *Inbox) candidates(box string, r receipt.Result) []Route {
	var out []Route
	for _, rt := range in.Routes {
		switch {
		case rt.Mailbox != box || rt.Provider != r.Provider:
		case rt.Organization != "" && !strings.EqualFold(rt.Organization, r.Organization) && !strings.EqualFold(rt.Organization, r.OrganizationID):
		case rt.Recipient != "" && !strings.EqualFold(rt.Recipient, r.Recipient):
		default:
			out = append(out, rt)
		}
	}
	return out
}
