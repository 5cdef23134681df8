package lifecycle

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/proc"
	"go.uber.org/zap"
)

// DefaultMaxAttempts is how many drains may try an outbox item before it is
// given up on (logged and counted, never silently dropped).
const DefaultMaxAttempts = 8

// DefaultLease is how long a sender's claim on the items it is about to send
// lasts. It is renewed before each message, so it only has to outlast one
// delivery with its in-run retries (a few tries with their timeouts, and
// waits of at most a minute); it is also how long the items of a sender that
// crashed wait, unless a sender on the same host can tell it is gone.
const DefaultLease = 10 * time.Minute

// Sender delivers the outbox. Several senders, in one process or several,
// may drain one outbox at once: each claims the items it sends (see Outbox),
// so every item goes out once.
type Sender struct {
	Store      Store
	Receivers  []alert.Receiver
	Dispatcher *alert.Dispatcher // in-run retries and back-off
	// Policy is the Policy the items were enqueued under; with Immediate,
	// every due item is sent one by one, in the order enqueued.
	Policy Policy
	// MaxAttempts per item across drains; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Lease is how long a claim lasts; 0 means DefaultLease.
	Lease time.Duration
	Log   *zap.Logger

	seq       atomic.Int64 // messages sent, to order their sent times
	ownerOnce sync.Once
	owner     string
}

// DrainResult counts what one drain did.
type DrainResult struct {
	Sent, Failed, GaveUp int
}

// Owner is the name the sender claims items under: its process (host, PID
// namespace and PID, see proc.Process.Name) and a part of its own, so that
// two senders of one process are two owners too.
func (s *Sender) Owner() string {
	s.ownerOnce.Do(func() {
		b := make([]byte, 4)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		s.owner = proc.Self().Name() + " sender " + hex.EncodeToString(b)
	})
	return s.owner
}

// Drain sends every outbox item due at now, oldest first. Each receiver
// drains on its own, at the same time as the others, so a receiver that
// hangs delays only its own messages; to each receiver the messages go in
// order. A sender first claims the items of a receiver, and renews its
// claim before each message: an item that another sender holds is left to
// it. A failure is recorded on the item with the time of its next attempt
// (exponential, from one minute to six hours) and, after MaxAttempts, the
// item is given up on and logged. The returned error joins the failures,
// receiver by receiver; an item another sender has delivered or taken over
// is not one.
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
	if len(due) == 0 {
		// Most drains, after a poll that decided nothing.
		return res, nil
	}
	if s.Policy.Immediate {
		slices.SortFunc(due, func(x, y OutboxItem) int { return cmp.Compare(x.ID, y.ID) })
	}
	errs := []error{s.releaseGone(ctx, due, now)}
	var order []string
	byReceiver := make(map[string][]OutboxItem)
	for _, item := range due {
		if _, ok := byReceiver[item.Receiver]; !ok {
			order = append(order, item.Receiver)
		}
		byReceiver[item.Receiver] = append(byReceiver[item.Receiver], item)
	}
	// Claims are taken at now plus the time the drain has taken so far, so
	// that a lease lasts as long as it says whatever now is.
	start := time.Now()
	drains := make([]*drain, len(order))
	var wg sync.WaitGroup
	for i, recv := range order {
		d := s.newDrain(ctx, recv, now, func() time.Time { return now.Add(time.Since(start)) })
		drains[i] = d
		wg.Go(func() { d.run(byReceiver[recv]) })
	}
	wg.Wait()
	for _, d := range drains {
		res.Sent += d.res.Sent
		res.Failed += d.res.Failed
		res.GaveUp += d.res.GaveUp
		errs = append(errs, d.errs...)
	}
	return res, errors.Join(errs...)
}

// releaseGone ends the claims of the senders among due's claimants that are
// known to have ended (a process on this host that crashed), so that their
// items go out now rather than once their leases run out.
func (s *Sender) releaseGone(ctx context.Context, due []OutboxItem, now time.Time) error {
	seen := make(map[string]bool)
	for _, item := range due {
		owner := item.ClaimedBy
		if owner == "" || owner == s.Owner() || seen[owner] || !item.ClaimedUntil.After(now) {
			continue
		}
		seen[owner] = true
		if p, ok := proc.Parse(owner); !ok || !p.Gone() {
			continue
		}
		var n int
		if err := s.Store.Update(ctx, func(tx Tx) error {
			var err error
			n, err = tx.Release(owner)
			return err
		}); err != nil {
			return err
		}
		s.log().Info("released the claims of a sender that is gone", zap.String("sender", owner), zap.Int("notifications", n))
	}
	return nil
}

func (s *Sender) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}

// drain is one receiver's part of a Drain.
type drain struct {
	s     *Sender
	ctx   context.Context
	recv  string
	now   time.Time
	clock func() time.Time // for claims
	owner string
	log   *zap.Logger

	res  DrainResult
	errs []error
}

func (s *Sender) newDrain(ctx context.Context, recv string, now time.Time, clock func() time.Time) *drain {
	return &drain{s: s, ctx: ctx, recv: recv, now: now, clock: clock, owner: s.Owner(), log: s.log()}
}

// group is items going out together, with their notifications.
type group struct {
	items []OutboxItem
	ns    []alert.Notification
}

func (g *group) add(item OutboxItem, n alert.Notification) {
	g.items, g.ns = append(g.items, item), append(g.ns, n)
}

// run sends the receiver's due items. Info notifications due together go as
// one daily digest; new messages beyond the receiver's pacing go as one
// digest per drain. Threaded repeats and resolutions always go one by one.
func (d *drain) run(due []OutboxItem) {
	// Claim them all first: one sender at a time drains a receiver.
	due, err := d.hold(due)
	if err != nil {
		d.errs = append(d.errs, err)
		return
	}
	var infos, news group
	for _, item := range due {
		if err := d.ctx.Err(); err != nil {
			d.errs = append(d.errs, err)
			return
		}
		n, err := decode(item)
		if err != nil {
			d.fail([]OutboxItem{item}, err)
			continue
		}
		switch {
		case n.Finding.Severity == billing.SeverityInfo && !d.s.Policy.Immediate:
			infos.add(item, n)
		case n.Status != alert.StatusFiring || n.Repeat || d.s.Policy.Immediate:
			d.one(item, n)
		default:
			news.add(item, n)
		}
	}
	if len(news.items) > 0 {
		d.paced(news)
	}
	if len(infos.items) > 0 {
		d.digest(infos, func(n int) string {
			word := "notifications"
			if n == 1 {
				word = "notification"
			}
			return fmt.Sprintf("Daily digest: %d info %s since the last digest. Nothing here needs action now.", n, word)
		})
	}
}

// paced sends new messages one by one as far as the receiver's pacing
// allows, and the rest as one digest.
func (d *drain) paced(g group) {
	allowed, summary := len(g.items), func(int) string { return "" }
	if r, err := d.s.receiver(d.recv); err == nil && r.Pace.On() {
		var sent int
		if err := d.s.Store.View(d.ctx, func(tx Tx) error {
			var err error
			sent, err = tx.MessagesSentSince(d.recv, d.now.Add(-r.Pace.Per))
			return err
		}); err != nil {
			d.errs = append(d.errs, err)
		}
		allowed = max(r.Pace.Max-sent, 0)
		if len(g.items)-allowed <= 1 {
			allowed = len(g.items) // a digest of one is just the message
		}
		summary = func(n int) string {
			return fmt.Sprintf("%d more notifications within %s, folded into this one message: at most %d messages go out one by one per %s.",
				n, billing.Words(r.Pace.Per), r.Pace.Max, billing.Words(r.Pace.Per))
		}
	}
	for i := range allowed {
		d.one(g.items[i], g.ns[i])
	}
	if allowed < len(g.items) {
		d.digest(group{items: g.items[allowed:], ns: g.ns[allowed:]}, summary)
	}
}

// one sends one item and marks it sent.
func (d *drain) one(item OutboxItem, n alert.Notification) {
	held, err := d.hold([]OutboxItem{item})
	if err != nil {
		d.errs = append(d.errs, err)
		return
	}
	if len(held) == 0 {
		return
	}
	if err := d.deliver(item, n); err != nil {
		d.fail(held, err)
		return
	}
	d.res.Sent++
}

// digest sends g's items, as far as the sender still holds them, as one
// digest message whose summary is summary(how many it folds).
func (d *drain) digest(g group, summary func(n int) string) {
	held, err := d.hold(g.items)
	if err != nil {
		d.errs = append(d.errs, err)
		return
	}
	if len(held) == 0 {
		return
	}
	var ns []alert.Notification
	for i, item := range g.items {
		if slices.ContainsFunc(held, func(h OutboxItem) bool { return h.ID == item.ID }) {
			ns = append(ns, g.ns[i])
		}
	}
	if err := d.deliverDigest(held, alert.Digest(ns, summary(len(held)), d.now)); err != nil {
		d.fail(held, err)
		return
	}
	d.res.Sent += len(held)
}

// hold claims items for the sender, or renews its claim just before they
// are sent so that the lease covers the send, and returns those it holds.
// The others are another sender's to send: it claimed them, or took them
// over once this sender's lease ran out.
func (d *drain) hold(items []OutboxItem) ([]OutboxItem, error) {
	ids := make([]int64, len(items))
	for i, item := range items {
		ids[i] = item.ID
	}
	lease := d.s.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	var got []int64
	if err := d.s.Store.Update(d.ctx, func(tx Tx) error {
		at := d.clock()
		var err error
		got, err = tx.Claim(d.owner, ids, at, at.Add(lease))
		return err
	}); err != nil {
		return nil, fmt.Errorf("claim notifications to %s: %w", d.recv, err)
	}
	if len(got) == len(items) {
		return items, nil
	}
	held := make([]OutboxItem, 0, len(got))
	for _, item := range items {
		if slices.Contains(got, item.ID) {
			held = append(held, item)
		} else {
			d.log.Debug("notification left to another sender", zap.Int64("outbox_id", item.ID), zap.String("receiver", d.recv))
		}
	}
	return held, nil
}

// fail records a failed delivery of items: each is due again after its
// back-off, or given up on after MaxAttempts. An item another sender has
// delivered or taken over meanwhile is not this sender's failure.
func (d *drain) fail(items []OutboxItem, err error) {
	maxAttempts := d.s.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	for _, item := range items {
		giveUp := item.Attempts+1 >= maxAttempts
		next := d.now.Add(backoff(item.Attempts + 1))
		if mErr := d.s.Store.Update(d.ctx, func(tx Tx) error {
			return tx.MarkFailed(item.ID, d.owner, d.now, err.Error(), next, giveUp)
		}); settled(mErr) {
			d.log.Debug("notification not delivered, but another sender has it", zap.Int64("outbox_id", item.ID),
				zap.String("receiver", item.Receiver), zap.Error(mErr))
			continue
		} else if mErr != nil {
			d.errs = append(d.errs, fmt.Errorf("record failed delivery %d: %w", item.ID, mErr))
		}
		if giveUp {
			d.res.GaveUp++
			d.log.Error("notification given up", zap.Int64("outbox_id", item.ID), zap.String("receiver", item.Receiver),
				zap.String("fingerprint", item.Fingerprint), zap.Int("attempts", item.Attempts+1), zap.Error(err))
		} else {
			d.res.Failed++
			d.log.Warn("notification not delivered, will retry", zap.Int64("outbox_id", item.ID), zap.String("receiver", item.Receiver),
				zap.Time("next_attempt", next), zap.Error(err))
		}
		d.errs = append(d.errs, fmt.Errorf("outbox item %d to %s: %w", item.ID, item.Receiver, err))
	}
}

// settled reports whether err, from marking an item, says that another
// sender has dealt with it: it delivered the item, or holds its claim now.
func settled(err error) bool {
	return errors.Is(err, ErrAlreadySent) || errors.Is(err, ErrNotClaimed)
}

// markSent marks item sent at at in tx. An item another sender has
// delivered or taken over meanwhile was delivered twice: that is logged,
// and is no error (the message went out). It reports whether it marked.
func (d *drain) markSent(tx Tx, item OutboxItem, at time.Time) (bool, error) {
	err := tx.MarkSent(item.ID, d.owner, at)
	if settled(err) {
		d.log.Warn("notification delivered after another sender took it over: it may have gone out twice",
			zap.Int64("outbox_id", item.ID), zap.String("receiver", item.Receiver), zap.Error(err))
		return false, nil
	}
	return err == nil, err
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

// sentAt returns the sent time of the next message: each gets its own, in
// sending order, so pacing can count messages; items folded into one digest
// share theirs.
func (d *drain) sentAt() time.Time { return d.now.Add(time.Duration(d.s.seq.Add(1))) }

// deliverDigest sends items as the one digest message n, and marks them all
// sent at the same moment (so pacing counts them as one message).
func (d *drain) deliverDigest(items []OutboxItem, n alert.Notification) error {
	r, err := d.s.receiver(d.recv)
	if err != nil {
		return err
	}
	if _, err := d.s.dispatcher().Deliver(d.ctx, *r, n); err != nil {
		return err
	}
	at := d.sentAt()
	return d.s.Store.Update(d.ctx, func(tx Tx) error {
		for _, item := range items {
			if _, err := d.markSent(tx, item, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliver sends one item and marks it sent, keeping the ref of the message
// the receiver created so later notifications thread under it.
func (d *drain) deliver(item OutboxItem, n alert.Notification) error {
	r, err := d.s.receiver(item.Receiver)
	if err != nil {
		return err
	}
	if err := d.s.Store.View(d.ctx, func(tx Tx) error {
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
	ref, err := d.s.dispatcher().Deliver(d.ctx, *r, n)
	if err != nil {
		return err
	}
	at := d.sentAt()
	return d.s.Store.Update(d.ctx, func(tx Tx) error {
		if marked, err := d.markSent(tx, item, at); !marked || ref.IsZero() {
			return err
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
