package slack

import (
	"strings"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// Kind is the slack receiver type.
var Kind = alert.Kind{Name: "slack", Config: func() alert.Config { return Defaults() }}

// Config is a slack notifier's block of the configuration: an incoming
// webhook (WebhookURL), or a bot token and a channel (bot mode), which
// threads repeats and edits the message on resolution.
type Config struct {
	alert.Paced `yaml:",inline"`
	// WebhookURL is the incoming webhook; it is itself the credential.
	WebhookURL setting.Secret `yaml:"webhook_url"`
	// BotToken (xoxb-…) and Channel put the notifier in bot mode; AppToken
	// (xapp-…), optional, answers its buttons over Socket Mode.
	BotToken setting.Secret `yaml:"bot_token"`
	AppToken setting.Secret `yaml:"app_token"`
	Channel  setting.Text   `yaml:"channel"`
	// APIURL is the Web API's base URL in bot mode; empty means Slack's own.
	APIURL setting.URL `yaml:"api_url" example:"https://slack.com/api" creds:"use bot_token_env or bot_token_file"`
}

// Defaults returns a slack notifier's defaults.
func Defaults() *Config {
	return &Config{
		Paced:      alert.PacedDefaults(httpx.DefaultPostTimeout, 5),
		WebhookURL: setting.Secret{Spec: setting.URLSpec("the incoming webhook's URL")},
		BotToken: setting.Secret{Spec: &setting.SecretSpec{Noun: "token", What: "the Slack app's bot token (xoxb-…)", Pasted: slackToken,
			Check: func(s string) string {
				switch {
				case strings.HasPrefix(s, "xoxb-") || strings.HasPrefix(s, "xoxe.xoxb-"):
					return ""
				case strings.HasPrefix(s, "xapp-"):
					return "an app-level token (xapp-…), not a bot token (xoxb-…): put it in app_token_env or app_token_file"
				}
				return "not a Slack bot token (xoxb-…, under OAuth & Permissions in the app's settings)"
			}}},
		AppToken: setting.Secret{Spec: &setting.SecretSpec{Noun: "token", What: "the Slack app's app-level token (xapp-…)", Pasted: slackToken,
			Check: func(s string) string {
				if !strings.HasPrefix(s, "xapp-") {
					return "not a Slack app-level token (xapp-…, under Basic Information, App-Level Tokens)"
				}
				return ""
			}}},
	}
}

func slackToken(s string) bool { return strings.HasPrefix(s, "xox") || strings.HasPrefix(s, "xapp-") }

// BotMode reports whether the notifier posts with a bot token.
func (c *Config) BotMode() bool { return c.BotToken.IsSet() }

// Buttons reports whether guardd run answers the notifier's buttons.
func (c *Config) Buttons() bool { return c.BotMode() && !c.AppToken.IsZero() }

// Validate implements alert.Config.
func (c *Config) Validate(p *setting.Problems, _ alert.Env) {
	webhook, bot := c.WebhookURL.IsSet(), c.BotToken.IsSet()
	switch {
	case webhook && bot:
		p.Add("", "set either webhook_url_env or webhook_url_file (incoming webhook) or bot_token_env or bot_token_file (bot mode), not both")
	case !webhook && !bot:
		p.Add("", "a slack notifier needs webhook_url_env or webhook_url_file (incoming webhook), "+
			"or bot_token_env or bot_token_file and channel (bot mode)")
	}
	if !bot {
		c.WebhookURL.RequireTLS(p, "the alerts")
		for _, k := range []setting.Pos{c.Channel.Pos, c.AppToken.Pos, c.APIURL.Pos} {
			if k.IsSet() {
				p.At(k, "only applies in bot mode (with bot_token_env or bot_token_file)")
			}
		}
		return
	}
	switch ch := strings.TrimSpace(c.Channel.S); {
	case !c.Channel.IsSet():
		p.Add("channel", "is required in bot mode: the channel's ID (C…, in the channel details) or #name")
	case ch == "" || strings.ContainsAny(ch, " \t,"):
		p.At(c.Channel.Pos, "invalid channel %s: want the channel's ID (C…) or #name", secret.Quote(c.Channel.S))
	default:
		c.Channel.S = ch
	}
	c.APIURL.RequireTLS(p, "the bot token")
}

// New implements alert.Config.
func (c *Config) New(d alert.Deps) (alert.Notifier, error) {
	client := c.Client()
	if c.BotMode() {
		return NewBot(BotOptions{Token: c.BotToken.Value, Channel: c.Channel.S, APIURL: c.APIURL.S, Client: client,
			Log: d.Log, Links: d.Links, Pages: d.Pages, Buttons: d.Interactive && c.Buttons()}), nil
	}
	return NewWebhook(c.WebhookURL.Value, client, d.Log).WithLinks(d.Links, d.Pages), nil
}

// Describe implements alert.Config.
func (c *Config) Describe() string {
	if !c.BotMode() {
		return "slack, incoming webhook"
	}
	s := "slack, bot mode, channel " + c.Channel.S
	if !c.AppToken.IsZero() {
		s += ", with buttons"
	}
	return s
}
