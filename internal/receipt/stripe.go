package receipt

import (
	"strconv"
	"strings"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// reading is what one text rendition of a receipt says.
type reading struct {
	layout      Layout
	business    string
	amount      billing.Money // positive; negated for a refund by the caller
	tax, credit billing.Money
	zero        bool // the receipt says nothing was paid
	receiptNo   string
	invoiceNo   string
	method      string
	last4       string
	printed     string
	paidOn      string
	items       []Item
	period      bool
	// Words that say what was bought, for Trigger and Purpose.
	org, orgID string
	auto, fund bool
}

// readStripe reads one rendition of a Stripe receipt: the paid-invoice
// layout (Anthropic), the charge layout (OpenRouter), or their refunds.
func readStripe(text, subject string, refund bool) (reading, *problem) {
	var rd reading
	ls, p := readAmounts(text)
	if p != nil {
		return rd, p
	}
	rd.business = business(text)

	head, hasHead, p := one(ls, labelHead, "the receipt's head")
	if p != nil {
		return rd, p
	}
	paid, hasPaid, p := one(ls, labelPaid, "Amount paid")
	if p != nil {
		return rd, p
	}
	total, hasTotal, p := one(ls, labelTotal, "Total")
	if p != nil {
		return rd, p
	}
	excl, hasExcl, p := one(ls, labelExclTax, "Total excluding tax")
	if p != nil {
		return rd, p
	}
	sub, hasSub, p := one(ls, labelSubtotal, "Subtotal")
	if p != nil {
		return rd, p
	}
	refunded, hasRefunded, p := one(ls, labelRefunded, "Amount refunded")
	if p != nil {
		return rd, p
	}

	// Every figure of one receipt is in one currency.
	var cur billing.Currency
	for _, x := range ls {
		if x.l == labelNone || x.l == labelIgnored {
			continue
		}
		if cur == "" {
			cur = x.tok.m.Currency()
		} else if x.tok.m.Currency() != cur {
			return rd, conflict("amounts in two currencies: %s and %s", cur, x.tok.m.Currency())
		}
	}

	if refund {
		rd.layout = LayoutStripeRefund
		amt, ok := head, hasHead
		if hasRefunded {
			if ok && !sameMoney(head, refunded) {
				return rd, conflict("the head says %s refunded but Amount refunded is %s", head.Display(), refunded.Display())
			}
			amt, ok = refunded, true
		}
		if !ok {
			return rd, missing("no refunded amount")
		}
		if !amt.IsPositive() {
			return rd, conflict("refunded amount %s is not positive", amt.Display())
		}
		if hasPaid && amt.Amount().GreaterThan(paid.Amount()) {
			return rd, conflict("refund %s is larger than the amount paid %s", amt.Display(), paid.Display())
		}
		rd.amount = amt
		rd.tax = billing.NewMoney(decimal.Zero, cur)
		rd.credit = billing.NewMoney(decimal.Zero, cur)
	} else {
		rd.layout = LayoutStripeCharge
		amt, ok := paid, hasPaid
		if hasHead {
			rd.layout = LayoutStripeInvoice
			if ok && !sameMoney(head, paid) {
				return rd, conflict("the head says %s but Amount paid is %s", head.Display(), paid.Display())
			}
			amt, ok = head, true
		}
		if !ok {
			return rd, missing("no amount paid")
		}
		if hasTotal && !sameMoney(total, amt) {
			return rd, conflict("amount paid %s is not the total %s", amt.Display(), total.Display())
		}
		if amt.IsZero() {
			rd.zero = true
			return rd, nil
		}
		if amt.IsNegative() {
			return rd, conflict("amount paid %s is negative", amt.Display())
		}
		tax := billing.NewMoney(decimal.Zero, cur)
		for _, x := range ls {
			if x.l != labelTax {
				continue
			}
			if x.tok.m.IsNegative() {
				return rd, conflict("tax line %q is negative", x.detail)
			}
			tax, _ = tax.Add(x.tok.m)
		}
		credit, _ := amt.Sub(tax)
		switch {
		case hasExcl:
			if hasTotal {
				if sum, _ := excl.Add(tax); !sameMoney(sum, total) {
					return rd, conflict("total excluding tax %s plus tax %s is not the total %s", excl.Display(), tax.Display(), total.Display())
				}
			}
			credit = excl
		case hasSub:
			credit = sub
		}
		if !credit.IsPositive() {
			return rd, conflict("credit %s is not positive", credit.Display())
		}
		if credit.Amount().GreaterThan(amt.Amount()) {
			return rd, conflict("credit %s is more than the amount paid %s", credit.Display(), amt.Display())
		}
		if tax.Amount().GreaterThan(amt.Amount()) {
			return rd, conflict("tax %s is more than the amount paid %s", tax.Display(), amt.Display())
		}
		rd.amount, rd.tax, rd.credit = amt, tax, credit
	}

	for _, x := range ls {
		switch x.l {
		case labelItem:
			desc, qty, _ := strings.Cut(x.detail, "\x00")
			d, period := itemDescription(desc)
			n, _ := strconv.Atoi(qty)
			rd.items = append(rd.items, Item{Description: d, Quantity: n, Amount: x.tok.m})
			rd.period = rd.period || period
		case labelSummaryItem:
			rd.items = append(rd.items, Item{Description: shorten(x.detail, 80), Amount: x.tok.m})
		}
	}

	if rd.receiptNo, p = receiptNumber(text, subject); p != nil {
		return rd, p
	}
	if rd.receiptNo == "" {
		return rd, missing("no receipt number")
	}
	if m := invoiceNoRE().FindStringSubmatch(text); m != nil {
		rd.invoiceNo = m[1]
	}
	if rd.method, rd.last4, p = paymentMethod(text); p != nil {
		return rd, p
	}
	if rd.printed, rd.paidOn, p = printedDate(text); p != nil {
		return rd, p
	}
	return rd, nil
}

var (
	autoItemRE   = pattern(`(?i)\bauto[- ]?(?:recharge|reload|top[- ]?up)|\bautomatic (?:recharge|reload|top[- ]?up)`)
	manualItemRE = pattern(`(?i)\bone[- ]time credit purchase\b|\bcredit purchase\b`)
	creditItemRE = pattern(`(?i)\bcredits?\b|\bprepayment\b`)
	planItemRE   = pattern(`(?i)\bplan\b|\bsubscription\b|\bextra usage\b|\bseats?\b`)
)

// purposeOf says what the items bought and what triggered the charge.
func purposeOf(items []Item, period bool) (Purpose, billing.ChargeTrigger) {
	for _, it := range items {
		switch {
		case autoItemRE().MatchString(it.Description):
			return PurposeAPICredits, billing.TriggerAutoRecharge
		case manualItemRE().MatchString(it.Description):
			return PurposeAPICredits, billing.TriggerManual
		}
	}
	if period {
		return PurposePlan, billing.TriggerUnknown
	}
	for _, it := range items {
		if planItemRE().MatchString(it.Description) {
			return PurposePlan, billing.TriggerUnknown
		}
	}
	for _, it := range items {
		if creditItemRE().MatchString(it.Description) {
			return PurposeAPICredits, billing.TriggerUnknown
		}
	}
	return PurposeUnknown, billing.TriggerUnknown
}
