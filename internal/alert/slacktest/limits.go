package slacktest

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Slack's limits on a message, in characters, as its reference gives them:
//
//   - blocks per message: https://docs.slack.dev/reference/block-kit/blocks
//   - header: https://docs.slack.dev/reference/block-kit/blocks/header-block
//   - section text and fields: https://docs.slack.dev/reference/block-kit/blocks/section-block
//   - context elements: https://docs.slack.dev/reference/block-kit/blocks/context-block
//   - actions elements: https://docs.slack.dev/reference/block-kit/blocks/actions-block
//   - any text object: https://docs.slack.dev/reference/block-kit/composition-objects/text-object
//   - button: https://docs.slack.dev/reference/block-kit/block-elements/button-element
//   - confirm dialog: https://docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object
//   - block_id: every block's reference page
//   - the message's text: https://api.slack.com/changelog/2018-04-truncating-really-long-messages
//     (Slack cuts a longer text; the fakes refuse it, msg_too_long as
//     chat.postMessage names it, so that a test catches a text guardd
//     failed to cap)
//   - all the text of the blocks together: no page gives it; Slack refuses
//     more than about 12,000 characters with msg_blocks_too_long, the
//     figure Slack's engineers gave in slackapi/bolt-js#2509 (real Slack
//     sometimes refuses a little less)
const (
	maxBlocks        = 50
	maxBlockID       = 255
	maxHeaderText    = 150
	maxTextObject    = 3000
	maxFields        = 10
	maxFieldText     = 2000
	maxContextItems  = 10
	maxActionItems   = 25
	maxButtonText    = 75
	maxActionID      = 255
	maxButtonValue   = 2000
	maxButtonURL     = 3000
	maxConfirmTitle  = 100
	maxConfirmText   = 300
	maxConfirmButton = 30
	maxMessageText   = 40000
	maxBlocksText    = 12000
)

// checkMessage checks a message's text and its blocks (raw JSON, nil for
// none) as Slack does, and returns Slack's error code: invalid_blocks,
// msg_blocks_too_long, msg_too_long or no_text; "" when it would post.
func checkMessage(text string, blocks json.RawMessage) string {
	var bs []map[string]json.RawMessage
	if len(blocks) > 0 {
		if err := json.Unmarshal(blocks, &bs); err != nil {
			return "invalid_blocks"
		}
	}
	if len(bs) > maxBlocks {
		return "invalid_blocks"
	}
	for _, b := range bs {
		if err := checkBlock(b); err != nil {
			return "invalid_blocks"
		}
	}
	var all any
	_ = json.Unmarshal(blocks, &all)
	switch {
	case textLength(all) > maxBlocksText:
		return "msg_blocks_too_long"
	case utf8.RuneCountInString(text) > maxMessageText:
		return "msg_too_long"
	case text == "" && len(bs) == 0:
		return "no_text"
	}
	return ""
}

// textLength counts the characters of every "text" string in v, however
// deep: the text of the blocks, as Slack adds it up.
func textLength(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok && k == "text" {
				n += utf8.RuneCountInString(s)
			} else {
				n += textLength(c)
			}
		}
	case []any:
		for _, c := range x {
			n += textLength(c)
		}
	}
	return n
}

// textObject is a composition text object.
type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// check checks a text object of at most limit characters; plainOnly says
// only plain_text is allowed.
func (t *textObject) check(what string, limit int, plainOnly bool) error {
	switch {
	case t == nil:
		return fmt.Errorf("%s: missing", what)
	case t.Type != "plain_text" && (plainOnly || t.Type != "mrkdwn"):
		return fmt.Errorf("%s: text type %q", what, t.Type)
	}
	if n := utf8.RuneCountInString(t.Text); n == 0 || n > limit {
		return fmt.Errorf("%s: text of %d characters, want 1 to %d", what, n, limit)
	}
	return nil
}

// block is the union of the fields of the block types guardd sends.
type block struct {
	Type     string                       `json:"type"`
	BlockID  string                       `json:"block_id"`
	Text     *textObject                  `json:"text"`
	Fields   []*textObject                `json:"fields"`
	Elements []map[string]json.RawMessage `json:"elements"`
}

func checkBlock(raw map[string]json.RawMessage) error {
	b, err := decode[block](raw)
	if err != nil {
		return err
	}
	if n := utf8.RuneCountInString(b.BlockID); n > maxBlockID {
		return fmt.Errorf("block_id of %d characters", n)
	}
	switch b.Type {
	case "header":
		return b.Text.check("header", maxHeaderText, true)
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return fmt.Errorf("section: no text and no fields")
		}
		if b.Text != nil {
			if err := b.Text.check("section", maxTextObject, false); err != nil {
				return err
			}
		}
		if len(b.Fields) > maxFields {
			return fmt.Errorf("section: %d fields", len(b.Fields))
		}
		for _, f := range b.Fields {
			if err := f.check("field", maxFieldText, false); err != nil {
				return err
			}
		}
	case "context":
		if n := len(b.Elements); n == 0 || n > maxContextItems {
			return fmt.Errorf("context: %d elements", n)
		}
		for _, e := range b.Elements {
			t, err := decode[textObject](e)
			if err != nil {
				return err
			}
			if t.Type == "image" {
				continue
			}
			if err := t.check("context", maxTextObject, false); err != nil {
				return err
			}
		}
	case "actions":
		if n := len(b.Elements); n == 0 || n > maxActionItems {
			return fmt.Errorf("actions: %d elements", n)
		}
		for _, e := range b.Elements {
			if err := checkButton(e); err != nil {
				return err
			}
		}
	case "divider":
	default:
		return fmt.Errorf("block type %q: not one guardd sends", b.Type)
	}
	return nil
}

// button is a button element, with its confirm dialog.
type button struct {
	Type     string      `json:"type"`
	Text     *textObject `json:"text"`
	ActionID string      `json:"action_id"`
	Value    string      `json:"value"`
	URL      string      `json:"url"`
	Style    string      `json:"style"`
	Confirm  *struct {
		Title   *textObject `json:"title"`
		Text    *textObject `json:"text"`
		Confirm *textObject `json:"confirm"`
		Deny    *textObject `json:"deny"`
	} `json:"confirm"`
}

func checkButton(raw map[string]json.RawMessage) error {
	b, err := decode[button](raw)
	if err != nil {
		return err
	}
	if b.Type != "button" {
		return fmt.Errorf("actions: element type %q, not one guardd sends", b.Type)
	}
	if err := b.Text.check("button", maxButtonText, true); err != nil {
		return err
	}
	switch {
	case utf8.RuneCountInString(b.ActionID) > maxActionID:
		return fmt.Errorf("button: action_id of %d characters", utf8.RuneCountInString(b.ActionID))
	case utf8.RuneCountInString(b.Value) > maxButtonValue:
		return fmt.Errorf("button: value of %d characters", utf8.RuneCountInString(b.Value))
	case utf8.RuneCountInString(b.URL) > maxButtonURL:
		return fmt.Errorf("button: url of %d characters", utf8.RuneCountInString(b.URL))
	case b.Style != "" && b.Style != "primary" && b.Style != "danger":
		return fmt.Errorf("button: style %q", b.Style)
	}
	if c := b.Confirm; c != nil {
		for _, err := range []error{
			c.Title.check("confirm title", maxConfirmTitle, true),
			// Slack's own example gives the dialog's text as mrkdwn.
			c.Text.check("confirm text", maxConfirmText, false),
			c.Confirm.check("confirm button", maxConfirmButton, true),
			c.Deny.check("deny button", maxConfirmButton, true),
		} {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// decode reads a JSON object into T.
func decode[T any](raw map[string]json.RawMessage) (*T, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
