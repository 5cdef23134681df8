package main

import (
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/poller/file"
	"go.uber.org/zap"
)

// buildAccounts opens each account's source. The set of source types is
// guardd's own and closed, so this is one explicit switch.
func buildAccounts(cfg *config.Config) ([]guard.Account, error) {
	var out []guard.Account
	for i, a := range cfg.Accounts {
		switch a.Source.Type {
		case "file":
			src, _, err := file.Open(a.Source.Path)
			if err != nil {
				return nil, fmt.Errorf("accounts[%d] (%s): %w", i, a.Name, err)
			}
			out = append(out, guard.Account{Account: a.Account, Source: src})
		default:
			return nil, fmt.Errorf("accounts[%d] (%s): unknown source type %q", i, a.Name, a.Source.Type)
		}
	}
	return out, nil
}

// buildReceivers makes a notifier per configured receiver.
func buildReceivers(cfg *config.Config, stdout io.Writer, log *zap.Logger) ([]alert.Receiver, error) {
	var out []alert.Receiver
	for i, n := range cfg.Notifiers {
		var nt alert.Notifier
		switch n.Type {
		case "stdout":
			nt = alert.NewWriter(stdout, alert.FormatText)
		case "slack":
			nt = slack.NewWebhook(n.WebhookURL, nil, log.With(zap.String("receiver", n.Name)))
		default:
			return nil, fmt.Errorf("notifiers[%d] (%s): unknown notifier type %q", i, n.Name, n.Type)
		}
		out = append(out, alert.Receiver{Name: n.Name, MinSeverity: n.MinSeverity, Notifier: nt})
	}
	return out, nil
}

// setup loads the config and builds the logger and the guard from it.
func setup(cfgPath string, getenv getenvFunc, stdout, stderr io.Writer, dryRun bool) (*config.Config, *zap.Logger, *guard.Guard, error) {
	cfg, err := config.LoadFile(cfgPath, getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	log, err := newLogger(cfg.Log.Format, cfg.Log.Level, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	accounts, err := buildAccounts(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	var receivers []alert.Receiver
	if dryRun {
		receivers = []alert.Receiver{{Name: "dry-run", Notifier: alert.NewWriter(stdout, alert.FormatText)}}
	} else if receivers, err = buildReceivers(cfg, stdout, log); err != nil {
		return nil, nil, nil, err
	}
	g := guard.New(accounts, guard.Options{
		Params:     cfg.Params,
		Ledger:     cfg.Ledger,
		Dispatcher: &alert.Dispatcher{Receivers: receivers, Log: log},
	})
	return cfg, log, g, nil
}
