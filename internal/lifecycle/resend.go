package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
)

// Active returns one notification for each alert firing at now, as it was
// last notified (its stored finding), oldest first: what a receiver that
// must hear of every active alert again (alert.Resender) is sent. It leaves
// out what the lifecycle does not notify one by one: alerts silenced at
// now and, unless p is Immediate, info alerts (they go out only in the
// daily digest). Acknowledged alerts stay in: they still fire.
func Active(b Book, now time.Time, p Policy) ([]alert.Notification, error) {
	firing, err := b.Alerts("", Firing)
	if err != nil {
		return nil, err
	}
	var out []alert.Notification
	for _, a := range firing {
		if a.Severity == billing.SeverityInfo && !p.Immediate {
			continue
		}
		if _, silenced, err := b.Silenced(a.Rule, a.Account, now); err != nil {
			return nil, err
		} else if silenced {
			continue
		}
		n, err := DecodePayload(a.Finding)
		if err != nil {
			return nil, fmt.Errorf("read stored finding %s: %w", a.Fingerprint, err)
		}
		n.Status, n.Ref = alert.StatusFiring, alert.Ref{}
		out = append(out, n)
	}
	return out, nil
}

// Resend sends the alerts firing at now (Active) to every receiver whose
// notifier is an alert.Resender, each the ones it wants, so that a service
// that forgets what it is not told again (Alertmanager, after a restart)
// holds them. It reads the state store in one read transaction and writes
// nothing: it decides no notification, and the outbox still carries every
// first message, repeat and resolution. The returned error joins one error
// per receiver that failed; the others were served.
func Resend(ctx context.Context, st Store, receivers []alert.Receiver, now time.Time, p Policy) error {
	var rs []alert.Receiver
	for _, r := range receivers {
		if _, ok := r.Notifier.(alert.Resender); ok {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	var active []alert.Notification
	if err := st.View(ctx, func(tx Tx) error {
		var err error
		active, err = Active(tx, now, p)
		return err
	}); err != nil {
		return fmt.Errorf("read firing alerts: %w", err)
	}
	var errs []error
	for _, r := range rs {
		var mine []alert.Notification
		for _, n := range active {
			if r.Wants(n) {
				mine = append(mine, n)
			}
		}
		if err := r.Notifier.(alert.Resender).Resend(ctx, mine); err != nil {
			errs = append(errs, fmt.Errorf("receiver %s: resend %d firing alerts: %w", r.Name, len(mine), err))
		}
	}
	return errors.Join(errs...)
}

// ResendEvery is how often guardd run resends between cycles: the shortest
// interval any of receivers asks for (alert.Resender), zero when none is a
// Resender.
func ResendEvery(receivers []alert.Receiver) time.Duration {
	var every time.Duration
	for _, r := range receivers {
		if rs, ok := r.Notifier.(alert.Resender); ok && rs.ResendEvery() > 0 && (every == 0 || rs.ResendEvery() < every) {
			every = rs.ResendEvery()
		}
	}
	return every
}
