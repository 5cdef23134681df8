package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
)

// DigestRule is the rule name of a digest notification: a synthetic finding
// Paced sends in place of the notifications it held back.
const DigestRule = "digest"

// Paced keeps a burst of findings from flooding one receiver: at most Max
// messages go out one by one within any Per; the notifications beyond that
// are held and, when Flush is called, sent as one digest notification whose
// Folded lists their titles and summaries. A lone held notification is sent
// as itself.
//
// Only new messages count. A notification that threads under or edits a
// message the receiver already posted (Ref set, see Poster) passes straight
// through: it adds nothing to the channel.
//
// Call Flush at the end of every round of notifications (after each
// Dispatch); FlushAll does it for every paced receiver. Held notifications
// were accepted (Notify returned nil for them), so a caller that never
// flushes loses them. The window lives in memory: in `guardd check`, one
// process per poll, pacing folds the burst of a single run.
//
// Max <= 0 or Per <= 0 turns pacing off. Paced is safe for concurrent use;
// it must not be copied after first use.
type Paced struct {
	Next Notifier
	Max  int
	Per  time.Duration
	// Clock tells the time of each send; the zero value is the real clock.
	Clock clock.Clock

	mu   sync.Mutex
	sent []time.Time    // when the messages of the current window went out
	held []Notification // in arrival order, one per fingerprint and status
}

var (
	_ Notifier = (*Paced)(nil)
	_ Poster   = (*Paced)(nil)
	_ Flusher  = (*Paced)(nil)
)

// Flusher is implemented by notifiers that hold notifications back until
// the end of a round (Paced).
type Flusher interface {
	// Flush sends what is held; retry and err follow Notifier's contract,
	// and what could not be sent stays held for the next Flush.
	Flush(ctx context.Context) (retry bool, err error)
}

// Notify sends each notification that fits in the window through Next and
// holds the rest for Flush. It stops at the first failure.
func (p *Paced) Notify(ctx context.Context, ns []Notification) (bool, error) {
	for _, n := range ns {
		if _, retry, err := p.send(ctx, n, false); err != nil {
			return retry, err
		}
	}
	return false, nil
}

// Post is Notify for one notification, through Next's Post when Next is a
// Poster, so that the receiver can still thread and edit. A held
// notification returns a zero Ref.
func (p *Paced) Post(ctx context.Context, n Notification) (Ref, bool, error) {
	return p.send(ctx, n, true)
}

func (p *Paced) send(ctx context.Context, n Notification, wantRef bool) (Ref, bool, error) {
	if !p.on() || !n.Ref.IsZero() {
		return p.forward(ctx, n, wantRef)
	}
	p.mu.Lock()
	now := p.Clock.Now()
	if p.inWindow(now) >= p.Max {
		p.hold(n)
		p.mu.Unlock()
		return Ref{}, false, nil
	}
	// Reserve the slot before sending, so that concurrent senders cannot
	// overshoot Max; give it back if the send fails.
	p.sent = append(p.sent, now)
	p.mu.Unlock()

	ref, retry, err := p.forward(ctx, n, wantRef)
	if err != nil {
		p.mu.Lock()
		if i := slices.Index(p.sent, now); i >= 0 {
			p.sent = slices.Delete(p.sent, i, i+1)
		}
		p.mu.Unlock()
	}
	return ref, retry, err
}

// Flush sends the held notifications: one as itself, several as one digest.
// The digest does not wait for room in the window; it is the one message a
// round may add beyond Max.
func (p *Paced) Flush(ctx context.Context) (bool, error) {
	p.mu.Lock()
	held := slices.Clone(p.held)
	now := p.Clock.Now()
	p.mu.Unlock()
	if len(held) == 0 {
		return false, nil
	}
	n := held[0]
	if len(held) > 1 {
		n = Digest(held, p.Max, p.Per, now)
	}
	if _, retry, err := p.forward(ctx, n, false); err != nil {
		return retry, fmt.Errorf("send digest of %d held notifications: %w", len(held), err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Drop what was sent; anything held meanwhile stays.
	p.held = slices.DeleteFunc(p.held, func(h Notification) bool {
		return slices.ContainsFunc(held, func(s Notification) bool { return sameMessage(s, h) })
	})
	p.sent = append(p.sent, now)
	return false, nil
}

// Held returns how many notifications wait for Flush.
func (p *Paced) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

func (p *Paced) on() bool { return p.Max > 0 && p.Per > 0 }

// inWindow drops the sends older than Per and counts the rest. p.mu is held.
func (p *Paced) inWindow(now time.Time) int {
	cut := now.Add(-p.Per)
	p.sent = slices.DeleteFunc(p.sent, func(t time.Time) bool { return !t.After(cut) })
	return len(p.sent)
}

// hold keeps n for Flush; a retried notification replaces its earlier copy.
// p.mu is held.
func (p *Paced) hold(n Notification) {
	if i := slices.IndexFunc(p.held, func(h Notification) bool { return sameMessage(h, n) }); i >= 0 {
		p.held[i] = n
		return
	}
	p.held = append(p.held, n)
}

func sameMessage(a, b Notification) bool {
	return a.Status == b.Status && a.Finding.Fingerprint() == b.Finding.Fingerprint()
}

func (p *Paced) forward(ctx context.Context, n Notification, wantRef bool) (Ref, bool, error) {
	if ps, ok := p.Next.(Poster); ok {
		ref, retry, err := ps.Post(ctx, n)
		if !wantRef {
			ref = Ref{}
		}
		return ref, retry, err
	}
	retry, err := p.Next.Notify(ctx, []Notification{n})
	return Ref{}, retry, err
}

// maxFoldedLine bounds one line of a digest's Folded list, in characters.
const maxFoldedLine = 300

// Digest folds ns into one firing notification at now: rule DigestRule, the
// highest severity among them, their account when they share one (with the
// latest account state among them) and otherwise "several accounts", and
// one Folded line per notification ("[CRITICAL] recharge-burst on acme:
// summary"). max and per describe the pacing in the summary.
func Digest(ns []Notification, max int, per time.Duration, now time.Time) Notification {
	f := billing.Finding{Rule: DigestRule, Severity: billing.SeverityInfo, At: now}
	var fps []string
	accounts := map[string]bool{}
	var latest billing.AccountState
	for _, n := range ns {
		if n.Finding.Severity.Rank() > f.Severity.Rank() {
			f.Severity = n.Finding.Severity
		}
		accounts[n.Finding.Account] = true
		if s := n.Finding.State; !s.ObservedAt.Before(latest.ObservedAt) {
			latest = s
		}
		fps = append(fps, string(n.Status)+":"+n.Finding.Fingerprint())
		line := Title(n)
		if n.Finding.Summary != "" {
			line += ": " + n.Finding.Summary
		}
		if n.Status == StatusResolved {
			line = Title(n) + ": no longer holds"
		}
		f.Folded = append(f.Folded, cut(line, maxFoldedLine))
	}
	if len(accounts) == 1 {
		f.Account = ns[0].Finding.Account
		f.State = latest
	} else {
		f.Account = "several accounts"
	}
	slices.Sort(fps)
	f.Entity = fmt.Sprint(fps)
	f.Summary = fmt.Sprintf("%d more notifications within %s, folded into this one message: at most %d messages go out one by one per %s.",
		len(ns), billing.Words(per), max, billing.Words(per))
	return Notification{Status: StatusFiring, Finding: f, At: now}
}

func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}

// FlushAll flushes every receiver whose notifier is a Flusher (a Paced
// one), and joins the errors, each naming its receiver.
func FlushAll(ctx context.Context, rs []Receiver) error {
	var errs []error
	for _, r := range rs {
		f, ok := r.Notifier.(Flusher)
		if !ok {
			continue
		}
		if _, err := f.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("receiver %s: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}
