package slack

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/probe"
	"github.com/guardd/guardd/internal/secret"
)

// TestProbe calls auth.test on the fake Web API with the bot token: it
// says whose the token is, or why Slack refused it, posts nothing and never
// shows the token.
func TestProbe(t *testing.T) {
	api := slacktest.NewAPI(t)
	for _, tc := range []struct {
		name  string
		token string
		fault *slacktest.Fault
		want  probe.Outcome
		text  string
	}{
		{"ok", api.BotToken(), nil, probe.OK, `bot token ok: reads workspace "Acme" as @guardd`},
		{"invalid_auth", "xoxb-0-0-Wr0ngT0kenTail", nil, probe.Rejected,
			"bot token rejected: slack refused the bot token (invalid_auth): it is wrong, revoked or expired"},
		{"server error", api.BotToken(), &slacktest.Fault{Status: http.StatusInternalServerError}, probe.Unreachable, "bot token unreachable: slack server error"},
		{"not the API", api.BotToken(), &slacktest.Fault{Status: http.StatusNotFound}, probe.Unexpected, "bot token answered unexpectedly: slack answered 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				api.SetFault("auth.test", *tc.fault)
				defer api.ClearFault()
			}
			calls := len(api.Calls())
			r := NewBot(BotOptions{Token: secret.New(tc.token), APIURL: api.URL()}).probe(context.Background())
			if r.Outcome != tc.want || !strings.HasPrefix(r.String(), tc.text) {
				t.Errorf("got %v %q, want %v starting %q", r.Outcome, r, tc.want, tc.text)
			}
			if got := api.Calls()[calls:]; len(got) != 1 || got[0].Method != "auth.test" {
				t.Errorf("calls: got %+v, want one auth.test", got)
			}
			if strings.Contains(r.String(), tc.token[len(tc.token)-8:]) {
				t.Errorf("result shows the token: %s", r)
			}
		})
	}
	if n := len(api.Messages(slacktest.AlertsChannel)); n != 0 {
		t.Errorf("messages posted: got %d, want none", n)
	}
	t.Run("unreachable", func(t *testing.T) {
		down := slacktest.NewAPI(t)
		down.Close()
		r := NewBot(BotOptions{Token: secret.New(down.BotToken()), APIURL: down.URL()}).probe(context.Background())
		if r.Outcome != probe.Unreachable || !strings.Contains(r.Detail, "connection refused") {
			t.Errorf("got %v %q, want unreachable", r.Outcome, r)
		}
	})
}
