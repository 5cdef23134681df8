package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/guardd/guardd/internal/probe"
	"github.com/guardd/guardd/internal/secret"
)

// Probe implements alert.Prober. In bot mode it calls auth.test with the
// bot token, which posts nothing; an incoming webhook has no harmless call
// (posting is all it does), so it is not tried.
func (c *Config) Probe(ctx context.Context) probe.Result {
	if !c.BotMode() {
		return probe.Result{Credential: "incoming webhook", Outcome: probe.Skipped,
			Detail: "an incoming webhook has no call that posts nothing; guardd notify test sends a test alert through it"}
	}
	b := NewBot(BotOptions{Token: c.BotToken.Value, APIURL: c.APIURL.S, Client: c.Client()})
	return b.probe(ctx)
}

// probe calls auth.test, which says whose the token is and posts nothing.
func (b *Bot) probe(ctx context.Context) probe.Result {
	r := probe.Result{Credential: "bot token"}
	api, ans := b.api()
	resp, err := api.AuthTestContext(ctx)
	if err == nil {
		r.Reads = fmt.Sprintf("workspace %q as @%s", resp.Team, resp.User)
		return r
	}
	retry, err := classifyAPI("auth.test", "", err, ans)
	err = secret.ScrubError(err, b.token)
	r.Detail = err.Error()
	var ae *APIError
	switch {
	case retry:
		r.Outcome = probe.Unreachable
	case errors.As(err, &ae):
		r.Outcome = probe.Rejected
	default:
		// An HTTP error or a body that is not the Web API's.
		r.Outcome = probe.Unexpected
	}
	return r
}
