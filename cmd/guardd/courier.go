package main

import (
	"context"
	"errors"
	"sync"

	"github.com/guardd/guardd/internal/guard"
	"go.uber.org/zap"
)

// courier delivers guardd run's outbox apart from its polls. A cycle
// writes what is due to the outbox and wakes the courier, which sends it
// while the next polls go on: a receiver that is slow or unreachable (each
// attempt waits out its timeout), or a burst of first alerts to a rate
// limited webhook, delays its own messages and never a poll. guardd check
// delivers at the end of its one cycle (guard.Guard.Cycle).
//
// Each cycle's heartbeat ping waits for the first drain that starts after
// the cycle ended, so that the dead-man's switch hears of a delivery that
// failed as it did when the cycle delivered itself.
type courier struct {
	wake chan struct{} // one wake-up pending at most: a drain sends all that is due
	mu   sync.Mutex
	// ended are the cycles ended since the last drain started, with their
	// errors, for their pings.
	ended []endedCycle
}

type endedCycle struct {
	rep guard.Report
	err error
}

func newCourier() *courier { return &courier{wake: make(chan struct{}, 1)} }

// cycleEnded queues a cycle's ping and wakes the courier.
func (c *courier) cycleEnded(rep guard.Report, err error) {
	c.mu.Lock()
	c.ended = append(c.ended, endedCycle{rep, err})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliverLoop drains the outbox each time a cycle wakes it, until stop is
// closed; then it drains once more, so that what the last cycle decided is
// sent before guardd run exits. ctx cancels a drain in progress (the
// shutdown's grace ran out).
func (d *daemon) deliverLoop(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-d.courier.wake:
			d.deliver(ctx)
		case <-stop:
			d.deliver(ctx)
			return
		}
	}
}

// deliver drains the outbox once with the current app, records and logs
// what it did, and pings the switch for the cycles that ended before it
// started. It holds d.sending, which a reload takes before closing the
// app it replaced.
func (d *daemon) deliver(ctx context.Context) {
	d.sending.Lock()
	defer d.sending.Unlock()
	a := d.shown.Load()
	c := d.courier
	c.mu.Lock()
	ended := c.ended
	c.ended = nil
	c.mu.Unlock()
	res, err := a.guard.Deliver(ctx, d.clk.Now())
	d.metrics.ObserveDelivery(res)
	if err != nil {
		a.log.Warn("notifications not delivered", append(deliveryFields(res), zap.Error(err))...)
	} else if res.Sent > 0 || res.Failed > 0 || res.GaveUp > 0 {
		a.log.Info("notifications delivered", deliveryFields(res)...)
	}
	for _, e := range ended {
		e.rep.Delivery = res
		pingCycle(ctx, a, e.rep, errors.Join(e.err, err))
	}
}
