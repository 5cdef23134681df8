package slack

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
)

// The buttons of a firing message in bot mode, and the block holding them.
const (
	ActionsBlockID  = "guardd_actions"
	ActionAck       = "guardd_ack"
	ActionSilence   = "guardd_silence_24h"
	SilenceDuration = 24 * time.Hour
)

// ActionValue is what a button carries back when pressed: enough to record
// an acknowledgement (the fingerprint) or a silence (rule and account)
// without looking anything up.
type ActionValue struct {
	Fingerprint string `json:"fp"`
	Rule        string `json:"rule"`
	Account     string `json:"account"`
}

func buttons(f billing.Finding) *slack.ActionBlock {
	v := ActionValue{Fingerprint: f.Fingerprint(), Rule: f.Rule, Account: f.Account}
	b, _ := json.Marshal(v) // strings only: cannot fail
	value := string(b)
	if len(value) > maxButtonValue {
		// An account name too long to carry: the fingerprint alone still
		// acknowledges; the silence button then reports it cannot.
		b, _ = json.Marshal(ActionValue{Fingerprint: v.Fingerprint})
		value = string(b)
	}
	ack := slack.NewButtonBlockElement(ActionAck, value, plain("Acknowledge", 75)).WithStyle(slack.StylePrimary)
	silence := slack.NewButtonBlockElement(ActionSilence, value, plain("Silence 24 h", 75)).
		WithConfirm(slack.NewConfirmationBlockObject(
			plain("Silence for 24 hours?", 100),
			// The rule and the account, as long as they may be, share
			// what the dialog's text can hold.
			text(mrkdwn(fmt.Sprintf("guardd will not notify %s on %s for 24 hours.", shorten(f.Rule, 100), shorten(f.Account, 100)),
				maxConfirmText)),
			plain("Silence", 30),
			plain("Cancel", 30)))
	return slack.NewActionBlock(ActionsBlockID, ack, silence)
}

// linkBlock links a page (label "Billing page: "), showing where the
// link goes.
func linkBlock(label, u string) *slack.ContextBlock {
	shown := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || strings.ContainsAny(u, "|<> ") ||
		len(label)+2*len(u)+3 > maxContextText {
		// Not a link Slack can carry, or one too long for the line: show
		// it as text.
		return slack.NewContextBlock("", text(mrkdwn(label+u, maxContextText)))
	}
	return slack.NewContextBlock("", text(label+"<"+u+"|"+mrkdwn(shown, maxContextText)+">"))
}

// threadReply is the message posted in the thread of a finding's first
// message when it is notified again: it still holds, with the evidence as
// it stands now.
func threadReply(n alert.Notification) *slack.WebhookMessage {
	f := n.Finding
	head := fmt.Sprintf("*Still firing* as of %s", alert.FormatTime(n.At))
	if f.Summary != "" {
		head += ": " + f.Summary
	}
	return message(mrkdwn(fmt.Sprintf("Still firing as of %s: %s", alert.FormatTime(n.At), alert.Label(n)), maxMessageText),
		[]slack.Block{section(head, maxSectionText), section(alert.BalanceLine(f.State), maxBalanceText)}, f.Evidence,
		[]slack.Block{footer(f)})
}

// resolvedReply is the short message posted in the thread when the original
// message was edited to show the resolution.
func resolvedReply(n alert.Notification) *slack.WebhookMessage {
	line := fmt.Sprintf("*Resolved* at %s: %s no longer holds.", alert.FormatTime(n.At), n.Finding.Rule)
	return &slack.WebhookMessage{
		Text:   mrkdwn(fmt.Sprintf("Resolved at %s: %s no longer holds.", alert.FormatTime(n.At), n.Finding.Rule), maxMessageText),
		Blocks: &slack.Blocks{BlockSet: []slack.Block{section(line, maxSectionText), section(alert.BalanceLine(n.Finding.State), maxBalanceText)}},
	}
}
