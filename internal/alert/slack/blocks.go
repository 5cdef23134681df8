package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
)

// Slack's Block Kit limits, in characters
// (https://api.slack.com/reference/block-kit/blocks). Text over a limit is
// shortened with "…" rather than sent and rejected as invalid_blocks.
const (
	maxBlocks      = 50
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxContextText = 2000
	// maxMessageText is where Slack truncates a message's top-level text.
	maxMessageText = 40000
)

// maxEvidenceLines is how many evidence lines a Slack message shows; the
// rest are counted in a "… and N more" line. A chat message is read at a
// glance; the fallback text and `guardd check` carry every line. With at
// most this many evidence sections plus five others, a message stays well
// under maxBlocks.
const maxEvidenceLines = 20

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
	// Buttons adds "Acknowledge" and "Silence 24 h" buttons to a firing
	// message. Set it only when something answers them (Socket Mode, see
	// Interactions); a button nobody handles shows an error in Slack.
	Buttons bool
}

// Compose builds the Block Kit message for one notification in style st;
// Compose(n, Style{}) is Message(n).
func Compose(n alert.Notification, st Style) *slack.WebhookMessage {
	var blocks []slack.Block
	if n.Status == alert.StatusResolved {
		blocks = resolvedBlocks(n)
	} else {
		blocks = firingBlocks(n)
	}
	// The footer stays last; links and buttons go just above it.
	footer := blocks[len(blocks)-1]
	blocks = blocks[:len(blocks)-1]
	if st.BillingURL != "" {
		blocks = append(blocks, linkBlock(st.BillingURL))
	}
	if st.Buttons && n.Status != alert.StatusResolved && n.Finding.Rule != alert.DigestRule {
		blocks = append(blocks, buttons(n.Finding))
	}
	blocks = append(blocks, footer)
	return &slack.WebhookMessage{
		Text:   mrkdwn(alert.Text(n), maxMessageText),
		Blocks: &slack.Blocks{BlockSet: blocks},
	}
}

func firingBlocks(n alert.Notification) []slack.Block {
	f := n.Finding
	var summary *slack.TextBlockObject
	if f.Summary != "" {
		summary = text(mrkdwn(f.Summary, maxSectionText))
	}
	fields := []*slack.TextBlockObject{
		field("Severity", string(f.Severity)),
		field("Account", f.Account),
		field("Rule", f.Rule),
		field("Fired at", alert.FormatTime(alert.FiredAt(f))),
	}
	blocks := []slack.Block{
		header(n),
		slack.NewSectionBlock(summary, fields, nil),
	}
	// A digest of several accounts has no one balance to show.
	if f.Rule != alert.DigestRule || f.State.EffectiveKnown {
		blocks = append(blocks, section(alert.BalanceLine(f.State)))
	}
	blocks = append(blocks, evidenceBlocks(f.Evidence)...)
	if len(f.Folded) > 0 {
		blocks = append(blocks, section("*Folded into this alert*\n• "+strings.Join(f.Folded, "\n• ")))
	}
	if f.Recommendation != "" {
		blocks = append(blocks, section("*Recommendation*\n"+f.Recommendation))
	}
	return append(blocks, footer(f))
}

func resolvedBlocks(n alert.Notification) []slack.Block {
	f := n.Finding
	return []slack.Block{
		header(n),
		section(fmt.Sprintf("*Resolved* at %s: %s no longer holds (it fired at %s: %s)",
			alert.FormatTime(n.At), f.Rule, alert.FormatTime(alert.FiredAt(f)), f.Summary)),
		section(alert.BalanceLine(f.State)),
		footer(f),
	}
}

func header(n alert.Notification) *slack.HeaderBlock {
	return slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
		shorten(alert.Title(n), maxHeaderText), false, false))
}

func footer(f billing.Finding) *slack.ContextBlock {
	return slack.NewContextBlock("", text(mrkdwn("fingerprint "+f.Fingerprint()+" · guardd", maxContextText)))
}

// section is a section block showing raw, which may hold our own mrkdwn
// markup (*bold*, newlines) but is escaped and shortened here.
func section(raw string) *slack.SectionBlock {
	return slack.NewSectionBlock(text(mrkdwn(raw, maxSectionText)), nil, nil)
}

func field(name, value string) *slack.TextBlockObject {
	return text(mrkdwn("*"+name+"*\n"+value, maxFieldText))
}

// text is a mrkdwn text object. Verbatim keeps Slack from turning bare URLs,
// channel names and @mentions in provider data into links or pings.
func text(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// evidenceBlocks lists the evidence as bullets, packed into as few sections
// as Slack's per-section limit allows.
func evidenceBlocks(ev []billing.Evidence) []slack.Block {
	if len(ev) == 0 {
		return nil
	}
	shown := ev[:min(len(ev), maxEvidenceLines)]
	// Any one line fits a section together with the heading.
	maxLine := maxSectionText - utf8.RuneCountInString(evidenceHeading) - 1
	lines := make([]string, 0, len(shown)+1)
	for _, e := range shown {
		lines = append(lines, mrkdwn("• "+alert.EvidenceLine(e), maxLine))
	}
	if more := len(ev) - len(shown); more > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more", more))
	}

	var blocks []slack.Block
	cur, size := evidenceHeading, utf8.RuneCountInString(evidenceHeading)
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
func shorten(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}
