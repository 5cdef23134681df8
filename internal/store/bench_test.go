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
