package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"go.uber.org/zap"
)

// DefaultMaxAttempts is how many drains may try an outbox item before it is
// given up on (logged and counted, never silently dropped).
const DefaultMaxAttempts = 8

// Sender delivers the outbox.
type Sender struct {
	Store      Store
	Receivers  []alert.Receiver
	Dispatcher *alert.Dispatcher // in-run retries and back-off
	// Policy is the Policy the items were enqueued under; with Immediate,
	// every due item is sent one by one, in the order enqueued.
	Policy Policy
	// MaxAttempts per item across drains; 0 means DefaultMaxAttempts.
	MaxAttempts int
	Log         *zap.Logger

	seq int // messages sent, to order their sent times within a drain
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
	var due []OutboxItem
	if err := s.Store.View(ctx, func(tx Tx) error {
		var err error
		due, err = tx.Due(now, 0)
		return err
	}); err != nil {
		return res, fmt.Errorf("read outbox: %w", err)
	}
	if s.Policy.Immediate {
		slices.SortFunc(due, func(x, y OutboxItem) int { return cmp.Compare(x.ID, y.ID) })
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
	fail := func(items []OutboxItem, err error) {
		for _, item := range items {
			giveUp := item.Attempts+1 >= maxAttempts
			next := now.Add(backoff(item.Attempts + 1))
			if mErr := s.Store.Update(ctx, func(tx Tx) error {
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
	// Info notifications due together go to each receiver as one daily
	// digest; new messages beyond a receiver's pacing go as one digest per
	// drain. Threaded repeats and resolutions always go one by one.
	type group struct {
		items []OutboxItem
		ns    []alert.Notification
	}
	infos := make(map[string]*group)
	news := make(map[string]*group)
	var order []string
	seen := make(map[string]bool)
	for _, item := range due {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		n, err := decode(item)
		if err != nil {
			fail([]OutboxItem{item}, err)
			continue
		}
		if !seen[item.Receiver] {
			seen[item.Receiver] = true
			order = append(order, item.Receiver)
		}
		into := news
		switch {
		case n.Finding.Severity == billing.SeverityInfo && !s.Policy.Immediate:
			into = infos
		case n.Status != alert.StatusFiring || n.Repeat || s.Policy.Immediate:
			if err := s.deliver(ctx, item, n, now); err != nil {
				fail([]OutboxItem{item}, err)
			} else {
				res.Sent++
			}
			continue
		}
		g := into[item.Receiver]
		if g == nil {
			g = &group{}
			into[item.Receiver] = g
		}
		g.items, g.ns = append(g.items, item), append(g.ns, n)
	}
	for _, recv := range order {
		if g := news[recv]; g != nil {
			allowed, summary := len(g.items), ""
			if r, err := s.receiver(recv); err == nil && r.Pace.On() {
				var sent int
				if err := s.Store.View(ctx, func(tx Tx) error {
					var err error
					sent, err = tx.MessagesSentSince(recv, now.Add(-r.Pace.Per))
					return err
				}); err != nil {
					errs = append(errs, err)
				}
				allowed = max(r.Pace.Max-sent, 0)
				if len(g.items)-allowed <= 1 {
					allowed = len(g.items) // a digest of one is just the message
				}
				summary = fmt.Sprintf("%d more notifications within %s, folded into this one message: at most %d messages go out one by one per %s.",
					len(g.items)-allowed, billing.Words(r.Pace.Per), r.Pace.Max, billing.Words(r.Pace.Per))
			}
			for i := range allowed {
				if err := s.deliver(ctx, g.items[i], g.ns[i], now); err != nil {
					fail([]OutboxItem{g.items[i]}, err)
					continue
				}
				res.Sent++
			}
			if rest := g.items[allowed:]; len(rest) > 0 {
				res.add(s.deliverDigest(ctx, recv, rest, alert.Digest(g.ns[allowed:], summary, now), now), rest, fail)
			}
		}
		if g := infos[recv]; g != nil {
			word := "notifications"
			if len(g.items) == 1 {
				word = "notification"
			}
			summary := fmt.Sprintf("Daily digest: %d info %s since the last digest. Nothing here needs action now.", len(g.items), word)
			res.add(s.deliverDigest(ctx, recv, g.items, alert.Digest(g.ns, summary, now), now), g.items, fail)
		}
	}
	return res, errors.Join(errs...)
}

// add counts a digest's items as sent, or fails them all.
func (r *DrainResult) add(err error, items []OutboxItem, fail func([]OutboxItem, error)) {
	if err != nil {
		fail(items, err)
		return
	}
	r.Sent += len(items)
}

// decode reads the notification an outbox item holds.
func decode(item OutboxItem) (alert.Notification, error) {
	n, err := DecodePayload(item.Payload)
	if err != nil {
		return alert.Notification{}, fmt.Errorf("read outbox item: %w", err)
	}
	return n, nil
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

// deliverDigest sends items as the one digest message d, and marks them all
// sent at the same moment (so pacing counts them as one message).
func (s *Sender) deliverDigest(ctx context.Context, recv string, items []OutboxItem, d alert.Notification, now time.Time) error {
	r, err := s.receiver(recv)
	if err != nil {
		return err
	}
	if _, err := s.dispatcher().Deliver(ctx, *r, d); err != nil {
		return err
	}
	s.seq++
	sentAt := now.Add(time.Duration(s.seq))
	return s.Store.Update(ctx, func(tx Tx) error {
		for _, item := range items {
			if err := tx.MarkSent(item.ID, sentAt); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliver sends one item and marks it sent, keeping the ref of the message
// the receiver created so later notifications thread under it.
func (s *Sender) deliver(ctx context.Context, item OutboxItem, n alert.Notification, now time.Time) error {
	r, err := s.receiver(item.Receiver)
	if err != nil {
		return err
	}
	if err := s.Store.View(ctx, func(tx Tx) error {
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
	// Each message gets its own sent time, in sending order, so pacing can
	// count messages: items folded into one digest share theirs.
	s.seq++
	sentAt := now.Add(time.Duration(s.seq))
	return s.Store.Update(ctx, func(tx Tx) error {
		if err := tx.MarkSent(item.ID, sentAt); err != nil {
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
			a.Receivers = make(map[string]ReceiverRef)
		}
		a.Receivers[r.Name] = ReceiverRef{Channel: ref.Channel, MessageID: ref.MessageID}
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

// Owed returns every pending item of o, due now or later: what is
// still owed to receivers.
func Owed(o Outbox) ([]OutboxItem, error) {
	return o.Due(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 0)
}
