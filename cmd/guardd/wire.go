package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/email"
	"github.com/guardd/guardd/internal/alert/pagerduty"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/alert/webhook"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/anthropic"
	"github.com/guardd/guardd/internal/poller/deepseek"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/poller/httpx"
	"github.com/guardd/guardd/internal/poller/openai"
	"github.com/guardd/guardd/internal/poller/openrouter"
	"github.com/guardd/guardd/internal/store"
	"go.uber.org/zap"
)

// buildAccounts opens each account's source. The set of source types is
// guardd's own and closed, so this is one explicit switch.
func buildAccounts(cfg *config.Config) ([]guard.Account, error) {
	var out []guard.Account
	for i, a := range cfg.Accounts {
		src, err := buildSource(a)
		if err != nil {
			return nil, fmt.Errorf("accounts[%d] (%s): %w", i, a.Name, err)
		}
		out = append(out, guard.Account{Account: a.Account, Source: src})
	}
	return out, nil
}

// buildSource makes the source of one account. Cost cursors start in
// memory; guard.Load resumes them from the stored history
// (guard.CostResumer), so a restart does not re-read the cost lookback.
func buildSource(a config.Account) (poller.Source, error) {
	s := a.Source
	h := httpx.Options{Timeout: s.Timeout, MaxRequests: s.MaxRequests}
	switch s.Type {
	case config.SourceFile:
		src, _, err := file.Open(s.Path)
		return src, err
	case config.SourceOpenAI:
		return openai.New(openai.Options{BaseURL: s.BaseURL, AdminKey: s.AdminKey.Value, SessionKey: s.SessionKey.Value,
			Lookback: s.CostLookback, HTTP: h})
	case config.SourceAnthropic:
		return anthropic.New(anthropic.Options{BaseURL: s.BaseURL, AdminKey: s.AdminKey.Value, Lookback: s.CostLookback, HTTP: h})
	case config.SourceDeepSeek:
		return deepseek.New(deepseek.Options{BaseURL: s.BaseURL, APIKey: s.APIKey.Value, Currency: a.Currency, HTTP: h})
	case config.SourceOpenRouter:
		return openrouter.New(openrouter.Options{BaseURL: s.BaseURL, ManagementKey: s.ManagementKey.Value, HTTP: h})
	}
	return nil, fmt.Errorf("unknown source type %q", s.Type)
}

// buildReceivers makes a notifier per configured receiver. The set of
// receiver types is guardd's own and closed, so this is one explicit switch.
// Pacing (notifiers[].pacing) is applied by the outbox, which folds the
// excess of a burst into one digest and marks it sent only once delivered.
// interactive is true only for guardd run, the one mode that answers the
// Slack buttons (Socket Mode); messages from check carry none.
func buildReceivers(cfg *config.Config, stdout io.Writer, log *zap.Logger, interactive bool) ([]alert.Receiver, error) {
	// Each account's billing page, linked from its messages.
	links := make(map[string]string)
	for _, a := range cfg.Accounts {
		if u := slack.BillingPage(a.Provider); u != "" {
			links[a.Name] = u
		}
	}
	var out []alert.Receiver
	for i, n := range cfg.Notifiers {
		rlog := log.With(zap.String("receiver", n.Name))
		client := &http.Client{Timeout: n.Timeout}
		var nt alert.Notifier
		switch n.Type {
		case config.NotifierStdout:
			nt = alert.NewWriter(stdout, alert.FormatText)
		case config.NotifierSlack:
			if n.BotMode() {
				nt = slack.NewBot(slack.BotOptions{Token: n.BotToken, Channel: n.Channel, APIURL: n.APIURL, Client: client,
					Log: rlog, Links: links, Buttons: interactive && !n.AppToken.IsZero()})
			} else {
				nt = slack.NewWebhook(n.WebhookURL, client, rlog).WithLinks(links)
			}
		case config.NotifierWebhook:
			nt = webhook.New(webhook.Options{URL: n.WebhookURL, Secret: n.Secret, Client: client, Log: rlog})
		case config.NotifierEmail:
			s := n.SMTP
			nt = email.New(email.Options{Host: s.Host, Port: s.Port, TLS: email.TLS(s.TLS), Username: s.Username, Password: s.Password,
				From: s.From, To: s.To, Timeout: n.Timeout, Log: rlog, Links: links})
		case config.NotifierPagerDuty:
			nt = pagerduty.New(pagerduty.Options{RoutingKey: n.RoutingKey, URL: n.APIURL, Client: client, Log: rlog, Links: links})
		case config.NotifierAlertmanager:
			nt = alertmanager.New(alertmanager.Options{URL: n.URL, BearerToken: n.BearerToken, ResolveTimeout: n.ResolveTimeout,
				Client: client, Log: rlog, Links: links})
		default:
			return nil, fmt.Errorf("notifiers[%d] (%s): unknown notifier type %q", i, n.Name, n.Type)
		}
		out = append(out, alert.Receiver{Name: n.Name, MinSeverity: n.MinSeverity, Accounts: n.Accounts, Notifier: nt,
			Pace: alert.Pacing{Max: n.Pacing.Max, Per: n.Pacing.Per}})
	}
	return out, nil
}

// app is what check and run work with: the config, the logger, the guard and
// the state store it writes to (nil in a dry run, which only reads the one
// it opened, if there is one).
type app struct {
	cfg    *config.Config
	log    *zap.Logger
	guard  *guard.Guard
	store  *store.Store
	opened *store.Store
}

// Close closes the state store.
func (a *app) Close() error {
	if a.opened == nil {
		return nil
	}
	return a.opened.Close()
}

// setup loads the config and builds the logger, opens the state store and
// builds the guard with the history it holds. A dry run changes nothing: it
// decides against the database's alerts and silences, if there is one,
// keeps every write in memory, and prints what would be sent instead of
// sending it.
func setup(ctx context.Context, cfgPath string, getenv getenvFunc, stdout, stderr io.Writer, dryRun, interactive bool, now time.Time) (*app, error) {
	cfg, err := config.LoadFile(cfgPath, getenv)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log.Format, cfg.Log.Level, stderr)
	if err != nil {
		return nil, err
	}
	accounts, err := buildAccounts(cfg)
	if err != nil {
		return nil, err
	}
	receivers, err := buildReceivers(cfg, stdout, log, interactive)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log}
	opts := guard.Options{
		Params:     cfg.Params,
		Ledger:     cfg.Ledger,
		Dispatcher: &alert.Dispatcher{Log: log},
		Receivers:  receivers,
		Policy: lifecycle.Policy{Repeat: cfg.Alerting.Repeat, ResolveAfter: cfg.Alerting.ResolveAfter,
			DigestAt: lifecycle.DefaultDigestAt},
		Log: log,
	}
	if _, statErr := os.Stat(cfg.State.Path); !dryRun || statErr == nil {
		if a.opened, err = store.Open(ctx, cfg.State.Path, store.Options{Retention: cfg.State.Retention}); err != nil {
			return nil, err
		}
		opts.State, opts.History = a.opened.Lifecycle(), a.opened
	}
	if dryRun {
		opts.State = lifecycle.NewOverlay(opts.State)
		opts.Receivers = []alert.Receiver{{Name: "dry-run", Notifier: alert.NewWriter(stdout, alert.FormatText)}}
		opts.Policy.Immediate = true
	} else {
		a.store = a.opened
	}
	a.guard = guard.New(accounts, opts)
	if err := a.guard.Load(ctx, now); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}
