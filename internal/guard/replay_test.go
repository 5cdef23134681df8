package guard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
)

// TestReplayStopsWhenCancelled: once its context ends, a replay plays no
// further observation and says how far it got.
func TestReplayStopsWhenCancelled(t *testing.T) {
	var obs []billing.Observation
	for n := range 10 {
		obs = append(obs, lt.At(lt.T0.Add(time.Duration(n)*time.Hour)).Shown("10.00").Build())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var played []int
	err := guard.Replay(ctx, lt.Account("5", "10"), "test", obs, guard.Options{Params: rules.DefaultParams()},
		func(i int, _ guard.Report) error {
			played = append(played, i)
			if i == 2 {
				cancel()
			}
			return nil
		})
	var se *guard.StoppedError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.Done != 3 || se.Total != 10 {
		t.Fatalf("Replay: got %v, want stopped after 3 of 10 observations", err)
	}
	if err.Error() != "stopped after 3 of 10 observations: context canceled" {
		t.Errorf("error text: got %q", err)
	}
	if len(played) != 3 {
		t.Errorf("cycles reported: got %v, want the first 3 only", played)
	}
}
