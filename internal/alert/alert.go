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
	// Repeat is true when the finding was already notified and is sent
	// again because it still holds after its repeat interval.
	Repeat bool
	// Ref is where this receiver posted the finding's first message, when
	// the receiver reported one (see Poster); repeats and resolutions can
	// thread under it or edit it. Zero for a first message.
	Ref Ref
}

// Ref identifies a message a receiver posted, such as a Slack channel and
// message timestamp. It is kept in the state store per alert and receiver.
type Ref struct {
	Channel   string
	MessageID string
}

// IsZero reports whether no message is referenced.
func (r Ref) IsZero() bool { return r.Channel == "" && r.MessageID == "" }

// Poster is implemented by receivers that can thread and edit messages
// (Slack with a bot token). Post sends one notification and returns the ref
// of the message it created (zero when it only threaded or edited under
// n.Ref); retry and err follow Notifier's contract. When a receiver
// implements Poster, the sender calls Post instead of Notify.
type Poster interface {
	Post(ctx context.Context, n Notification) (ref Ref, retry bool, err error)
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
