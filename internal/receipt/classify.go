package receipt

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Provider names.
const (
	Anthropic  = "anthropic"
	OpenAI     = "openai"
	OpenRouter = "openrouter"
	DeepSeek   = "deepseek"
	stripe     = "stripe" // sends for many businesses: the provider is the business
)

// senderProvider maps a From address to the provider that sends from it.
// stripe.com sends for every Stripe business, so it maps to "stripe" and
// the business printed in the receipt decides.
func senderProvider(addr string) string {
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return ""
	}
	for _, d := range []struct{ domain, provider string }{
		{"anthropic.com", Anthropic},
		{"openai.com", OpenAI},
		{"openrouter.ai", OpenRouter},
		{"deepseek.com", DeepSeek},
		{"stripe.com", stripe},
	} {
		if domain == d.domain || strings.HasSuffix(domain, "."+d.domain) {
			return d.provider
		}
	}
	return ""
}

// businessProvider maps a business name printed in a receipt ("Anthropic,
// PBC", "OpenRouter, Inc", "OpenAI, LLC") to a provider.
func businessProvider(name string) string {
	low := strings.ToLower(strings.TrimSpace(name))
	for _, b := range []struct{ prefix, provider string }{
		{"anthropic", Anthropic},
		{"openrouter", OpenRouter},
		{"openai", OpenAI},
		{"deepseek", DeepSeek},
	} {
		if strings.HasPrefix(low, b.prefix) {
			rest := low[len(b.prefix):]
			if rest == "" || !isWordByte(rest[0]) {
				return b.provider
			}
		}
	}
	return ""
}

// original is the message a receipt was sent as: the message itself, or the
// one a person forwarded.
type original struct {
	env         envelope
	texts       []string
	forwardedBy string
	undecodable int
}

// findOriginal unwraps a forward. A message from a provider's address is
// its own original. Otherwise a message/rfc822 attachment from a provider,
// or an inline-forwarded block whose From is a provider, is. reason is set
// when there is none, or more than one.
func findOriginal(m *message) (o original, reason string) {
	if senderProvider(m.env.from) != "" {
		return original{env: m.env, texts: m.texts, undecodable: m.undecodable}, ""
	}
	var found []original
	for _, a := range m.attached {
		inner, _ := findOriginal(a)
		if senderProvider(inner.env.from) == "" {
			continue
		}
		if inner.forwardedBy == "" && inner.env.dateSrc == DateHeader {
			inner.env.dateSrc = DateForwardedHeader
		}
		inner.forwardedBy = m.env.from
		found = append(found, inner)
	}
	if len(found) > 1 {
		return found[0], fmt.Sprintf("%d forwarded provider messages in one mail; forward them one at a time", len(found))
	}
	if len(found) == 1 {
		return found[0], ""
	}
	// Inline: the first block from a provider, in each rendition.
	var inline *original
	for _, t := range m.texts {
		for _, f := range findForwards(t) {
			if senderProvider(f.env.from) == "" {
				continue
			}
			if inline == nil {
				env := f.env
				if env.subject == "" {
					env.subject = stripForwardPrefix(m.env.subject)
				}
				inline = &original{env: env, forwardedBy: m.env.from}
			}
			inline.texts = append(inline.texts, f.body)
			break
		}
	}
	if inline != nil {
		return *inline, ""
	}
	return original{env: m.env, texts: m.texts}, ""
}

var (
	// receiptishRE: wording that only a payment message uses. A message
	// from a provider with such wording that no layout reads is an error,
	// never a silent "not a receipt".
	receiptishRE = pattern(`(?i)\b(?:your (?:\S+ ){0,4}receipt|receipt (?:from|#|\[#|number)|your refund|refund from|been funded|we charged|amount paid|payment (?:\S+ ){0,6}(?:unsuccessful|failed|declined)|kvitto|quittung|recibo|ricevuta)\b|elismervény|reçu|領収書|영수증`)
	failedRE     = pattern(`(?i)^(.{1,40}?)\s+payment to\s+(.{1,80}?)\s+was unsuccessful(?:\s+again)?\s*[.!]?$`)
	failedishRE  = pattern(`(?i)\bpayment\b.*\b(?:unsuccessful|failed|declined)\b`)
	refundSubjRE = pattern(`(?i)^your refund from (.+?)(?:\s+#\s?\d{4}-\d{4}(?:-\d{4})?)?\s*$`)
	receiptSubj  = pattern(`(?i)^your receipt from (.+?)\s+#\s?\d{4}-\d{4}(?:-\d{4})?\s*$|^your (.+?) receipt\s+\[#\d{4}-\d{4}(?:-\d{4})?\]\s*$`)
	fundedSubjRE = pattern(`(?i)\bopenai api account has been funded\b`)
	refundHeadRE = pattern(`(?i)\brefund from\b`)
	stripeHeadRE = pattern(`(?i)\breceipt from\b|\bamount paid\b`)
	chargedRE    = pattern(`(?i)\bwe charged\b`)
)

// classify decides what a message is and reads it.
func classify(m *message) Result {
	res := Result{MessageID: m.env.messageID}
	o, reason := findOriginal(m)
	res.Sender, res.Recipient, res.Subject = o.env.from, o.env.to, o.env.subject
	res.Date, res.DateFrom = o.env.date, o.env.dateSrc
	if o.forwardedBy != "" {
		res.Forwarded, res.ForwardedBy = true, o.forwardedBy
	}
	sp := senderProvider(o.env.from)
	if sp != stripe {
		res.Provider = sp
	}
	if reason != "" {
		return unreadable(res, reason)
	}
	if sp == "" {
		res.Kind = KindNotReceipt
		res.Reason = fmt.Sprintf("sender %q is no provider's address", o.env.from)
		if o.env.from == "" {
			res.Reason = "no sender address"
		}
		return res
	}

	subject := stripForwardPrefix(o.env.subject)
	texts := make([]string, 0, len(o.texts))
	for _, t := range o.texts {
		if n := normalize(t); n != "" {
			texts = append(texts, n)
		}
	}
	anyText := func(re *regexp.Regexp) bool {
		for _, t := range texts {
			if re.MatchString(t) {
				return true
			}
		}
		return false
	}

	switch {
	case failedRE().MatchString(subject) || failedishRE().MatchString(subject):
		return failedPayment(res, subject, sp)
	case refundSubjRE().MatchString(subject) || anyText(refundHeadRE()):
		return stripeReceipt(res, texts, subject, sp, true, o.undecodable)
	case receiptSubj().MatchString(subject) || anyText(stripeHeadRE()):
		return stripeReceipt(res, texts, subject, sp, false, o.undecodable)
	case sp == OpenAI && (fundedSubjRE().MatchString(subject) || anyText(chargedRE())):
		return fundedNotice(res, texts, o.undecodable)
	case receiptishRE().MatchString(subject) || anyText(receiptishRE()):
		if sp == stripe {
			return unreadable(res, "a Stripe message that looks like a receipt in no known layout")
		}
		return unreadable(res, "looks like a receipt but matches no known layout")
	}
	res.Kind = KindNotReceipt
	res.Reason = "no receipt wording"
	return res
}

func unreadable(res Result, reason string) Result {
	res.Kind = KindUnreadable
	res.Reason = reason
	return res
}

// reconcile reads every rendition (the text part, the HTML part) and
// insists that those that read agree. A conflict in any rendition wins; a
// rendition that only misses fields (a bare "view this in HTML" text part)
// gives way to one that has them.
func reconcile(texts []string, undecodable int, read func(string) (reading, *problem)) (reading, *problem) {
	var got []reading
	var firstMissing *problem
	for _, t := range texts {
		rd, p := read(t)
		if p != nil {
			if p.conflict {
				return rd, p
			}
			if firstMissing == nil {
				firstMissing = p
			}
			continue
		}
		got = append(got, rd)
	}
	if len(got) == 0 {
		switch {
		case firstMissing != nil:
			return reading{}, firstMissing
		case undecodable > 0:
			return reading{}, missing("its text could not be decoded")
		}
		return reading{}, missing("no text part")
	}
	base := got[0]
	for _, o := range got[1:] {
		if p := agree(&base, o); p != nil {
			return base, p
		}
	}
	return base, nil
}

// agree checks that two renditions say the same and fills what the first
// lacks from the second.
func agree(a *reading, b reading) *problem {
	if a.zero != b.zero || !sameMoney(a.amount, b.amount) || !sameMoney(a.tax, b.tax) || !sameMoney(a.credit, b.credit) {
		return conflict("the text and HTML parts disagree on the amounts")
	}
	for _, f := range []struct {
		name string
		a    *string
		b    string
	}{
		{"receipt number", &a.receiptNo, b.receiptNo},
		{"invoice number", &a.invoiceNo, b.invoiceNo},
		{"card", &a.last4, b.last4},
		{"payment method", &a.method, b.method},
		{"payment date", &a.paidOn, b.paidOn},
		{"organization", &a.orgID, b.orgID},
	} {
		switch {
		case *f.a == "":
			*f.a = f.b
		case f.b != "" && *f.a != f.b:
			return conflict("the text and HTML parts disagree on the %s", f.name)
		}
	}
	if a.printed == "" {
		a.printed = b.printed
	}
	if a.business == "" {
		a.business = b.business
	}
	if len(a.items) == 0 {
		a.items, a.period = b.items, b.period
	}
	if a.org == "" {
		a.org = b.org
	}
	a.auto = a.auto || b.auto
	a.fund = a.fund || b.fund
	return nil
}

// stripeReceipt reads a Stripe receipt or refund.
func stripeReceipt(res Result, texts []string, subject, sp string, refund bool, undecodable int) Result {
	rd, p := reconcile(texts, undecodable, func(t string) (reading, *problem) {
		return readStripe(t, subject, refund)
	})
	// Who is it from? The sender, or for stripe.com the business printed.
	name := rd.business
	if name == "" {
		name = subjectBusiness(subject)
	}
	bp := businessProvider(name)
	switch {
	case sp == stripe && bp == "":
		if name == "" {
			return unreadable(res, "a Stripe receipt whose business cannot be read")
		}
		res.Kind = KindNotReceipt
		res.Reason = fmt.Sprintf("a receipt from %s, which is no watched provider", name)
		return res
	case sp == stripe:
		res.Provider = bp
	case bp != "" && bp != sp:
		return unreadable(res, fmt.Sprintf("sent from %s's address but printed as from %s", sp, name))
	}
	if p != nil {
		return unreadable(res, p.msg)
	}
	if res.Provider == DeepSeek {
		return unreadable(res, "no DeepSeek receipt layout is known")
	}
	if rd.zero {
		res.Kind = KindNotReceipt
		res.Reason = "a receipt for 0.00: no card was charged"
		return res
	}
	res.Layout = rd.layout
	res.ReceiptNumber, res.InvoiceNumber = rd.receiptNo, rd.invoiceNo
	res.PaymentMethod, res.Last4 = rd.method, rd.last4
	res.PrintedDate, res.PaidOn = rd.printed, rd.paidOn
	res.Items = rd.items
	res.Purpose, res.Trigger = purposeOf(rd.items, rd.period)
	if res.Purpose == PurposeUnknown && res.Provider == OpenRouter {
		// OpenRouter sells nothing but credits.
		res.Purpose = PurposeAPICredits
	}
	if res.Date.IsZero() {
		t, err := time.Parse("2006-01-02", rd.paidOn)
		if err != nil {
			return unreadable(res, "no Date: header and no printed date")
		}
		res.Date, res.DateFrom = t.UTC(), DatePrinted
	}
	if refund {
		res.Kind = KindRefund
		res.Amount, res.Tax, res.Credit = rd.amount.Neg(), rd.tax, rd.credit
		res.ID = "refund:" + rd.receiptNo + ":" + rd.amount.Amount().StringFixed(2)
		return res
	}
	res.Kind = KindCharge
	res.Amount, res.Tax, res.Credit = rd.amount, rd.tax, rd.credit
	res.ID = rd.receiptNo
	if res.Provider == OpenAI {
		res.ID = openAIKey(res.Date, rd.amount, rd.last4)
	}
	return res
}

// subjectBusiness reads the business from "Your receipt from X #...",
// "Your X receipt [#...]" or "Your refund from X #...".
func subjectBusiness(subject string) string {
	if m := receiptSubj().FindStringSubmatch(subject); m != nil {
		return strings.TrimSpace(m[1] + m[2])
	}
	if m := refundSubjRE().FindStringSubmatch(subject); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

// openAIKey is the ID of an OpenAI charge: OpenAI's notice has no receipt
// number, so the message's own time (to the second), the amount and the
// card's last four stand in. Copies of one notice (a Gmail label and the
// inbox, a forward) share its Date and merge; the top-ups of an hourly
// auto-recharge loop, equal in amount and card, stay apart, as they must.
func openAIKey(date time.Time, amount billing.Money, last4 string) string {
	return "openai-funded:" + date.UTC().Format(time.RFC3339) + ":" + amount.Amount().StringFixed(2) + ":" + last4
}

// fundedNotice reads OpenAI's funded notice.
func fundedNotice(res Result, texts []string, undecodable int) Result {
	rd, p := reconcile(texts, undecodable, readFunded)
	if p != nil {
		return unreadable(res, p.msg)
	}
	if res.Date.IsZero() {
		return unreadable(res, "the funded notice prints no date and the message has no Date: header")
	}
	res.Kind = KindCharge
	res.Layout = LayoutOpenAIFunded
	res.Amount, res.Tax, res.Credit = rd.amount, rd.tax, rd.credit
	res.PaymentMethod, res.Last4 = rd.method, rd.last4
	res.Organization, res.OrganizationID = rd.org, rd.orgID
	res.Purpose, res.Trigger = PurposeUnknown, billing.TriggerUnknown
	if rd.fund {
		res.Purpose = PurposeAPICredits
	}
	if rd.auto {
		res.Trigger = billing.TriggerAutoRecharge
	}
	res.ID = openAIKey(res.Date, rd.amount, rd.last4)
	return res
}

// failedPayment reads "$500.00 payment to Anthropic, PBC was unsuccessful":
// the amount is only in the subject.
func failedPayment(res Result, subject, sp string) Result {
	m := failedRE().FindStringSubmatch(subject)
	if m == nil {
		return unreadable(res, "a failed-payment notice without a readable amount")
	}
	bp := businessProvider(m[2])
	switch {
	case sp == stripe && bp == "":
		res.Kind = KindNotReceipt
		res.Reason = fmt.Sprintf("a failed payment to %s, which is no watched provider", shorten(m[2], 60))
		return res
	case sp == stripe:
		res.Provider = bp
	case bp != "" && bp != sp:
		return unreadable(res, fmt.Sprintf("sent from %s's address but about a payment to %s", sp, shorten(m[2], 60)))
	}
	amt := strings.TrimSpace(m[1])
	toks := scanMoney(amt)
	if len(toks) != 1 || toks[0].start != 0 || toks[0].end != len(amt) {
		return unreadable(res, "a failed-payment notice without a readable amount")
	}
	if toks[0].err != "" {
		return unreadable(res, "cannot read the failed amount: "+toks[0].err)
	}
	if !toks[0].m.IsPositive() {
		return unreadable(res, "failed amount is not positive")
	}
	res.Kind = KindFailedPayment
	res.Layout = LayoutFailedPayment
	res.Amount = toks[0].m
	res.Tax = billing.NewMoney(decimal.Zero, res.Amount.Currency())
	res.Credit = res.Tax
	res.Trigger, res.Purpose = billing.TriggerUnknown, PurposeUnknown
	when := res.MessageID
	if !res.Date.IsZero() {
		when = res.Date.Format(time.RFC3339)
	}
	res.ID = "failed:" + when + ":" + res.Amount.Amount().StringFixed(2)
	return res
}
