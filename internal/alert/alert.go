// Package alert turns findings into notifications: it decides what is new,
// what is resolved and what was already sent, renders messages, and hands them
// to notifiers. Receivers (stdout, Slack, ...) only send; they never decide
// dedup or repeat.
package alert

import (
	"context"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// Status is where an alert is in its lifecycle when a notification is sent.
type Status string

const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Notification is one message about one finding.
type Notification struct {
	Status  Status
	Finding billing.Finding
	// At is when the notification was decided: the evaluation time.
	At time.Time
}

// Notifier sends notifications to one receiver.
//
// Notify returns nil when every notification was accepted. Otherwise retry
// says whether sending the same notifications again may succeed (rate limits,
// server errors, timeouts); retry false means it will keep failing (a bad
// URL, a revoked token) and the caller should report it instead. The caller
// owns retries and back-off. Errors never contain secrets such as webhook
// URLs or tokens.
type Notifier interface {
	Notify(ctx context.Context, ns []Notification) (retry bool, err error)
}
