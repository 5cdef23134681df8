package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// BenchmarkBytesPerAccountDay stores a week of 15-minute polls of 10
// accounts, as guard does (the observation, the poll and the first sight of
// its grants and charge, in one transaction each), and reports the
// database's size per account per day: tables, indexes and TOAST on
// PostgreSQL, the checkpointed file on SQLite. The goal is at most 100 KB.
// Run: go test ./internal/store -run '^$' -bench BytesPerAccountDay -benchtime 1x
func BenchmarkBytesPerAccountDay(b *testing.B) {
	const accounts, days, perDay = 10, 7, 96
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			var size int64
			for b.Loop() {
				s := be.open(b, Options{})
				ctx := context.Background()
				for i := range days * perDay {
					at := t0.Add(time.Duration(i) * 15 * time.Minute)
					for a := range accounts {
						name := fmt.Sprintf("acct-%02d", a)
						o := observation(name, at, 5)
						err := s.Update(ctx, func(tx *Tx) error {
							if err := tx.AppendObservation(account(name), o); err != nil {
								return err
							}
							for _, g := range o.Grants {
								if _, err := tx.FirstSeen(name, KindGrant, g.ID, at); err != nil {
									return err
								}
							}
							if _, err := tx.FirstSeen(name, KindCharge, o.Charges[0].ID, at); err != nil {
								return err
							}
							return tx.RecordPoll(Poll{Account: name, At: at, OK: true,
								Unavailable: map[billing.Part]string{billing.PartCosts: "403 from the Costs API"}})
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				var err error
				if size, err = s.size(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/accounts/days, "bytes/account/day")
		})
	}
}

// size is how many bytes the state takes on disk.
func (s *Store) size(ctx context.Context) (int64, error) {
	var n int64
	if s.d.dollar {
		if _, err := s.db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return 0, err
		}
		err := s.db.QueryRowContext(ctx, `SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
			JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE c.relkind = 'r' AND ns.nspname = current_schema()`).Scan(&n)
		return n, err
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return 0, err
	}
	var pages, pageSize int64
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, err
	}
	err := s.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize)
	return pages * pageSize, err
}
