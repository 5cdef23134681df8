package main

import (
	"context"
	"fmt"

	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/heartbeat"
)

// pingCycle pings the dead-man's switch (heartbeat.url_env or url_file)
// with how a cycle of check or run ended: err is the cycle's error, as
// cycleReport returns it. A cycle that read every account, some only in
// part (check's exit status 3), counts as completed unless
// heartbeat.on_partial is fail: guardd is alive and decided every alert,
// and a part that stays unread is source-blind's to report, through the
// receivers, without the switch flapping on each flaky poll.
func pingCycle(ctx context.Context, a *app, rep guard.Report, err error) {
	a.beat.Done(ctx, heartbeat.Cycle{Err: err, Partial: partlyRead(rep),
		Summary: fmt.Sprintf("%d of %d accounts read; findings: %d; notifications delivered: %d",
			rep.Polled, rep.Polled+len(rep.Failed), rep.Findings, rep.Delivery.Sent)})
}
