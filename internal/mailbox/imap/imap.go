// Package imap reads receipts from a folder on an IMAP server, read-only.
//
// Each Read opens one connection and issues, in this order and nothing
// else: the TLS handshake (or STARTTLS), LOGIN or AUTHENTICATE XOAUTH2,
// EXAMINE (SELECT read-only) of the folder, one UID SEARCH for messages
// from the allowed senders since the since-date above the cursor's UID,
// one UID FETCH of their UID, RFC822.SIZE, INTERNALDATE and ENVELOPE, one
// UID FETCH of BODY.PEEK[] for those that fit the limits, and LOGOUT. It
// never sends SELECT, STORE, COPY, MOVE, EXPUNGE, CLOSE, APPEND, CREATE or
// DELETE, and never fetches BODY[] (which would set \Seen). It never logs
// the protocol traffic, which holds the credentials.
//
// The cursor is the folder's UIDVALIDITY and the last UID read, with a
// fingerprint of what was asked (host, user, folder, senders,
// since-date). When the server reports another UIDVALIDITY (the folder was
// rebuilt) or the fingerprint differs (the configuration changed), Read
// starts again from the since-date; the messages it returns again are
// removed downstream by the receipts' own keys.
package imap

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
)

// TLS is how the connection is encrypted.
type TLS string

// TLS modes.
const (
	// Implicit speaks TLS from the start (port 993).
	Implicit TLS = "tls"
	// StartTLS upgrades a plain connection with STARTTLS (port 143).
	StartTLS TLS = "starttls"
	// None sends everything in clear: only for a server on this machine.
	None TLS = "none"
)

// Defaults.
const (
	DefaultFolder  = "INBOX"
	DefaultTimeout = 30 * time.Second
)

// DefaultSenders are the domains the known providers send receipts from
// (research/receipts.md section 3): Stripe's own receipts, Anthropic's,
// OpenAI's top-up notices, OpenRouter's. A domain also allows its
// subdomains.
var DefaultSenders = []string{"stripe.com", "mail.anthropic.com", "tm.openai.com", "openrouter.ai"}

// Options configure a Reader.
type Options struct {
	// Host and Port locate the server.
	Host string
	Port int
	// TLS is Implicit, StartTLS or None (only for a loopback host).
	TLS TLS
	// TLSConfig, optional, is the base of the TLS configuration (a test
	// server's RootCAs); its ServerName defaults to Host.
	TLSConfig *tls.Config
	// Username logs in with Password (LOGIN) or OAuthToken (AUTHENTICATE
	// XOAUTH2); exactly one of the two is set.
	Username   string
	Password   secret.Value
	OAuthToken secret.Value
	// Folder is the mailbox to read; DefaultFolder when empty.
	Folder string
	// Senders allow messages whose From address is one of them (an entry
	// with @) or is at one of them or a subdomain (a domain); at least one.
	Senders []string
	// Since, when set, skips messages the server received before that day
	// (IMAP compares dates only).
	Since time.Time
	// Timeout bounds the dial and each command; DefaultTimeout when zero.
	Timeout time.Duration
	// Limits bound one Read.
	Limits mailbox.Limits
}

// Reader reads one IMAP folder.
type Reader struct {
	o     Options
	addr  string
	scope string
}

var _ mailbox.Reader = (*Reader)(nil)

// New checks o and returns its Reader; it does not connect.
func New(o Options) (*Reader, error) {
	o.Folder = cmp.Or(o.Folder, DefaultFolder)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.Limits = o.Limits.WithDefaults()
	o.Senders = slices.Clone(o.Senders)
	for i, s := range o.Senders {
		o.Senders[i] = strings.ToLower(strings.TrimSpace(s))
	}
	if !o.Since.IsZero() {
		y, m, d := o.Since.Date()
		o.Since = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case o.Host == "":
		return nil, errors.New("imap: no host")
	case o.Port <= 0 || o.Port > 65535:
		return nil, fmt.Errorf("imap: invalid port %d", o.Port)
	case o.TLS != Implicit && o.TLS != StartTLS && o.TLS != None:
		return nil, fmt.Errorf("imap: unknown TLS mode %q", o.TLS)
	case o.TLS == None && !setting.IsLoopback(o.Host):
		return nil, fmt.Errorf("imap: refusing to send the credentials unencrypted to %s (tls none is only for this machine)", o.Host)
	case o.Username == "":
		return nil, errors.New("imap: no username")
	case o.Password.IsZero() == o.OAuthToken.IsZero():
		return nil, errors.New("imap: want exactly one of a password and an OAuth token")
	case len(o.Senders) == 0 || slices.Contains(o.Senders, ""):
		return nil, errors.New("imap: no senders (an empty allow-list would read nothing)")
	}
	r := &Reader{o: o, addr: net.JoinHostPort(o.Host, strconv.Itoa(o.Port))}
	r.scope = r.fingerprint()
	return r, nil
}

// fingerprint identifies what this Reader asks for, so that a cursor
// written for another question starts over.
func (r *Reader) fingerprint() string {
	senders := slices.Clone(r.o.Senders)
	slices.Sort(senders)
	since := ""
	if !r.o.Since.IsZero() {
		since = r.o.Since.Format(time.DateOnly)
	}
	h := sha256.New()
	for _, part := range []string{r.o.Host, r.o.Username, r.o.Folder, strings.Join(senders, ","), since} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// state is what an IMAP cursor holds.
type state struct {
	Scope       string `json:"scope"`
	Folder      string `json:"folder"`
	UIDValidity uint32 `json:"uidvalidity"`
	UID         uint32 `json:"uid"`
}

const cursorKind = "imap"

// Read implements mailbox.Reader.
func (r *Reader) Read(ctx context.Context, c mailbox.Cursor) ([]mailbox.Message, mailbox.Cursor, error) {
	var st state
	ok, err := mailbox.DecodeCursor(c, cursorKind, &st)
	if err != nil {
		return nil, c, err
	}
	if !ok || st.Scope != r.scope {
		st = state{}
	}
	msgs, next, err := r.read(ctx, st)
	if err != nil {
		err = secret.ScrubError(err, r.o.Password, r.o.OAuthToken)
		return nil, c, mailbox.Unavailable(fmt.Errorf("imap %s: %w", r.addr, err))
	}
	return msgs, mailbox.EncodeCursor(cursorKind, next), nil
}

// read runs one session: connect, log in, examine, search, fetch.
func (r *Reader) read(ctx context.Context, st state) ([]mailbox.Message, state, error) {
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	s, err := r.dial(ctx)
	if err != nil {
		return nil, st, err
	}
	defer s.close()
	if err := r.login(ctx, s); err != nil {
		return nil, st, err
	}
	var sel *goimap.SelectData
	err = s.do(ctx, "examine "+strconv.Quote(r.o.Folder), func() (err error) {
		sel, err = s.c.Select(r.o.Folder, &goimap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		return nil, st, err
	}
	if sel.UIDValidity == 0 {
		return nil, st, fmt.Errorf("examine %q: the server sent no UIDVALIDITY", r.o.Folder)
	}
	if st.UIDValidity != sel.UIDValidity {
		// First read, or the folder was rebuilt: its UIDs mean nothing now.
		st = state{UIDValidity: sel.UIDValidity}
	}
	st.Scope, st.Folder = r.scope, r.o.Folder

	uids, err := r.search(ctx, s, goimap.UID(st.UID))
	if err != nil {
		return nil, st, err
	}
	if len(uids) == 0 {
		s.logout(ctx)
		return nil, st, nil
	}
	heads, err := r.heads(ctx, s, uids)
	if err != nil {
		return nil, st, err
	}
	msgs, last, err := r.bodies(ctx, s, uids, heads, sel.UIDValidity)
	if err != nil {
		return nil, st, err
	}
	st.UID = uint32(last)
	s.logout(ctx)
	return msgs, st, nil
}

// search returns the first Limits.Messages UIDs above last from an allowed
// sender since the since-date, in ascending order.
func (r *Reader) search(ctx context.Context, s *session, last goimap.UID) ([]goimap.UID, error) {
	criteria := fromAny(r.o.Senders)
	criteria.Since = r.o.Since
	if last > 0 {
		// last+1:* also matches the highest message when none is above
		// last; the result is filtered below.
		criteria.UID = []goimap.UIDSet{{{Start: last + 1, Stop: 0}}}
	}
	var data *goimap.SearchData
	err := s.do(ctx, "uid search", func() (err error) {
		data, err = s.c.UIDSearch(&criteria, nil).Wait()
		return err
	})
	if err != nil {
		return nil, err
	}
	set, _ := data.All.(goimap.UIDSet)
	var uids []goimap.UID
	for _, rg := range set {
		lo, hi := min(rg.Start, rg.Stop), max(rg.Start, rg.Stop)
		if lo == 0 {
			return nil, errors.New("uid search: the server answered with a dynamic set")
		}
		// Take at most Limits.Messages from each range: a broken server's
		// 1:4294967295 must not fill memory.
		for u, n := max(lo, last+1), 0; u <= hi && u > last && n < r.o.Limits.Messages; u, n = u+1, n+1 {
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	if len(uids) > r.o.Limits.Messages {
		uids = uids[:r.o.Limits.Messages]
	}
	return uids, nil
}

// fromAny matches a message from any of senders: FROM a OR FROM b ….
func fromAny(senders []string) goimap.SearchCriteria {
	one := goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "From", Value: senders[0]}}}
	if len(senders) == 1 {
		return one
	}
	return goimap.SearchCriteria{Or: [][2]goimap.SearchCriteria{{one, fromAny(senders[1:])}}}
}

// head is what the first FETCH learns about a message.
type head struct {
	size     int64
	received time.Time
	from     []goimap.Address
}

// heads fetches the size, arrival time and sender of each of uids: no body
// is transferred.
func (r *Reader) heads(ctx context.Context, s *session, uids []goimap.UID) (map[goimap.UID]head, error) {
	heads := make(map[goimap.UID]head, len(uids))
	err := s.do(ctx, "uid fetch sizes", func() error {
		cmd := s.c.Fetch(goimap.UIDSetNum(uids...), &goimap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true, Envelope: true})
		defer cmd.Close()
		for m := cmd.Next(); m != nil; m = cmd.Next() {
			buf, err := m.Collect()
			if err != nil {
				return err
			}
			h := head{size: buf.RFC822Size, received: buf.InternalDate.UTC()}
			if buf.Envelope != nil {
				h.from = buf.Envelope.From
			}
			if buf.UID != 0 {
				heads[buf.UID] = h
			}
		}
		return cmd.Close()
	})
	return heads, err
}

// bodies fetches the messages of uids that come from an allowed sender and
// fit the limits; it returns them with the last UID it dealt with (fetched,
// skipped or not allowed), where the next Read starts.
func (r *Reader) bodies(ctx context.Context, s *session, uids []goimap.UID, heads map[goimap.UID]head, validity uint32) ([]mailbox.Message, goimap.UID, error) {
	lim := r.o.Limits
	var (
		msgs   []mailbox.Message
		want   []goimap.UID
		budget = lim.ReadBytes
		last   goimap.UID
	)
	for _, u := range uids {
		h, ok := heads[u]
		switch {
		case !ok || !r.allowed(h.from):
			// Gone since the search, or a sender that only resembles an
			// allowed one (FROM matches substrings): never fetched.
		case h.size > lim.MessageBytes:
			msgs = append(msgs, mailbox.Message{ID: id(validity, u), Received: h.received, Size: h.size, Skipped: lim.TooLarge(h.size)})
		case h.size > budget && len(want) > 0:
			// The rest waits for the next Read.
			return r.fill(ctx, s, msgs, want, heads, validity, last)
		default:
			budget -= h.size
			want = append(want, u)
			msgs = append(msgs, mailbox.Message{ID: id(validity, u), Received: h.received, Size: h.size})
		}
		last = u
	}
	return r.fill(ctx, s, msgs, want, heads, validity, last)
}

// fill fetches the bodies of want with BODY.PEEK[] into msgs.
func (r *Reader) fill(ctx context.Context, s *session, msgs []mailbox.Message, want []goimap.UID, heads map[goimap.UID]head, validity uint32, last goimap.UID) ([]mailbox.Message, goimap.UID, error) {
	if len(want) == 0 {
		return msgs, last, nil
	}
	lim := r.o.Limits
	raw := make(map[string][]byte, len(want))
	tooLarge := make(map[string]int64)
	err := s.stream(ctx, "uid fetch bodies", func(alive func()) error {
		// Peek: BODY.PEEK[] leaves \Seen alone, where BODY[] would set it.
		section := &goimap.FetchItemBodySection{Peek: true}
		cmd := s.c.Fetch(goimap.UIDSetNum(want...), &goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{section}})
		defer cmd.Close()
		for m := cmd.Next(); m != nil; m = cmd.Next() {
			var uid goimap.UID
			for item := m.Next(); item != nil; item = m.Next() {
				switch item := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = item.UID
				case imapclient.FetchItemDataBodySection:
					if item.Literal == nil || uid == 0 {
						continue
					}
					key := id(validity, uid)
					if n := item.Literal.Size(); n > lim.MessageBytes {
						// The server said it was smaller: drain it
						// without keeping it.
						tooLarge[key] = n
						continue
					}
					b, err := io.ReadAll(io.LimitReader(progress{item.Literal, alive}, lim.MessageBytes+1))
					if err != nil {
						return err
					}
					raw[key] = b
				}
			}
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, 0, err
	}
	out := msgs[:0]
	for _, m := range msgs {
		switch b, ok := raw[m.ID]; {
		case m.Skipped != "":
		case tooLarge[m.ID] > 0:
			m.Size = tooLarge[m.ID]
			m.Skipped = lim.TooLarge(m.Size)
		case !ok:
			continue // expunged since the first fetch
		default:
			m.Raw = b
		}
		out = append(out, m)
	}
	return out, last, nil
}

// progress calls alive on every read that returns data.
type progress struct {
	r     io.Reader
	alive func()
}

func (p progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.alive()
	}
	return n, err
}

// id is a message's stable name in its folder.
func id(validity uint32, uid goimap.UID) string {
	return fmt.Sprintf("imap:%d:%d", validity, uid)
}

// allowed reports whether a message from from may be read: one of its
// From addresses is an allowed address, or at an allowed domain or one of
// its subdomains. (A display name with an unquoted comma, such as
// OpenRouter, Inc <receipts@openrouter.ai>, splits into two entries.)
func (r *Reader) allowed(from []goimap.Address) bool {
	for _, a := range from {
		addr := strings.ToLower(a.Addr())
		_, host, ok := strings.Cut(addr, "@")
		if !ok {
			continue
		}
		for _, s := range r.o.Senders {
			if s == addr || s == host || (!strings.Contains(s, "@") && strings.HasSuffix(host, "."+s)) {
				return true
			}
		}
	}
	return false
}
