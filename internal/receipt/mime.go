package receipt

import (
	"errors"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // receipts in ISO-8859-1, Windows-1252, EUC-KR...
	gomail "github.com/emersion/go-message/mail"
)

// Limits on what one message may make the parser do. Receipts are a few
// kilobytes of text with a PDF or two; the PDFs are skipped unread.
const (
	maxTextBytes = 1 << 20 // of one text part, after decoding
	maxAllText   = 4 << 20 // of all text parts of a message together
	maxParts     = 200     // leaf parts in one message, nested ones included
	maxNesting   = 3       // message/rfc822 inside message/rfc822 ...
	maxMultipart = 16      // multipart inside multipart
)

// envelope is the part of a message header the parser uses.
type envelope struct {
	from      string // address, lower-cased
	to        string // first address, lower-cased
	subject   string
	date      time.Time
	dateSrc   DateSource
	messageID string
}

// message is one RFC 5322 message reduced to what the parser reads: its
// envelope, its text renditions in order, and the messages attached to it.
type message struct {
	env      envelope
	texts    []string // text/plain as is, text/html rendered by htmlToText
	attached []*message
	// undecodable counts text parts whose transfer encoding was broken.
	undecodable int
}

type walker struct {
	parts     int
	textBytes int
}

// readMessage parses a whole message. Unknown charsets and transfer
// encodings are not fatal: the part is read as it is.
func readMessage(r io.Reader) (*message, error) {
	e, err := gomessage.Read(r)
	if err != nil && !unknownCharset(err) {
		return nil, err
	}
	w := &walker{}
	return w.message(e, 0)
}

func unknownCharset(err error) bool {
	return gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err)
}

func (w *walker) message(e *gomessage.Entity, nesting int) (*message, error) {
	m := &message{env: readEnvelope(gomail.Header{Header: e.Header})}
	if err := w.entity(e, m, nesting, 0); err != nil {
		return nil, err
	}
	return m, nil
}

var errTooManyParts = errors.New("more than 200 MIME parts")

func (w *walker) entity(e *gomessage.Entity, m *message, nesting, depth int) error {
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxMultipart {
			return nil
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !unknownCharset(err) {
				// A broken boundary ends the multipart; what was read stays.
				return nil
			}
			if err := w.entity(p, m, nesting, depth+1); err != nil {
				return err
			}
		}
	}
	w.parts++
	if w.parts > maxParts {
		return errTooManyParts
	}
	mediaType, _, _ := e.Header.ContentType()
	mediaType = strings.ToLower(mediaType)
	disp, _, _ := e.Header.ContentDisposition()
	switch {
	case mediaType == "message/rfc822" || mediaType == "message/global":
		if nesting >= maxNesting {
			return nil
		}
		inner, err := gomessage.Read(e.Body)
		if err != nil && !unknownCharset(err) {
			return nil // an attachment that is not a message is skipped
		}
		im, err := w.message(inner, nesting+1)
		if err != nil {
			return err
		}
		m.attached = append(m.attached, im)
	case strings.EqualFold(disp, "attachment"):
		// A .txt or .html attachment is not the message's text.
	case mediaType == "text/plain" || mediaType == "text/html":
		budget := min(maxTextBytes, maxAllText-w.textBytes)
		if budget <= 0 {
			return nil // text beyond the budget is not read
		}
		b, err := io.ReadAll(io.LimitReader(e.Body, int64(budget)))
		w.textBytes += len(b)
		if err != nil {
			m.undecodable++
			return nil
		}
		t := strings.ToValidUTF8(string(b), "\uFFFD")
		if mediaType == "text/html" {
			t = htmlToText(t)
		}
		m.texts = append(m.texts, t)
	}
	return nil
}

func readEnvelope(h gomail.Header) envelope {
	var env envelope
	env.from = firstAddress(h, "From")
	env.to = firstAddress(h, "To")
	if s, err := h.Subject(); err == nil {
		env.subject = s
	} else {
		env.subject = h.Get("Subject")
	}
	env.subject = oneLine(env.subject)
	if d, err := h.Date(); err == nil && !d.IsZero() {
		env.date, env.dateSrc = d.UTC(), DateHeader
	}
	if id, err := h.MessageID(); err == nil {
		env.messageID = id
	} else {
		env.messageID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	}
	return env
}

var looseAddrRE = pattern(`[A-Za-z0-9._%+\-=]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// firstAddress returns the first address of a header field, lower-cased. A
// field net/mail rejects is searched for anything that looks like an
// address.
func firstAddress(h gomail.Header, key string) string {
	if list, err := h.AddressList(key); err == nil && len(list) > 0 {
		return strings.ToLower(list[0].Address)
	}
	return parseLooseAddress(h.Get(key))
}

// parseLooseAddress reads the address of `"Name" <a@b.c>`, `Name, Inc
// <a@b.c>` (a comma net/mail rejects, as Gmail prints it in forwards) or
// `a@b.c`.
func parseLooseAddress(raw string) string {
	if a, err := mail.ParseAddress(strings.TrimSpace(raw)); err == nil {
		return strings.ToLower(a.Address)
	}
	return strings.ToLower(looseAddrRE().FindString(raw))
}

// oneLine folds white space runs (CR, LF, tabs) into single spaces.
func oneLine(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Join(strings.Fields(s), " ")
}
