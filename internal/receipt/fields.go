package receipt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/guardd/guardd/internal/billing"
)

// problem is why a rendition could not be read. A conflict (two figures
// that disagree, a label whose amount is unreadable) makes the whole
// message unreadable; a missing field only means this rendition lacks it,
// and another rendition (the HTML beside a bare text part) may have it.
type problem struct {
	conflict bool
	msg      string
}

func missing(format string, args ...any) *problem {
	return &problem{msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *problem {
	return &problem{conflict: true, msg: fmt.Sprintf(format, args...)}
}

// label is what the words just before an amount say it is.
type label int

const (
	labelNone label = iota
	labelPaid
	labelTotal
	labelExclTax
	labelSubtotal
	labelRefunded
	labelIgnored
	labelCharged
	labelHead
	labelTax
	labelItem
	labelSummaryItem
)

// Labels that end the text before an amount. Order matters: the longer
// "total excluding tax" and "credited total" are tried before "total".
var suffixLabels = []struct {
	words string
	l     label
}{
	{"total excluding tax", labelExclTax},
	{"total excl. tax", labelExclTax},
	{"subtotal", labelSubtotal},
	{"credited total", labelIgnored},
	{"adjusted invoice total", labelIgnored},
	{"amount due", labelIgnored},
	{"amount remaining", labelIgnored},
	{"applied balance", labelIgnored},
	{"amount paid", labelPaid},
	{"amount refunded", labelRefunded},
	{"refunded amount", labelRefunded},
	{"total", labelTotal},
	{"we charged", labelCharged},
}

// coreLabelRE finds the labels that must be followed by a readable amount.
// Leftmost-first alternation makes "credited total" and "total excluding
// tax" win over the "total" inside them.
var coreLabelRE = pattern(`(?i)\b(?:credited total|adjusted invoice total|total excluding tax|total excl\. tax|subtotal|amount paid|amount refunded|we charged|total)\b`)

const monthP = `(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)`

// dateP is a printed date: "August 16, 2026", "Feb 22, 2026", "16 August 2026".
const dateP = monthP + `\.? \d{1,2}, \d{4}|\d{1,2} ` + monthP + `\.? \d{4}`

var (
	headTailRE    = pattern(`(?i)\b(?:receipt|refund) from ((?:\S+ ?){1,8})$`)
	taxTailRE     = pattern(`(?i)(?:^|[\s(])((?:sales and use tax|sales tax|consumption tax|vat|gst|hst|pst|qst|jct|tax)(?:\s*[-–—:]\s*[^$€£₩¥()\d]{1,60}?)?(?:\s*\(\s*\d{1,2}(?:[.,]\d{1,4})?\s*%\s*\))?)$`)
	itemTailRE    = pattern(`(?i)^(.*?)\s*\bqty\s*:?\s*(\d{1,5})(?:\s*[x×])?$`)
	headRE        = pattern(`(?i)\b(receipt|refund) from `)
	paidOnRE      = pattern(`(?i)\b(?:date paid|paid|refunded on)\s*:?\s+(` + dateP + `)((?:,? \d{1,2}:\d{2}(?::\d{2})?(?: ?[AP]M)?)?)`)
	receiptNoRE   = pattern(`(?i)\breceipt (?:number|no\.?)\s*:?\s*#?\s*(\S*)`)
	receiptHashRE = pattern(`(?i)(?:\breceipt\s*|\[)#\s?(\d{4}-\d{4}(?:-\d{4})?)\b`)
	receiptNoOK   = pattern(`^\d{4}-\d{4}(?:-\d{4})?$`)
	invoiceNoRE   = pattern(`(?i)\binvoice (?:number|no\.?)\s*:?\s*#?\s*([A-Z0-9]{4,16}-\d{3,6})\b`)
	methodRE      = pattern(`(?i)\b(?:payment method|refunded to|paid with)\s*:?\s*(.{0,40})`)
	methodCardRE  = pattern(`(?i)^(?:[a-z][a-z .]{0,24}?)?\s*(?:[-–—]|ending (?:in|with)|[•*·x]{2,}|\bcard)\s*(\d{4})(.{0,2})`)
	methodLinkRE  = pattern(`(?i)^link\b`)
	itemAnchorRE  = pattern(`(?i)(?:receipt\s*#\s*\d{4}-\d{4}(?:-\d{4})?|\[#\d{4}-\d{4}(?:-\d{4})?\]|payment method\s*:?\s*(?:link|[a-z ]{0,20}[-–]\s*\d{4})|refunded to\s*:?\s*(?:link|[a-z ]{0,20}[-–]\s*\d{4})|invoice number\s*\S+|receipt number\s*\S+|(?:date paid|paid|refunded on)\s+(?:` + dateP + `)|\bsummary\b)`)
	periodRE      = pattern(`^` + monthP + `\.? \d{1,2}(?:, \d{4})?\s*[–—-]\s*` + monthP + `\.? \d{1,2}, \d{4}\s*`)
)

// labelOf says what the text before an amount makes it.
func labelOf(seg string) (l label, detail string) {
	t := strings.TrimRight(seg, " :-–")
	low := strings.ToLower(t)
	for _, s := range suffixLabels {
		if endsWithWords(low, s.words) {
			return s.l, ""
		}
	}
	if m := headTailRE().FindStringSubmatch(t); m != nil {
		return labelHead, strings.TrimSpace(m[1])
	}
	if m := taxTailRE().FindStringSubmatch(t); m != nil {
		return labelTax, strings.TrimSpace(m[1])
	}
	if m := itemTailRE().FindStringSubmatch(t); m != nil {
		return labelItem, m[1] + "\x00" + m[2]
	}
	if strings.HasSuffix(strings.TrimRight(seg, " "), ":") {
		// "Summary - OpenRouter Credits : $52.75": the words after the last
		// list dash.
		if i := strings.LastIndex(t, "- "); i >= 0 && (i == 0 || t[i-1] == ' ') {
			if d := strings.TrimSpace(t[i+2:]); d != "" && !strings.Contains(d, ":") && utf8.RuneCountInString(d) <= 80 {
				return labelSummaryItem, d
			}
		}
	}
	return labelNone, ""
}

// endsWithWords reports whether s ends with the words w, starting at a word
// boundary.
func endsWithWords(s, w string) bool {
	if !strings.HasSuffix(s, w) {
		return false
	}
	if len(s) == len(w) {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:len(s)-len(w)])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// labelled is one amount with what it is.
type labelled struct {
	tok    moneyTok
	l      label
	detail string
}

// readAmounts finds every amount in text with its label, and checks that
// each core label ("Amount paid", "Total", ...) is followed by an amount
// that can be read.
func readAmounts(text string) ([]labelled, *problem) {
	toks := scanMoney(text)
	starts := make(map[int]*moneyTok, len(toks))
	for i := range toks {
		starts[toks[i].start] = &toks[i]
	}
	for _, loc := range coreLabelRE().FindAllStringIndex(text, -1) {
		name := text[loc[0]:loc[1]]
		switch strings.ToLower(name) {
		case "credited total", "adjusted invoice total":
			continue
		}
		p := loc[1]
		for n := 0; p < len(text) && n < 4 && strings.IndexByte(" :-", text[p]) >= 0; n++ {
			p++
		}
		if strings.HasPrefix(text[p:], "–") {
			p += len("–")
		}
		if p < len(text) && text[p] == ' ' {
			p++
		}
		tok := starts[p]
		if tok == nil {
			return nil, conflict("no readable amount after %q (%s)", name, excerpt(text, p))
		}
		if tok.err != "" {
			return nil, conflict("cannot read the amount after %q: %s", name, tok.err)
		}
	}
	out := make([]labelled, 0, len(toks))
	prev := 0
	for _, tok := range toks {
		l, detail := labelOf(text[prev:tok.start])
		prev = tok.end
		if tok.err != "" {
			if l != labelNone && l != labelIgnored {
				return nil, conflict("cannot read an amount: %s", tok.err)
			}
			continue
		}
		out = append(out, labelled{tok: tok, l: l, detail: detail})
	}
	return out, nil
}

// excerpt shows a few characters of text at p, for an error message.
func excerpt(text string, p int) string {
	end := p
	for n := 0; end < len(text) && n < 16; n++ {
		_, size := utf8.DecodeRuneInString(text[end:])
		end += size
	}
	if p >= len(text) {
		return "end of text"
	}
	return strconv.Quote(text[p:end])
}

// one returns the single value of a label, or a conflict when the receipt
// prints two different ones.
func one(ls []labelled, l label, name string) (billing.Money, bool, *problem) {
	var got billing.Money
	found := false
	for _, x := range ls {
		if x.l != l {
			continue
		}
		if !found {
			got, found = x.tok.m, true
			continue
		}
		if !sameMoney(got, x.tok.m) {
			return billing.Money{}, false, conflict("two different amounts for %s: %s and %s", name, got.Display(), x.tok.m.Display())
		}
	}
	return got, found, nil
}

func sameMoney(a, b billing.Money) bool {
	return a.Currency() == b.Currency() && a.Amount().Equal(b.Amount())
}

// printedDate finds the date a receipt prints as paid or refunded. Two
// different days are a conflict.
func printedDate(text string) (printed, day string, p *problem) {
	for _, m := range paidOnRE().FindAllStringSubmatch(text, 8) {
		d, ok := parsePrintedDay(m[1])
		if !ok {
			continue
		}
		if day != "" && d != day {
			return "", "", conflict("two different payment dates: %s and %s", printed, m[1])
		}
		if day == "" {
			printed, day = strings.TrimSpace(m[1]+m[2]), d
		}
	}
	return printed, day, nil
}

var printedLayouts = []string{"January 2, 2006", "Jan 2, 2006", "Jan. 2, 2006", "2 January 2006", "2 Jan 2006", "2 Jan. 2006"}

// parsePrintedDay turns "August 16, 2026" into "2026-08-16".
func parsePrintedDay(s string) (string, bool) {
	s = strings.Replace(s, "Sept", "Sep", 1)
	s = strings.Replace(s, "Sepember", "September", 1)
	for _, layout := range printedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), true
		}
	}
	return "", false
}

// receiptNumber finds the receipt number wherever it is printed (the
// "Receipt number" row, "Receipt #", "[#...]", the subject) and insists they
// agree and have Stripe's shape, NNNN-NNNN or NNNN-NNNN-NNNN.
func receiptNumber(text, subject string) (string, *problem) {
	var found []string
	for _, m := range receiptNoRE().FindAllStringSubmatch(text, 8) {
		v := strings.TrimRight(m[1], ".,;)]")
		if !receiptNoOK().MatchString(v) {
			return "", conflict("receipt number %s has an unknown shape", strconv.Quote(shorten(v, 24)))
		}
		found = append(found, v)
	}
	for _, m := range receiptHashRE().FindAllStringSubmatch(text, 8) {
		found = append(found, m[1])
	}
	if m := subjectNumberRE().FindStringSubmatch(subject); m != nil {
		found = append(found, m[1])
	}
	for _, v := range found[min(1, len(found)):] {
		if v != found[0] {
			return "", conflict("two different receipt numbers: %s and %s", found[0], v)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	return found[0], nil
}

var subjectNumberRE = pattern(`#\s?(\d{4}-\d{4}(?:-\d{4})?)\b`)

// paymentMethod reads "Payment method - 4242", "Payment method Link",
// "Refunded to - 4242", "Payment method Visa ending in 4242". Only the last
// four digits are ever kept.
func paymentMethod(text string) (method, last4 string, p *problem) {
	for _, m := range methodRE().FindAllStringSubmatch(text, 8) {
		var meth, l4 string
		switch v := strings.TrimSpace(m[1]); {
		case methodLinkRE().MatchString(v):
			meth = "link"
		default:
			if c := methodCardRE().FindStringSubmatch(v); c != nil && endsCardNumber(c[2]) {
				meth, l4 = "card", c[1]
			}
		}
		if meth == "" {
			continue
		}
		if method != "" && (meth != method || l4 != last4) {
			return "", "", conflict("two different payment methods")
		}
		method, last4 = meth, l4
	}
	return method, last4, nil
}

// itemDescription cuts the text before "Qty" down to the item's own words:
// what follows the last receipt row ("Receipt #2001-0001-0001", "Payment
// method - 4242"), without a service period, which it reports.
func itemDescription(s string) (desc string, period bool) {
	if locs := itemAnchorRE().FindAllStringIndex(s, -1); len(locs) > 0 {
		s = s[locs[len(locs)-1][1]:]
	}
	s = strings.TrimSpace(s)
	if loc := periodRE().FindStringIndex(s); loc != nil {
		s, period = s[loc[1]:], true
	}
	return shorten(strings.Trim(s, " -–:"), 80), period
}

// shorten keeps at most n runes of s, cutting at the front (the words
// nearest the amount matter).
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[len(r)-n:]))
}

// business reads the business a receipt is from: "Receipt from
// Anthropic, PBC $51.50 Paid ..." gives "Anthropic, PBC".
func business(text string) string {
	loc := headRE().FindStringIndex(text)
	if loc == nil {
		return ""
	}
	rest := text[loc[1]:]
	if len(rest) > 100 {
		rest = rest[:100]
	}
	end := len(rest)
	for i, r := range rest {
		if isSymbolRune(r) {
			end = i
			break
		}
	}
	rest = rest[:end]
	low := strings.ToLower(rest)
	for _, stop := range []string{" receipt #", "[#", " receipt number", " amount paid", " paid ", " refunded on", " date paid", " invoice number", " download"} {
		if i := strings.Index(low, stop); i >= 0 {
			rest, low = rest[:i], low[:i]
		}
	}
	rest = strings.TrimSpace(rest)
	// A "$" prefixed by letters (A$, CA$) leaves the letters behind.
	if i := strings.LastIndexByte(rest, ' '); i >= 0 && isUpperPrefix(rest[i+1:]) {
		rest = strings.TrimSpace(rest[:i])
	}
	return shorten(strings.TrimRight(rest, " ,:;-"), 60)
}

func isUpperPrefix(s string) bool {
	_, ok := symbols[s+"$"]
	return ok
}

// endsCardNumber reports whether the text after four digits ends the
// number: "4242 Summary" does, "4242-4242..." or "4242 4242" does not, and
// then the four digits are not the last four and are not kept.
func endsCardNumber(after string) bool {
	if after == "" {
		return true
	}
	if isDigit(after[0]) {
		return false
	}
	return !(len(after) > 1 && strings.IndexByte(" .-", after[0]) >= 0 && isDigit(after[1]))
}
