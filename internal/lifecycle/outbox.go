package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/store"
	"go.uber.org/zap"
)

// DefaultMaxAttempts is how many drains may try an outbox item before it is
// given up on (logged and counted, never silently dropped).
const DefaultMaxAttempts = 8

// Sender delivers the outbox.
type Sender struct {
	Store      *store.Store
	Receivers  []alert.Receiver
	Dispatcher *alert.Dispatcher // in-run retries and back-off
	// MaxAttempts per item across drains; 0 means DefaultMaxAttempts.
	MaxAttempts int
	Log         *zap.Logger
}

// DrainResult counts what one drain did.
type DrainResult struct {
	Sent, Failed, GaveUp int
}

// Drain sends every outbox item due at now, oldest first. A failure is
// recorded on the item with the time of its next attempt (exponential,
// from one minute to six hours) and, after MaxAttempts, the item is given
// up on and logged. The returned error joins the failures.
func (s *Sender) Drain(ctx context.Context, now time.Time) (DrainResult, error) {
	var res DrainResult
	var due []store.OutboxItem
	if err := s.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.Due(now, 0)
		return err
	}); err != nil {
		return res, fmt.Errorf("read outbox: %w", err)
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	maxAttempts := s.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	var errs []error
	fail := func(items []store.OutboxItem, err error) {
		for _, item := range items {
			giveUp := item.Attempts+1 >= maxAttempts
			next := now.Add(backoff(item.Attempts + 1))
			if mErr := s.Store.Update(ctx, func(tx *store.Tx) error {
				return tx.MarkFailed(item.ID, now, err.Error(), next, giveUp)
			}); mErr != nil {
				errs = append(errs, fmt.Errorf("record failed delivery %d: %w", item.ID, mErr))
			}
			if giveUp {
				res.GaveUp++
				log.Error("notification given up", zap.Int64("outbox_id", item.ID), zap.String("receiver", item.Receiver),
					zap.String("fingerprint", item.Fingerprint), zap.Int("attempts", item.Attempts+1), zap.Error(err))
			} else {
				res.Failed++
				log.Warn("notification not delivered, will retry", zap.Int64("outbox_id", item.ID), zap.String("receiver", item.Receiver),
					zap.Time("next_attempt", next), zap.Error(err))
			}
			errs = append(errs, fmt.Errorf("outbox item %d to %s: %w", item.ID, item.Receiver, err))
		}
	}
	// Info notifications due together go to each receiver as one digest.
	digests := make(map[string][]store.OutboxItem)
	var order []string
	for _, item := range due {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		n, err := decode(item)
		if err != nil {
			fail([]store.OutboxItem{item}, err)
			continue
		}
		if n.Finding.Severity == billing.SeverityInfo {
			if _, ok := digests[item.Receiver]; !ok {
				order = append(order, item.Receiver)
			}
			digests[item.Receiver] = append(digests[item.Receiver], item)
			continue
		}
		if err := s.deliver(ctx, item, n, now); err != nil {
			fail([]store.OutboxItem{item}, err)
			continue
		}
		res.Sent++
	}
	for _, recv := range order {
		items := digests[recv]
		if err := s.deliverDigest(ctx, recv, items, now); err != nil {
			fail(items, err)
			continue
		}
		res.Sent += len(items)
	}
	return res, errors.Join(errs...)
}

// decode reads the notification an outbox item holds.
func decode(item store.OutboxItem) (alert.Notification, error) {
	var rec alert.Record
	if err := json.Unmarshal(item.Payload, &rec); err != nil {
		return alert.Notification{}, fmt.Errorf("read outbox item: %w", err)
	}
	return rec.Notification()
}

func (s *Sender) receiver(name string) (*alert.Receiver, error) {
	for i := range s.Receivers {
		if s.Receivers[i].Name == name {
			return &s.Receivers[i], nil
		}
	}
	return nil, fmt.Errorf("receiver %q is no longer configured", name)
}

func (s *Sender) dispatcher() *alert.Dispatcher {
	if s.Dispatcher == nil {
		return &alert.Dispatcher{Log: s.Log}
	}
	return s.Dispatcher
}

// deliverDigest sends a receiver's due info notifications as one message.
func (s *Sender) deliverDigest(ctx context.Context, recv string, items []store.OutboxItem, now time.Time) error {
	r, err := s.receiver(recv)
	if err != nil {
		return err
	}
	accounts := map[string]bool{}
	d := billing.Finding{Rule: "daily-digest", Severity: billing.SeverityInfo, Entity: billing.Day(now), At: now}
	for _, item := range items {
		n, err := decode(item)
		if err != nil {
			return err
		}
		accounts[n.Finding.Account] = true
		d.Account = n.Finding.Account
		d.Evidence = append(d.Evidence, billing.Evidence{What: string(n.Status) + " " + n.Finding.Rule, Ref: n.Finding.Account,
			At: n.At, Note: n.Finding.Summary})
	}
	if len(accounts) > 1 {
		d.Account = fmt.Sprintf("%d accounts", len(accounts))
	}
	word := "notifications"
	if len(items) == 1 {
		word = "notification"
	}
	d.Summary = fmt.Sprintf("Daily digest: %d info %s since the last digest. Nothing here needs action now.", len(items), word)
	if _, err := s.dispatcher().Deliver(ctx, *r, alert.Notification{Status: alert.StatusFiring, Finding: d, At: now}); err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx *store.Tx) error {
		for _, item := range items {
			if err := tx.MarkSent(item.ID, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliver sends one item and marks it sent, keeping the ref of the message
// the receiver created so later notifications thread under it.
func (s *Sender) deliver(ctx context.Context, item store.OutboxItem, n alert.Notification, now time.Time) error {
	r, err := s.receiver(item.Receiver)
	if err != nil {
		return err
	}
	if err := s.Store.View(ctx, func(tx *store.Tx) error {
		a, ok, err := tx.Alert(item.Fingerprint)
		if ok && a.Receivers != nil {
			if ref, ok := a.Receivers[r.Name]; ok {
				n.Ref = alert.Ref{Channel: ref.Channel, MessageID: ref.MessageID}
			}
		}
		return err
	}); err != nil {
		return err
	}
	ref, err := s.dispatcher().Deliver(ctx, *r, n)
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.MarkSent(item.ID, now); err != nil {
			return err
		}
		if ref.IsZero() {
			return nil
		}
		a, ok, err := tx.Alert(item.Fingerprint)
		if err != nil || !ok {
			return err
		}
		if a.Receivers == nil {
			a.Receivers = make(map[string]store.ReceiverRef)
		}
		a.Receivers[r.Name] = store.ReceiverRef{Channel: ref.Channel, MessageID: ref.MessageID}
		return tx.PutAlert(a)
	})
}

// backoff is the wait before attempt n+1: one minute doubling to six hours.
func backoff(n int) time.Duration {
	d := time.Minute
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}
