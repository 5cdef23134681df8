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
// facts are never pruned. The base of an observation kept is kept (it is
// not an observation: it is part of how the kept ones are stored); a base
// no observation refers to any more goes.
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
		bases, err := tx.basesBefore(cutoff)
		if err != nil {
			return err
		}
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
		return tx.dropBases(bases)
	})
	if err != nil {
		return PruneStats{}, fmt.Errorf("prune state database: %w", err)
	}
	return st, nil
}

// basesBefore returns the bases that observations before cutoff refer to:
// the ones that may be left unreferred to once they are pruned.
func (tx *Tx) basesBefore(cutoff int64) ([]int64, error) {
	// +base: search by time (the rows pruned), never scan every base.
	rows, err := tx.query("SELECT DISTINCT base FROM observations WHERE at < ? AND +base IS NOT NULL", cutoff)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, tx.s.classify(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, tx.s.classify(err)
	}
	return ids, nil
}

// dropBases deletes the bases of ids that no observation refers to.
func (tx *Tx) dropBases(ids []int64) error {
	for _, id := range ids {
		if _, err := tx.exec(`DELETE FROM observation_bases WHERE id = ?1
			AND NOT EXISTS (SELECT 1 FROM observations WHERE base = ?1)`, id); err != nil {
			return err
		}
	}
	return nil
}
