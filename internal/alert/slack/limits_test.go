package slack

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/secret"
)

// oversized is n with every text a finding carries far over Slack's limits.
func oversized(n alert.Notification) alert.Notification {
	huge := func(s string) string { return strings.Repeat(s, 6000) }
	f := &n.Finding
	f.Account, f.Rule, f.Entity = huge("a"), huge("r"), huge("e")
	f.Summary = huge("<&>")
	f.Recommendation = huge("é")
	f.Folded = nil
	for range 100 {
		f.Folded = append(f.Folded, huge("f"))
	}
	f.Evidence = nil
	for range 60 {
		f.Evidence = append(f.Evidence, billing.Evidence{What: huge("w"), Ref: huge("x"), At: f.At, Note: huge("&"), Source: huge("s")})
	}
	return n
}

// TestEveryMessageWithinSlackLimits sends every kind of message, built from
// a finding whose every text is far too long, to the fake Slack, which
// refuses what Slack refuses (invalid_blocks, msg_blocks_too_long,
// msg_too_long): the first message with a long billing link and the
// buttons (whose confirm dialog names the rule and the account), a repeat
// in its thread, the resolution (an edit and a reply), a digest, and the
// same through the incoming webhook.
func TestEveryMessageWithinSlackLimits(t *testing.T) {
	n := oversized(receivertest.ByRule("recharge-burst"))
	link := "https://platform.example.com/billing/" + strings.Repeat("p", 5000)
	api := slacktest.NewAPI(t)
	bot := NewBot(BotOptions{Token: secret.New(api.BotToken()), Channel: "#alerts", APIURL: api.URL() + "/",
		Links: map[string]string{n.Finding.Account: link}, Buttons: true})
	ref, _, err := bot.Send(t.Context(), n)
	if err != nil {
		t.Fatalf("first message: %v", err)
	}
	repeat := receivertest.Repeat(n)
	repeat.Ref = ref
	if _, _, err := bot.Send(t.Context(), repeat); err != nil {
		t.Errorf("repeat: %v", err)
	}
	resolved := receivertest.Resolved(n)
	resolved.Ref = ref
	if _, _, err := bot.Send(t.Context(), resolved); err != nil {
		t.Errorf("resolution: %v", err)
	}
	var many []alert.Notification
	for range 40 {
		many = append(many, n)
	}
	digest := alert.Digest(many, strings.Repeat("d", 5000), n.At)
	if _, _, err := bot.Send(t.Context(), digest); err != nil {
		t.Errorf("digest: %v", err)
	}
	for _, c := range api.Calls() {
		if c.Answer != "" {
			t.Errorf("%s answered %s", c.Method, c.Answer)
		}
	}

	hook := slacktest.NewWebhook(t)
	w := NewWebhook(secret.New(hook.URL()), nil, nil).WithLinks(map[string]string{n.Finding.Account: link}, nil)
	for _, x := range []alert.Notification{n, repeat, resolved, digest} {
		if _, _, err := w.Send(t.Context(), x); err != nil {
			t.Errorf("webhook, %s: %v", x.Status, err)
		}
	}

	// And by the numbers, for every kind of message guardd builds.
	msgs := map[string]*slack.WebhookMessage{
		"first":          Compose(n, Style{BillingURL: link, Buttons: true}),
		"resolved":       Compose(resolved, Style{BillingURL: link}),
		"thread reply":   threadReply(repeat),
		"resolved reply": resolvedReply(resolved),
		"digest":         Compose(digest, Style{BillingURL: link, Buttons: true}),
	}
	for name, m := range msgs {
		if got := blocksText(m.Blocks.BlockSet); got > maxBlocksText {
			t.Errorf("%s: got %d characters of text in the blocks, want at most %d", name, got, maxBlocksText)
		}
		if got := len(m.Blocks.BlockSet); got > maxBlocks {
			t.Errorf("%s: got %d blocks, want at most %d", name, got, maxBlocks)
		}
		if got := len([]rune(m.Text)); got > maxMessageText {
			t.Errorf("%s: got a text of %d characters, want at most %d", name, got, maxMessageText)
		}
	}
	// The confirm dialog still says what the button silences.
	ab := msgs["first"].Blocks.BlockSet[len(msgs["first"].Blocks.BlockSet)-2].(*slack.ActionBlock)
	confirm := ab.Elements.ElementSet[1].(*slack.ButtonBlockElement).Confirm.Text.Text
	if len([]rune(confirm)) > maxConfirmText || !strings.HasPrefix(confirm, "guardd will not notify rrr") || !strings.HasSuffix(confirm, "for 24 hours.") {
		t.Errorf("got confirm text %.60q… of %d characters, want the rule, the account and the duration within %d", confirm, len([]rune(confirm)), maxConfirmText)
	}
}

// TestWebhookChannelGone: Slack answers 404 channel_not_found and 410
// channel_is_archived when the webhook's channel is gone; neither is worth
// retrying, and each error says what to do.
func TestWebhookChannelGone(t *testing.T) {
	for _, tt := range []struct {
		fault slacktest.Fault
		want  string
	}{
		{slacktest.ChannelArchived, "slack rejected the message: 410 Gone (channel_is_archived): the webhook's channel is archived; unarchive it"},
		{slacktest.ChannelDeleted, "slack answered 404 Not Found (channel_not_found): the webhook's channel no longer exists"},
		{slacktest.NoService, "slack answered 404 Not Found (no_service): the webhook URL is wrong or has been revoked"},
	} {
		hook := slacktest.NewWebhook(t)
		hook.SetFault(tt.fault)
		_, retry, err := NewWebhook(secret.New(hook.URL()), nil, nil).Send(t.Context(), receivertest.ByRule("runway-low"))
		if err == nil || retry || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got retry %t, error %v; want no retry and %q", tt.fault.Body, retry, err, tt.want)
		}
		receivertest.NoSecret(t, []string{hook.URL(), strings.TrimPrefix(hook.Path(), "/services/")}, err, nil)
	}
}
