package store

import (
	"database/sql"
	"fmt"
	"math"
	"time"
)

// Times are stored as Unix nanoseconds in UTC, which holds the years 1678 to
// 2262.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// nanos converts a required time.
func nanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, fmt.Errorf("time is not set")
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %s is outside the years 1678 to 2262", fmtTime(t))
	}
	return t.UnixNano(), nil
}

// optNanos converts an optional time: the zero time is NULL.
func optNanos(t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	n, err := nanos(t)
	return sql.NullInt64{Int64: n, Valid: err == nil}, err
}

// since converts a lower bound: the zero time means "from the beginning".
func since(t time.Time) (int64, error) {
	if t.IsZero() {
		return math.MinInt64, nil
	}
	return nanos(t)
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// fmtTime renders a time for error messages.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
