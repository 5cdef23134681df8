package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

// Kind says what a message is to guardd.
type Kind string

const (
	// KindCharge is money taken from a card for a watched provider.
	KindCharge Kind = "charge"
	// KindRefund is money given back; its Amount is negative.
	KindRefund Kind = "refund"
	// KindFailedPayment is a charge the provider tried and the card
	// refused: an alert, never a charge.
	KindFailedPayment Kind = "failed-payment"
	// KindNotReceipt is anything else: newsletters, policy updates,
	// sign-in notices, receipts of businesses guardd does not watch, mail
	// from senders that are no provider. Reason says which.
	KindNotReceipt Kind = "not-receipt"
	// KindUnreadable is a message that looks like a receipt of a watched
	// provider but whose figures cannot be read with certainty. Parse
	// returns it with an error wrapping ErrUnreadable.
	KindUnreadable Kind = "unreadable"
)

// Layout names the layout a result was read from.
type Layout string

const (
	// LayoutStripeInvoice is Stripe's paid-invoice receipt ("Receipt from
	// Anthropic, PBC $51.50 Paid August 16, 2026", items, Subtotal, tax
	// lines, Total, Amount paid).
	LayoutStripeInvoice Layout = "stripe-invoice"
	// LayoutStripeCharge is Stripe's charge receipt ("Receipt from
	// OpenRouter, Inc", "Amount paid", "Date paid", "Payment method").
	LayoutStripeCharge Layout = "stripe-charge"
	// LayoutStripeRefund is Stripe's refund receipt ("Refund from ...
	// Refunded on ...").
	LayoutStripeRefund Layout = "stripe-refund"
	// LayoutOpenAIFunded is OpenAI's "Your OpenAI API account has been
	// funded" notice.
	LayoutOpenAIFunded Layout = "openai-funded"
	// LayoutFailedPayment is a "$500.00 payment to Anthropic, PBC was
	// unsuccessful" notice; the amount is only in the subject.
	LayoutFailedPayment Layout = "failed-payment"
)

// Purpose says what a charge bought.
type Purpose string

const (
	// PurposeAPICredits: prepaid API credit ("Auto-recharge credits",
	// "One-time credit purchase", "OpenRouter Credits", OpenAI's funded
	// notice).
	PurposeAPICredits Purpose = "api-credits"
	// PurposePlan: a subscription plan or its extra usage (an item with a
	// service period such as "Aug 16–Sep 16, 2026", or naming a plan). Same
	// sender and layout as credit receipts; not an API top-up.
	PurposePlan Purpose = "plan"
	// PurposeUnknown: the items do not say.
	PurposeUnknown Purpose = "unknown"
)

// DateSource says where Result.Date was read.
type DateSource string

const (
	// DateHeader: the Date: header of the message itself.
	DateHeader DateSource = "date-header"
	// DateForwardedHeader: the Date: of a forwarded original (a
	// message/rfc822 attachment, or an inline header printed with a zone).
	DateForwardedHeader DateSource = "forwarded-header"
	// DateForwardedNoZone: an inline forward printed its date without a
	// zone (Gmail, Outlook); it was read as UTC and may be off by the
	// forwarder's UTC offset.
	DateForwardedNoZone DateSource = "forwarded-no-zone"
	// DatePrinted: no usable Date: header; the day the receipt prints, at
	// 00:00 UTC.
	DatePrinted DateSource = "printed"
)

// Item is one line item of a receipt.
type Item struct {
	Description string
	// Quantity is 0 when the receipt prints none.
	Quantity int
	Amount   billing.Money
}

// Result is what one message says. It holds only extracted fields: never the
// body, and never more of a card number than its last four digits.
type Result struct {
	Kind Kind
	// Provider is "anthropic", "openai", "openrouter" or "deepseek"; empty
	// when the message is from no provider.
	Provider string
	Layout   Layout
	// Reason says why a message is KindNotReceipt or KindUnreadable.
	Reason string

	// MessageID is the Message-ID of the message handed to Parse (for a
	// forward: the forward's, which is what the mailbox holds).
	MessageID string
	// Sender is the From address of the original message (inside a forward),
	// lower-cased; Recipient is the first To address of the original, which
	// tells apart several accounts at one provider.
	Sender    string
	Recipient string
	Subject   string
	// Forwarded is true when a person forwarded the original: ForwardedBy
	// is their address. A forward's header is only what the forwarder's
	// client printed; the caller decides whether to trust it.
	Forwarded   bool
	ForwardedBy string

	// Date is the instant of the original message, in UTC, from its Date:
	// header (DateFrom says which one). PrintedDate is the date the receipt
	// prints ("August 16, 2026", "May 15, 2026, 12:53:38 PM"), PaidOn the
	// same as "2026-08-16"; both empty when nothing is printed (the OpenAI
	// notice). Stripe re-sends a receipt when an expired link is opened, so
	// a Date days after PaidOn means a re-sent receipt.
	Date        time.Time
	DateFrom    DateSource
	PrintedDate string
	PaidOn      string

	// ID identifies the charge at the provider: the receipt number; for
	// OpenAI, which prints none, "openai-funded:TIME:AMOUNT:LAST4" with
	// the message's time to the second (see DedupKey); for a refund "refund:RECEIPT:AMOUNT"; for a failed payment
	// "failed:INSTANT:AMOUNT".
	ID            string
	ReceiptNumber string
	InvoiceNumber string
	// Amount is what was paid, tax included (negative for a refund, the
	// attempted amount for a failed payment). Tax is the sum of the tax
	// lines, zero when there are none. Credit is what should land as
	// credit: "Total excluding tax", else "Subtotal", else Amount-Tax. For a
	// refund Tax and Credit are zero: a refund does not say which part of
	// it was tax (a real one returned only the VAT).
	Amount billing.Money
	Tax    billing.Money
	Credit billing.Money
	// Trigger is auto-recharge when an item says so ("Auto-recharge
	// credits"), manual for "One-time credit purchase", else unknown.
	Trigger billing.ChargeTrigger
	Purpose Purpose
	// PaymentMethod is "card", "link" (Stripe Link: no digits) or empty;
	// Last4 the card's last four digits, or empty.
	PaymentMethod string
	Last4         string
	Items         []Item
	// Organization and OrganizationID are the account the message names
	// (OpenAI's footer: "Organization: example (org-...)").
	Organization   string
	OrganizationID string
}

// DedupKey identifies the payment a message is about, so that the same
// payment seen twice (a Gmail label and INBOX copy, a re-sent receipt, a
// forwarded copy) counts once: "provider:ID". Stripe receipts key on
// their receipt number. OpenAI charges key on (the message's Date to the
// second, amount, last four): copies of one notice merge, and the equal
// top-ups of an hourly auto-recharge loop stay apart. Were OpenAI to send a
// Stripe receipt besides its notice for one top-up (none was seen), the two
// would count twice: route one of the two senders only. Empty for
// KindNotReceipt and KindUnreadable.
func (r Result) DedupKey() string {
	switch r.Kind {
	case KindCharge, KindRefund, KindFailedPayment:
		if r.ID == "" {
			return ""
		}
		return r.Provider + ":" + r.ID
	}
	return ""
}

// Charge returns the result as a billing.Charge (Origin receipt) for
// KindCharge and KindRefund; ok is false for other kinds. billing.Charge
// derives its credit as Amount-Tax; Result.Credit is the receipt's own
// figure and equals it whenever the receipt prints "Total excluding tax".
func (r Result) Charge() (c billing.Charge, ok bool) {
	if r.Kind != KindCharge && r.Kind != KindRefund {
		return billing.Charge{}, false
	}
	return billing.Charge{
		ID:      r.ID,
		PaidAt:  r.Date,
		Amount:  r.Amount,
		Tax:     r.Tax,
		Origin:  billing.ChargeReceipt,
		Trigger: r.Trigger,
	}, true
}

// ErrUnreadable is wrapped by the error Parse returns for a message that
// looks like a receipt of a watched provider but whose figures cannot be
// read with certainty (no amount, conflicting amounts, amount paid ≠ total,
// an unknown currency). Such a message is never a charge, and never zero.
var ErrUnreadable = errors.New("receipt unreadable")

// ErrMalformed is wrapped by the error Parse returns when the input is not a
// readable RFC 5322 message at all.
var ErrMalformed = errors.New("malformed message")

// UnreadableError carries the reason a receipt could not be read.
type UnreadableError struct {
	Provider string
	Reason   string
}

func (e *UnreadableError) Error() string {
	if e.Provider == "" {
		return "receipt unreadable: " + e.Reason
	}
	return e.Provider + " receipt unreadable: " + e.Reason
}

// Is makes errors.Is(err, ErrUnreadable) true.
func (e *UnreadableError) Is(target error) bool { return target == ErrUnreadable }

// Parse reads one RFC 5322 message and says what it is.
//
// The error is nil for KindCharge, KindRefund, KindFailedPayment and
// KindNotReceipt. For KindUnreadable it wraps ErrUnreadable (an
// *UnreadableError) and the Result still carries the envelope (Provider,
// Sender, Subject, Date, MessageID) and Reason, but no amounts. When the
// input is not a message at all the error wraps ErrMalformed. No error ever
// holds more of a card number than its last four digits.
func Parse(r io.Reader) (Result, error) {
	m, err := readMessage(r)
	if err != nil {
		msg := scrub(err.Error())
		return Result{Kind: KindUnreadable, Reason: msg}, fmt.Errorf("%w: %s", ErrMalformed, msg)
	}
	res := classify(m)
	res.scrub()
	if res.Kind == KindUnreadable {
		return res, &UnreadableError{Provider: res.Provider, Reason: res.Reason}
	}
	return res, nil
}

// ParseBytes is Parse for a message held in memory.
func ParseBytes(b []byte) (Result, error) { return Parse(bytes.NewReader(b)) }
