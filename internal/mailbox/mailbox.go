// Package mailbox reads new messages from a mailbox, strictly read-only and
// once each: the raw messages guardd's receipt parser turns into charges.
//
// A Reader returns the messages that arrived since a Cursor and the Cursor
// to pass next time. The caller keeps the Cursor (in the state store,
// between CronJob runs and restarts); the Reader keeps nothing. Each kind of
// mailbox has its own package: mailbox/imap (a folder on an IMAP server) and
// mailbox/folder (a Maildir or a folder of .eml files).
//
// A Reader never changes the mailbox: no flag is set (not even \Seen), no
// message is moved, copied or deleted, so the person who owns the mailbox
// sees it exactly as before.
package mailbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardd/guardd/internal/setting"
)

// Reader reads the messages that arrived after a cursor.
//
// Read returns the messages after c, oldest first, and the cursor that
// follows them. The zero Cursor reads from the start (what "the start" is
// depends on the reader: an IMAP reader's since-date, a folder's first
// file). A cursor made by another reader, or by the same kind of reader
// for another mailbox (other host, user, folder, senders or since-date),
// also reads from the start.
//
// One Read fetches at most Limits.Messages messages and Limits.ReadBytes
// bytes; the next Read continues where it stopped. A message larger than
// Limits.MessageBytes is not fetched: it is returned with Skipped set and
// no Raw, and the cursor moves past it.
//
// Errors: every error wraps ErrUnavailable (the mailbox could not be
// reached or read: network, TLS, authentication, timeout, a folder that
// does not exist, a cancelled ctx), except a cursor that does not parse,
// which wraps ErrCursor. On an error Read returns no messages and c as the
// next cursor: a failure is never "no new messages", and what was not
// returned is read again next time.
//
// A message may be returned again after its mailbox was rebuilt (an IMAP
// UIDVALIDITY change, a changed configuration): the caller removes
// duplicates by the receipts' own keys, not by Message.ID.
type Reader interface {
	Read(ctx context.Context, c Cursor) (msgs []Message, next Cursor, err error)
}

// Message is one message as stored in the mailbox.
type Message struct {
	// ID names the message stably within its mailbox: "imap:<uidvalidity>:<uid>"
	// for IMAP, the file's name for a folder (a Maildir message's unique
	// name, without the ":2,…" flags a mail program may add).
	ID string
	// Raw is the whole message (headers and body, CRLF or LF as stored);
	// nil when Skipped.
	Raw []byte
	// Received is when the mailbox received it (IMAP INTERNALDATE, a file's
	// modification time), in UTC.
	Received time.Time
	// Size is the message's size in bytes, as the mailbox reports it.
	Size int64
	// Skipped, when not empty, says why the message was not fetched
	// ("3.1 MiB, larger than the 2 MiB limit for one message").
	Skipped string
}

// Cursor marks how far a Reader has read one mailbox. It is opaque text:
// store it as it is and pass it back; the zero Cursor reads from the start.
type Cursor string

// Sentinel errors; see Reader for the contract.
var (
	// ErrUnavailable says the mailbox could not be read: the guard is
	// blind to receipts, which is not the same as there being none.
	ErrUnavailable = errors.New("mailbox unavailable")
	// ErrCursor says a cursor is damaged (it is not text a Reader wrote).
	// Passing the zero Cursor instead reads from the start.
	ErrCursor = errors.New("mailbox cursor damaged")
)

// Unavailable wraps err (which says what failed) as ErrUnavailable.
func Unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }

// Limits bound what one Read fetches, so that a large mailbox never fills
// memory; a zero field takes its default.
type Limits struct {
	// Messages is the most messages one Read returns (skipped ones count).
	Messages int
	// MessageBytes is the largest message fetched; a larger one is skipped.
	MessageBytes int64
	// ReadBytes bounds the bytes of all messages one Read fetches; a Read
	// always fetches at least one message that fits MessageBytes.
	ReadBytes int64
}

// Default limits.
const (
	DefaultMessages     = 200
	DefaultMessageBytes = 2 << 20
	DefaultReadBytes    = 64 << 20
)

// WithDefaults returns l with each zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.Messages <= 0 {
		l.Messages = DefaultMessages
	}
	if l.MessageBytes <= 0 {
		l.MessageBytes = DefaultMessageBytes
	}
	if l.ReadBytes <= 0 {
		l.ReadBytes = DefaultReadBytes
	}
	return l
}

// TooLarge is the reason a message of size bytes is skipped under l.
func (l Limits) TooLarge(size int64) string {
	return fmt.Sprintf("%s, larger than the %s limit for one message", Bytes(size), Bytes(l.MessageBytes))
}

// Bytes renders n bytes for people: "512 B", "3.1 KiB", "2 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB"} {
		if f < unit {
			break
		}
		f, suffix = f/unit, s
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d %s", int64(f), suffix)
	}
	return fmt.Sprintf("%.1f %s", f, suffix)
}

// Kind is one mailbox type: a row of the config's table of mailboxes.
type Kind struct {
	// Name is the type as written in the config ("imap", "folder").
	Name string
	// Config returns a new configuration holding the type's defaults.
	Config func() Config
}

// Config is a mailbox type's own configuration, decoded by the setting
// package into the type's struct of leaves after its defaults.
type Config interface {
	// Validate adds the problems only the mailbox type can judge, with
	// paths relative to its block.
	Validate(p *setting.Problems)
	// Open makes the Reader. It does not connect: Read does.
	Open() (Reader, error)
	// Describe says what is read and with which credentials, never showing
	// one.
	Describe() string
}
