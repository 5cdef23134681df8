package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/alert"
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
	for _, item := range due {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		err := s.deliver(ctx, item, now)
		if err == nil {
			res.Sent++
			continue
		}
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
	return res, errors.Join(errs...)
}

// deliver sends one item and marks it sent, keeping the ref of the message
// the receiver created so later notifications thread under it.
func (s *Sender) deliver(ctx context.Context, item store.OutboxItem, now time.Time) error {
	var r *alert.Receiver
	for i := range s.Receivers {
		if s.Receivers[i].Name == item.Receiver {
			r = &s.Receivers[i]
		}
	}
	if r == nil {
		return fmt.Errorf("receiver %q is no longer configured", item.Receiver)
	}
	var rec alert.Record
	if err := json.Unmarshal(item.Payload, &rec); err != nil {
		return fmt.Errorf("read outbox item: %w", err)
	}
	n, err := rec.Notification()
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
	d := s.Dispatcher
	if d == nil {
		d = &alert.Dispatcher{Log: s.Log}
	}
	ref, err := d.Deliver(ctx, *r, n)
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
