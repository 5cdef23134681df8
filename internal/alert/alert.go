// Package alert turns findings into notifications: it decides what is new,
// what is resolved and what was already sent, renders messages, and hands them
// to notifiers. Receivers (stdout, Slack, ...) only send; they never decide
// dedup or repeat.
package alert

import (
	"context"
	"time"

	"go.uber.org/zap"

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
	// Repeat is true when the finding was already notified and is sent
	// again because it still holds after its repeat interval.
	Repeat bool
	// Ref is where this receiver posted the finding's first message, when
	// its Send returned one; repeats and resolutions can thread under it or
	// edit it. Zero for a first message.
	Ref Ref
}

// LogFields are the fields a receiver logs about n (status, rule, account,
// fingerprint), followed by more of its own.
func (n Notification) LogFields(more ...zap.Field) []zap.Field {
	return append([]zap.Field{
		zap.String("status", string(n.Status)),
		zap.String("rule", n.Finding.Rule),
		zap.String("account", n.Finding.Account),
		zap.String("fingerprint", n.Finding.Fingerprint()),
	}, more...)
}

// Ref identifies a message a receiver posted, such as a Slack channel and
// message timestamp. It is kept in the state store per alert and receiver.
type Ref struct {
	Channel   string
	MessageID string
}

// IsZero reports whether no message is referenced.
func (r Ref) IsZero() bool { return r.Channel == "" && r.MessageID == "" }

// Notifier sends notifications to one receiver.
//
// Send sends one notification. It returns the ref of the message it
// created, so that repeats and the resolution can thread under it or edit
// it: zero when it created none, or when it only threaded or edited under
// n.Ref. On failure retry says whether sending the same notification again
// may succeed (rate limits, server errors, timeouts); retry false means it
// will keep failing (a bad URL, a revoked token) and the caller should
// report it instead. The caller owns retries and back-off. Errors never
// contain secrets such as webhook URLs or tokens.
type Notifier interface {
	Send(ctx context.Context, n Notification) (ref Ref, retry bool, err error)
}

// Resender is implemented by notifiers whose service forgets an alert
// unless it hears of it again, such as Alertmanager, which keeps alerts in
// memory only and expects its clients to send the active ones every minute
// or so: after a restart it knows of none until they come again.
//
// Resend sends firing, the alerts firing now as each was last notified
// (every one the receiver wants), so that the service holds them. It
// decides nothing, neither what fires nor what is new: the lifecycle
// chose them (lifecycle.Resend), and calls it after every cycle and, in
// guardd run, every ResendEvery between cycles. A failure is only logged:
// the next call sends them all again. Errors never contain secrets.
type Resender interface {
	Notifier
	Resend(ctx context.Context, firing []Notification) error
	// ResendEvery is how often guardd run calls Resend between cycles.
	ResendEvery() time.Duration
}
