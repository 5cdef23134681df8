package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/poller"
	try "github.com/guardd/guardd/internal/probe"
)

// onlineInFlight bounds the tries made at once.
const onlineInFlight = 4

// onlineLine is one line of validate --online: whose credential, and what
// trying it found.
type onlineLine struct {
	who string
	res try.Result
}

// validateOnline tries every key of every account once against its
// provider, and every notifier's credential where its service has a
// harmless call (poller.Prober, alert.Prober), and prints what each is and
// what it can read, or why not and what to fix. It fails when any try did.
func validateOnline(ctx context.Context, cfg *config.Config, now time.Time, stdout io.Writer) error {
	var tries []func() []onlineLine
	for _, a := range cfg.Accounts {
		who := "account " + a.Name
		pr, ok := a.Source.Config.(poller.Prober)
		if !ok {
			tries = append(tries, func() []onlineLine {
				return []onlineLine{{who, try.Result{Credential: a.Source.Type + " source", Outcome: try.Skipped,
					Detail: "it reads no API, so there is no key to try"}}}
			})
			continue
		}
		tries = append(tries, func() []onlineLine {
			var out []onlineLine
			for _, r := range pr.Probe(ctx, a.Account, now) {
				out = append(out, onlineLine{who, r})
			}
			return out
		})
	}
	for _, n := range cfg.Notifiers {
		who := "notifier " + n.Name
		tries = append(tries, func() []onlineLine {
			if pr, ok := n.Config.(alert.Prober); ok {
				return []onlineLine{{who, pr.Probe(ctx)}}
			}
			return []onlineLine{{who, try.Result{Credential: n.Type, Outcome: try.Skipped,
				Detail: "guardd knows no harmless call to its service; guardd notify test --receiver " + n.Name + " sends a test alert"}}}
		})
	}

	results := make([][]onlineLine, len(tries))
	sem := make(chan struct{}, onlineInFlight)
	var wg sync.WaitGroup
	for i, try := range tries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = try()
		})
	}
	wg.Wait()

	fmt.Fprintln(stdout, "online: each key and token tried once")
	failed, total := 0, 0
	for _, lines := range results {
		for _, l := range lines {
			fmt.Fprintf(stdout, "  %s: %s\n", l.who, l.res)
			if l.res.Outcome != try.Skipped {
				total++
			}
			if l.res.Failed() {
				failed++
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("validate --online: %d of %d tries failed", failed, total)
	}
	return nil
}
