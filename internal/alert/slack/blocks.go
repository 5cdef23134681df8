package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/secret"
)

// Slack's limits, in characters (the fake in slacktest holds them with the
// page of Slack's reference each comes from). Text over a limit is
// shortened with "…" rather than sent and rejected.
const (
	maxBlocks      = 50    // blocks in a message
	maxHeaderText  = 150   // a header's text
	maxSectionText = 3000  // a section's text, and any text object
	maxFieldText   = 2000  // a section field
	maxButtonValue = 2000  // a button's value
	maxConfirmText = 300   // a confirm dialog's text
	maxMessageText = 40000 // the message's text (the fallback)
	// maxBlocksText bounds the text of all the blocks of a message
	// together: Slack refuses more than about 12,000 characters
	// (msg_blocks_too_long, slackapi/bolt-js#2509), and sometimes a
	// little less.
	maxBlocksText = 10000
)

// guardd's shares of maxBlocksText: with them the blocks other than the
// evidence hold at most about 7,500 characters, and the evidence gets
// what is left (evidenceBlocks).
const (
	maxSummaryText = 2000
	maxBalanceText = 1000
	maxFoldedText  = 1500
	maxAdviceText  = 1500 // the recommendation
	maxFieldValue  = 250  // each field, heading included
	maxContextText = 600  // a context line: the billing page, the footer, what a press did
)

// maxEvidenceLines is how many evidence lines a Slack message shows; the
// rest are counted in a "… and N more" line. A chat message is read at a
// glance; the fallback text and `guardd check` carry every line. With at
// most this many evidence sections plus nine others, a message stays well
// under maxBlocks.
const maxEvidenceLines = 20

// minEvidenceLine is the fewest characters an evidence line is cut to:
// when the budget left cannot give each line that many, fewer lines show.
const minEvidenceLine = 80

const evidenceHeading = "*Evidence*"

// Message builds the Block Kit message for one notification. Its Text is
// alert.Text(n), escaped for Slack, which Slack shows in notifications and
// clients that cannot render blocks.
func Message(n alert.Notification) *slack.WebhookMessage { return Compose(n, Style{}) }

// Style is what a message shows beyond the notification itself.
type Style struct {
	// BillingURL, when set, links the account's billing page at the
	// provider (such as openai.BillingPage).
	BillingURL string
	// PageURL, when set, links the account's page on guardd's own
	// listener (http.external_url): its timeline and where the money went.
	PageURL string
	// Buttons adds "Acknowledge" and "Silence 24 h" buttons to a firing
	// message. Set it only when something answers them (Socket Mode, see
	// Interactions); a button nobody handles shows an error in Slack.
	Buttons bool
}

// Compose builds the Block Kit message for one notification in style st;
// Compose(n, Style{}) is Message(n).
func Compose(n alert.Notification, st Style) *slack.WebhookMessage {
	f := n.Finding
	var head, tail []slack.Block
	var ev []billing.Evidence
	if n.Status == alert.StatusResolved {
		head = resolvedBlocks(n)
	} else {
		head, tail = firingBlocks(n)
		ev = f.Evidence
	}
	// The footer stays last; links and buttons go just above it.
	if st.BillingURL != "" {
		tail = append(tail, linkBlock("Billing page: ", st.BillingURL))
	}
	if st.PageURL != "" {
		tail = append(tail, linkBlock("guardd's page: ", st.PageURL))
	}
	if st.Buttons && n.Status != alert.StatusResolved && f.Rule != alert.DigestRule {
		tail = append(tail, buttons(f))
	}
	tail = append(tail, footer(f))
	return message(mrkdwn(alert.Text(n), maxMessageText), head, ev, tail)
}

// message assembles a message: head, the evidence in what head and tail
// leave of maxBlocksText, then tail.
func message(text string, head []slack.Block, ev []billing.Evidence, tail []slack.Block) *slack.WebhookMessage {
	blocks := append(head, evidenceBlocks(ev, maxBlocksText-blocksText(head)-blocksText(tail))...)
	return &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: append(blocks, tail...)}}
}

// firingBlocks are a firing message's blocks before the evidence (head) and
// after it (tail), the footer and what Style adds left out.
func firingBlocks(n alert.Notification) (head, tail []slack.Block) {
	f := n.Finding
	var summary *slack.TextBlockObject
	if f.Summary != "" {
		summary = text(mrkdwn(f.Summary, maxSummaryText))
	}
	fields := []*slack.TextBlockObject{
		field("Severity", string(f.Severity)),
		field("Account", f.Account),
		field("Rule", f.Rule),
		field("Fired at", alert.FormatTime(alert.FiredAt(f))),
	}
	head = []slack.Block{
		header(n),
		slack.NewSectionBlock(summary, fields, nil),
	}
	// A digest of several accounts has no one balance to show.
	if f.Rule != alert.DigestRule || f.State.EffectiveKnown {
		head = append(head, section(alert.BalanceLine(f.State), maxBalanceText))
	}
	if len(f.Folded) > 0 {
		tail = append(tail, section("*Folded into this alert*\n• "+strings.Join(f.Folded, "\n• "), maxFoldedText))
	}
	if f.Recommendation != "" {
		tail = append(tail, section("*Recommendation*\n"+f.Recommendation, maxAdviceText))
	}
	return head, tail
}

func resolvedBlocks(n alert.Notification) []slack.Block {
	f := n.Finding
	return []slack.Block{
		header(n),
		section(fmt.Sprintf("*Resolved* at %s: %s no longer holds (it fired at %s: %s)",
			alert.FormatTime(n.At), f.Rule, alert.FormatTime(alert.FiredAt(f)), f.Summary), maxSectionText),
		section(alert.BalanceLine(f.State), maxBalanceText),
	}
}

func header(n alert.Notification) *slack.HeaderBlock {
	return slack.NewHeaderBlock(plain(alert.Title(n), maxHeaderText))
}

func footer(f billing.Finding) *slack.ContextBlock {
	return slack.NewContextBlock("", text(mrkdwn("fingerprint "+f.Fingerprint()+" · guardd", maxContextText)))
}

// section is a section block showing raw, which may hold our own mrkdwn
// markup (*bold*, newlines) but is escaped and shortened to limit here.
func section(raw string, limit int) *slack.SectionBlock {
	return slack.NewSectionBlock(text(mrkdwn(raw, limit)), nil, nil)
}

func field(name, value string) *slack.TextBlockObject {
	return text(mrkdwn("*"+name+"*\n"+value, maxFieldValue))
}

// text is a mrkdwn text object. Verbatim keeps Slack from turning bare URLs,
// channel names and @mentions in provider data into links or pings.
func text(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// plain is a plain_text object of s, shortened to limit.
func plain(s string, limit int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, shorten(s, limit), false, false)
}

// blocksText counts the characters of the text blocks carry, as Slack adds
// it up against its limit on a message's blocks.
func blocksText(blocks []slack.Block) int {
	n := 0
	count := func(ts ...*slack.TextBlockObject) {
		for _, t := range ts {
			if t != nil {
				n += utf8.RuneCountInString(t.Text)
			}
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			count(b.Text)
		case *slack.SectionBlock:
			count(b.Text)
			count(b.Fields...)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					count(t)
				}
			}
		case *slack.ActionBlock:
			for _, e := range b.Elements.ElementSet {
				if be, ok := e.(*slack.ButtonBlockElement); ok {
					count(be.Text)
					if c := be.Confirm; c != nil {
						count(c.Title, c.Text, c.Confirm, c.Deny)
					}
				}
			}
		}
	}
	return n
}

// evidenceBlocks lists the evidence as bullets, packed into as few sections
// as Slack's per-section limit allows, in at most budget characters: at
// most maxEvidenceLines lines, each cut to its share of the budget, and
// fewer lines when a share would be under minEvidenceLine.
func evidenceBlocks(ev []billing.Evidence, budget int) []slack.Block {
	if len(ev) == 0 {
		return nil
	}
	more := func(n int) string { return fmt.Sprintf("… and %d more", n) }
	heading := utf8.RuneCountInString(evidenceHeading)
	shown := min(len(ev), maxEvidenceLines)
	// Each line costs its text and a newline; so do the heading and the
	// count of lines not shown.
	share := func(shown int) int {
		left := budget - heading - (len(more(len(ev))) + 1)
		return left/shown - 1
	}
	for shown > 0 && share(shown) < minEvidenceLine {
		shown--
	}
	if shown == 0 {
		if budget < heading+len(more(len(ev)))+1 {
			return nil
		}
		return []slack.Block{slack.NewSectionBlock(text(evidenceHeading+"\n"+more(len(ev))), nil, nil)}
	}
	// Any one line fits a section together with the heading.
	maxLine := min(maxSectionText-heading-1, share(shown))
	lines := make([]string, 0, shown+1)
	for _, e := range ev[:shown] {
		lines = append(lines, mrkdwn("• "+alert.EvidenceLine(e), maxLine))
	}
	if n := len(ev) - shown; n > 0 {
		lines = append(lines, more(n))
	}

	var blocks []slack.Block
	cur, size := evidenceHeading, heading
	for _, l := range lines {
		n := utf8.RuneCountInString(l)
		if size+1+n > maxSectionText {
			blocks = append(blocks, slack.NewSectionBlock(text(cur), nil, nil))
			cur, size = l, n
			continue
		}
		cur += "\n" + l
		size += 1 + n
	}
	return append(blocks, slack.NewSectionBlock(text(cur), nil, nil))
}

// mrkdwnEscaper converts the three characters Slack reserves for control
// sequences (https://api.slack.com/reference/surfaces/formatting#escaping).
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mrkdwn escapes s for Slack and shortens the result to at most limit
// characters, ending in "…" when cut. It never cuts an escape in half.
func mrkdwn(s string, limit int) string {
	esc := mrkdwnEscaper.Replace(s)
	if utf8.RuneCountInString(esc) <= limit {
		return esc
	}
	var b strings.Builder
	size := 0
	for _, r := range s {
		piece := mrkdwnEscaper.Replace(string(r))
		n := utf8.RuneCountInString(piece)
		if size+n > limit-1 {
			break
		}
		b.WriteString(piece)
		size += n
	}
	b.WriteString("…")
	return b.String()
}

// shorten cuts plain text to at most limit characters, ending in "…" when
// cut.
func shorten(s string, limit int) string { return secret.Shorten(s, limit) }
