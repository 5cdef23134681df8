package store

import (
	"context"
	"fmt"
	"time"
)

// PruneStats counts the rows Prune deleted.
type PruneStats struct {
	Observations int64
	Polls        int64
	Findings     int64
	// Alerts are resolved alerts.
	Alerts int64
	// Silences are silences that ended or were expired.
	Silences int64
	// OutboxSent are delivered notifications, OutboxDead ones given up on.
	OutboxSent int64
	OutboxDead int64
}

// Prune deletes, in one write transaction, what is older than
// Options.Retention at now: observations, polls and findings by their time;
// resolved alerts by ResolvedAt; silences by when they ended or were
// expired; dead outbox items by their last attempt. Delivered outbox items
// go after 30 days. Firing alerts, pending notifications and first-seen
// facts are never pruned.
func (s *Store) Prune(ctx context.Context, now time.Time) (PruneStats, error) {
	var st PruneStats
	cutoff, err := nanos(now.Add(-s.opts.Retention))
	if err != nil {
		return st, fmt.Errorf("prune state database: cutoff: %w", err)
	}
	sentCutoff, err := nanos(now.Add(-sentRetention))
	if err != nil {
		return st, fmt.Errorf("prune state database: cutoff: %w", err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		for _, d := range []struct {
			n     *int64
			query string
			arg   int64
		}{
			{&st.Observations, "DELETE FROM observations WHERE at < ?", cutoff},
			{&st.Polls, "DELETE FROM polls WHERE at < ?", cutoff},
			{&st.Findings, "DELETE FROM findings WHERE at < ?", cutoff},
			{&st.Alerts, "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?", cutoff},
			{&st.Silences, "DELETE FROM silences WHERE end_at < ?1 OR expired_at < ?1", cutoff},
			{&st.OutboxSent, "DELETE FROM outbox WHERE delivery = 'sent' AND sent_at < ?", sentCutoff},
			{&st.OutboxDead, "DELETE FROM outbox WHERE delivery = 'dead' AND last_attempt_at < ?", cutoff},
		} {
			r, err := tx.exec(d.query, d.arg)
			if err != nil {
				return err
			}
			if *d.n, err = r.RowsAffected(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return PruneStats{}, fmt.Errorf("prune state database: %w", err)
	}
	return st, nil
}
