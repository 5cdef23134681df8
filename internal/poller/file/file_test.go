package file_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/file"
)

func TestServesInOrderResumesAndRunsOut(t *testing.T) {
	var obs []billing.Observation
	for h := range 4 {
		obs = append(obs, lt.At(lt.T0.Add(time.Duration(h)*time.Hour)).Shown("1").Build())
	}
	src := file.New("h.json", obs)
	ctx := context.Background()
	if o, err := src.Fetch(ctx, time.Time{}); err != nil || !o.At.Equal(obs[0].At) {
		t.Fatalf("first fetch: got %s, %v; want the first observation", o.At, err)
	}
	// A new process after two stored observations continues at the third.
	src = file.New("h.json", obs)
	src.Resume(obs[1].At)
	if o, err := src.Fetch(ctx, time.Time{}); err != nil || !o.At.Equal(obs[2].At) {
		t.Fatalf("after resume: got %s, %v; want the third observation", o.At, err)
	}
	src.Fetch(ctx, time.Time{})
	_, err := src.Fetch(ctx, time.Time{})
	if !errors.Is(err, poller.ErrUnavailable) {
		t.Errorf("past the end: got %v, want ErrUnavailable (blind, not an empty account)", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := file.New("h.json", obs).Fetch(cancelled, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}
