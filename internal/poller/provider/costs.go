package provider

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
)

// CostCursor remembers how far an account's daily cost buckets have been
// read and settled, so that a poll asks only for the days that are new or
// may still change. An adapter keeps one per account. MemCursor keeps it
// for the life of the process; the state store can keep it across restarts
// by implementing these two methods (and logging its own failures).
type CostCursor interface {
	// SettledUntil returns the end of the last settled bucket read, or the
	// zero time when none has been.
	SettledUntil() time.Time
	// SetSettledUntil records that every bucket up to t was read settled.
	SetSettledUntil(t time.Time)
}

// MemCursor is a CostCursor held in memory. Its zero value is ready.
type MemCursor struct {
	mu sync.Mutex
	t  time.Time
}

// SettledUntil implements CostCursor.
func (m *MemCursor) SettledUntil() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

// SetSettledUntil implements CostCursor.
func (m *MemCursor) SetSettledUntil(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t = t
}

// CostWindow decides which days of costs a poll reads and which buckets are
// settled.
type CostWindow struct {
	Cursor CostCursor
	// Lookback is how far back the first poll reads.
	Lookback time.Duration
	// SettleLag is how long after a bucket ends its amount is taken as
	// final: the provider's cost API may still add to it until then.
	SettleLag time.Duration
}

// DefaultCostLookback is how far back a first poll reads costs.
const DefaultCostLookback = 7 * 24 * time.Hour

// NewCostWindow returns a window over cursor (nil: one in memory) reading
// lookback (0: DefaultCostLookback) on a first poll, with the provider's
// settle lag.
func NewCostWindow(cursor CostCursor, lookback, settleLag time.Duration) CostWindow {
	if cursor == nil {
		cursor = &MemCursor{}
	}
	if lookback <= 0 {
		lookback = DefaultCostLookback
	}
	return CostWindow{Cursor: cursor, Lookback: lookback, SettleLag: settleLag}
}

// Resume records that every cost day up to t was read settled (the guard
// finds it in the stored history), unless the cursor is already past it, so
// the first poll after a restart asks only for newer days.
func (w CostWindow) Resume(t time.Time) {
	if t.After(w.Cursor.SettledUntil()) {
		w.Cursor.SetSettledUntil(t)
	}
}

// Start returns the start of the first day a poll at now should read: the
// end of what is already settled, or now-Lookback on the first poll, as a
// UTC midnight.
func (w CostWindow) Start(now time.Time) time.Time {
	start := day(now.Add(-w.Lookback))
	if c := w.Cursor.SettledUntil(); !c.IsZero() && c.After(start) {
		start = day(c)
	}
	if today := day(now); start.After(today) {
		start = today
	}
	return start
}

// Settled reports whether a bucket ending at end is final at now.
func (w CostWindow) Settled(end, now time.Time) bool {
	return !end.After(now.Add(-w.SettleLag))
}

// Advance moves the cursor over the settled buckets read from start, as long
// as they follow each other without a gap. buckets must be sorted by Start.
func (w CostWindow) Advance(start time.Time, buckets []billing.CostBucket) {
	at := start
	for _, b := range buckets {
		if !b.Settled || !b.Start.Equal(at) {
			break
		}
		at = b.End
	}
	if at.After(start) && at.After(w.Cursor.SettledUntil()) {
		w.Cursor.SetSettledUntil(at)
	}
}

// MergeBuckets sorts buckets by start and sums the amounts of buckets with
// the same [Start, End) (a provider lists one result per line item or
// workspace). Buckets that overlap without being equal are an error.
func MergeBuckets(bs []billing.CostBucket) ([]billing.CostBucket, error) {
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].Start.Before(bs[j].Start) })
	var out []billing.CostBucket
	for _, b := range bs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if b.Start.Equal(last.Start) && b.End.Equal(last.End) {
				sum, err := last.Amount.Add(b.Amount)
				if err != nil {
					return nil, err
				}
				last.Amount = sum
				continue
			}
			if b.Start.Before(last.End) {
				return nil, fmt.Errorf("bucket %s–%s overlaps bucket %s–%s",
					b.Start.Format(time.RFC3339), b.End.Format(time.RFC3339),
					last.Start.Format(time.RFC3339), last.End.Format(time.RFC3339))
			}
		}
		out = append(out, b)
	}
	return out, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// CostPage decodes one page of a cost endpoint: its buckets and the cursor
// of the next page ("" after the last).
type CostPage func(body []byte) ([]billing.CostBucket, string, error)

// ReadCosts reads every page of the cost endpoint r asks for, starting at
// start, and returns the buckets merged by day with the settled ones marked;
// the window's cursor then moves past the settled days. A page that does
// not decode, or a cursor that repeats, is an ErrInvalid error.
func (w CostWindow) ReadCosts(ctx context.Context, c *httpx.Client, b *httpx.Budget, r httpx.Request, start, now time.Time, decode CostPage) ([]billing.CostBucket, error) {
	var all []billing.CostBucket
	seen := make(map[string]bool)
	for {
		buckets, next, err := readPage(ctx, c, b, r, decode)
		if err != nil {
			return nil, err
		}
		all = append(all, buckets...)
		if next == "" {
			break
		}
		if seen[next] {
			return nil, fmt.Errorf("GET %s: %w: next_page repeats a page already read", r.Path, poller.ErrInvalid)
		}
		seen[next] = true
		r.Query.Set("page", next)
	}
	merged, err := MergeBuckets(all)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w: %w", r.Path, poller.ErrInvalid, err)
	}
	for i := range merged {
		merged[i].Settled = w.Settled(merged[i].End, now)
	}
	w.Advance(start, merged)
	return merged, nil
}

// readPage gets one page of a cost endpoint and decodes it; a page that does
// not decode is an ErrInvalid error.
func readPage(ctx context.Context, c *httpx.Client, b *httpx.Budget, r httpx.Request, decode CostPage) ([]billing.CostBucket, string, error) {
	body, err := c.Get(ctx, b, r)
	if err != nil {
		return nil, "", err
	}
	buckets, next, err := decode(body)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w: %w", r.Path, poller.ErrInvalid, err)
	}
	return buckets, next, nil
}

// ProbeCosts reads the first page r asks for and nothing more, as `guardd
// validate --online` tries a cost key: its error is the one ReadCosts would
// return for that page.
func ProbeCosts(ctx context.Context, c *httpx.Client, b *httpx.Budget, r httpx.Request, decode CostPage) error {
	_, _, err := readPage(ctx, c, b, r, decode)
	return err
}
