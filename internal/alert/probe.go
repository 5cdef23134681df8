package alert

import (
	"context"

	"github.com/guardd/guardd/internal/probe"
)

// Prober is implemented by the Config of a receiver that can say, without
// sending anything, whether its credential works: `guardd validate
// --online` calls it. A receiver whose service has no harmless call (an
// incoming webhook: the only call posts a message) says so with
// probe.Skipped rather than sending; one that does not implement Prober is
// reported as not tried.
type Prober interface {
	// Probe makes at most one harmless request and says what it found.
	Probe(ctx context.Context) probe.Result
}

// Probe implements Prober: printing needs no credential.
func (*stdoutConfig) Probe(context.Context) probe.Result {
	return probe.Result{Credential: "stdout", Outcome: probe.Skipped, Detail: "it prints here and needs no credential"}
}
