package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/clock"
)

// StoreActions records what people do from a chat message (the Slack
// buttons) in a Store: acknowledging an alert stops its repeats; silencing
// mutes its rule on its account for a while.
type StoreActions struct {
	Store Store
	Clock clock.Clock
}

// Ack marks the alert acknowledged by by.
func (a StoreActions) Ack(ctx context.Context, fingerprint, by string) error {
	return a.Store.Update(ctx, func(tx Tx) error {
		al, ok, err := tx.Alert(fingerprint)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("acknowledge: no alert %s", fingerprint)
		}
		al.AckedBy, al.AckedAt = by, a.Clock.Now()
		return tx.PutAlert(al)
	})
}

// Silence mutes rule on account for d from now.
func (a StoreActions) Silence(ctx context.Context, rule, account string, d time.Duration, by, comment string) error {
	now := a.Clock.Now()
	return a.Store.Update(ctx, func(tx Tx) error {
		_, err := tx.AddSilence(Silence{Rule: rule, Account: account, Start: now, End: now.Add(d), Comment: comment, CreatedBy: by})
		return err
	})
}
