package receipt

import (
	"strings"
)

// cardLikeRE matches 13 or more digits separated at most by single spaces,
// dots or dashes: the shape of a card number (13 to 19 digits). Receipt
// numbers (NNNN-NNNN-NNNN, 12 digits) and amounts stay below it.
var cardLikeRE = pattern(`\d(?:[ .\-]?\d){12,}`)

// scrub removes anything shaped like a card number from text that leaves
// the package.
func scrub(s string) string {
	return cardLikeRE().ReplaceAllString(s, "[number removed]")
}

// scrub applies scrub to every text field. MessageID is left as it is: it
// is the mailbox's identifier for the message and must match it exactly.
func (r *Result) scrub() {
	for _, p := range []*string{
		&r.Reason, &r.Sender, &r.Recipient, &r.Subject, &r.ForwardedBy, &r.PrintedDate,
		&r.ID, &r.ReceiptNumber, &r.InvoiceNumber, &r.Organization, &r.OrganizationID,
	} {
		*p = scrub(*p)
	}
	for i := range r.Items {
		r.Items[i].Description = scrub(r.Items[i].Description)
	}
}

// normalize flattens a text rendition to one line for reading labels: line
// breaks, tabs, table bars and no-break spaces become spaces, invisible
// characters go, and runs of spaces become one. Receipts break lines
// anywhere (a label and its value may be on one line, two lines or two
// table cells), so labels are read from this single line.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch r {
		case '\r', '\n', '\t', '\f', '\v', '|', '\u00a0', '\u2007', '\u202f', '\u2009', '\u200a', '\u3000':
			space = true
			continue
		case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad':
			continue
		case ' ':
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
