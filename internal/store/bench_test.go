package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

const hoursPerYear = 8760

// year returns a year of hourly observations of name, each with 20 grants.
func year(name string) []billing.Observation {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	obs := make([]billing.Observation, hoursPerYear)
	for h := range obs {
		obs[h] = observation(name, start.Add(time.Duration(h)*time.Hour), 20)
	}
	return obs
}

// BenchmarkAppendYear appends a year of observations to a new account, one
// write transaction per observation, as guardd check does.
func BenchmarkAppendYear(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, Options{})
	obs := year("")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		acct := account("bench" + strconv.Itoa(n))
		for _, o := range obs {
			if err := s.Update(ctx, func(tx *Tx) error { return tx.AppendObservation(acct, o) }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*hoursPerYear), "ns/observation")
}

// storeYear returns a store holding a year of observations of "bench".
func storeYear(b *testing.B) *Store {
	s := openTest(b, Options{})
	acct := account("bench")
	update(b, s, func(tx *Tx) error {
		for _, o := range year("bench") {
			if err := tx.AppendObservation(acct, o); err != nil {
				return err
			}
		}
		return nil
	})
	return s
}

// BenchmarkReadYear reads a year of observations back.
func BenchmarkReadYear(b *testing.B) {
	s := storeYear(b)
	acct := account("bench")
	b.ReportAllocs()
	for b.Loop() {
		err := s.View(context.Background(), func(tx *Tx) error {
			obs, err := tx.Observations(acct, time.Time{})
			if err == nil && len(obs) != hoursPerYear {
				b.Fatalf("got %d observations, want %d", len(obs), hoursPerYear)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hoursPerYear), "ns/observation")
}

// BenchmarkOpenYear opens and closes a database holding a year of
// observations, closed cleanly: what every guardd check pays to open its
// state (no PRAGMA quick_check since open markers, see marker.go).
func BenchmarkOpenYear(b *testing.B) {
	s := storeYear(b)
	path := s.Path()
	s.Close()
	for b.Loop() {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkOpenYearAfterKill opens the same database after a process left
// it open: Open checks the whole file first (PRAGMA quick_check), which is
// what every open cost before open markers.
func BenchmarkOpenYearAfterKill(b *testing.B) {
	s := storeYear(b)
	path := s.Path()
	s.Close()
	for b.Loop() {
		b.StopTimer()
		leaveMarker(b, path)
		b.StartTimer()
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.LeftOpen()) != 1 {
			b.Fatalf("left open by %v, want the killed process", s.LeftOpen())
		}
		s.Close()
	}
}

// pollsPerDay is how many polls a day holds at 15-minute polls.
const pollsPerDay = int(24 * time.Hour / pollEvery)

// BenchmarkStateGrowth measures how much the state database grows per
// account per day at 15-minute polls, for each provider shape: every poll
// is recorded as guardd's cycle records it (the observation, the first
// sight of its grants and charges, the poll), one transaction per poll. The
// first day (the first poll reads a week of costs) is left out: the figure
// is the growth over the following week, in database pages in use (dbstat),
// divided by 7, in KB of 1000 bytes. A shape growing more than the goal
// (issue 14: 100 KB) fails.
//
//	go test ./internal/store -run '^$' -bench StateGrowth -benchtime 1x
func BenchmarkStateGrowth(b *testing.B) {
	const growthGoal = 100_000 // bytes per account per day
	const days = 7
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			obs := sh.polls(b, (1+days)*pollsPerDay)
			var perDay float64
			for b.Loop() {
				s := openTest(b, Options{})
				record(b, s, sh.account, obs[:pollsPerDay])
				before := pagesInUse(b, s)
				record(b, s, sh.account, obs[pollsPerDay:])
				perDay = float64(pagesInUse(b, s)-before) / days
				s.Close()
			}
			b.ReportMetric(perDay/1000, "KB/day")
			b.ReportMetric(0, "ns/op")
			if perDay > growthGoal {
				b.Errorf("%s: the state grows %.0f bytes per account per day, want at most %d", sh.name, perDay, growthGoal)
			}
		})
	}
}

// record stores each observation as guardd's cycle does, one transaction
// per poll (the shapes read every part they attempt).
func record(tb testing.TB, s *Store, a billing.Account, obs []billing.Observation) {
	tb.Helper()
	for _, o := range obs {
		update(tb, s, func(tx *Tx) error {
			if err := tx.AppendObservation(a, o); err != nil {
				return err
			}
			if o.Has(billing.PartGrants) {
				for _, g := range o.Grants {
					if _, err := tx.FirstSeen(a.Name, KindGrant, g.ID, o.At); err != nil {
						return err
					}
				}
			}
			if o.Has(billing.PartCharges) {
				for _, c := range o.Charges {
					if _, err := tx.FirstSeen(a.Name, KindCharge, c.ID, o.At); err != nil {
						return err
					}
				}
			}
			return tx.RecordPoll(Poll{Account: a.Name, At: o.At, OK: true})
		})
	}
}

// pagesInUse returns the bytes of the database's pages that hold a table
// or an index (free pages left out).
func pagesInUse(tb testing.TB, s *Store) int64 {
	tb.Helper()
	var n int64
	if err := s.db.QueryRow("SELECT sum(pgsize) FROM dbstat").Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
