package guard_test

import (
	"context"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/rules"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// loggingSource logs at every Fetch with the logger the guard gave it.
type loggingSource struct{ log *zap.Logger }

var _ poller.LogSetter = (*loggingSource)(nil)

func (s *loggingSource) SetLogger(l *zap.Logger) { s.log = l }

func (s *loggingSource) Fetch(_ context.Context, now time.Time) (billing.Observation, error) {
	s.log.Warn("passed over something")
	return lt.At(now).Shown("10.00").Build(), nil
}

// TestGuardGivesSourcesItsLogger: a source that logs what it passes over
// logs through the guard's logger, with the account named.
func TestGuardGivesSourcesItsLogger(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	src := &loggingSource{log: zap.NewNop()}
	g := guard.New([]guard.Account{{Account: lt.Account("5", "10"), Source: src}},
		guard.Options{Params: rules.DefaultParams(), Log: zap.New(core)})
	if _, err := g.Cycle(context.Background(), time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	got := logs.FilterMessage("passed over something").All()
	if len(got) != 1 || got[0].ContextMap()["account"] != "acme" {
		t.Errorf("log: got %v, want one line naming account acme", logs.All())
	}
}
