package receipt_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/receipt"
)

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name + ".eml")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func parse(t *testing.T, raw string) (receipt.Result, error) {
	t.Helper()
	return receipt.ParseBytes([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

// The same payment seen twice is one charge: a Gmail label copy (the same
// bytes), a copy with rewritten headers, a forward, and for OpenAI a funded
// notice and a receipt of the same top-up.
func TestDedupKeyMergesCopies(t *testing.T) {
	orig, err := receipt.ParseBytes(mustRead(t, "anthropic-autorecharge-text"))
	if err != nil {
		t.Fatal(err)
	}
	copyRaw := strings.Replace(string(mustRead(t, "anthropic-autorecharge-text")), "Message-ID: <a1@mail.example.com>", "Message-ID: <resent-1@mail.example.com>", 1)
	copyRaw = strings.Replace(copyRaw, "Date: Sun, 16 Aug 2026 09:10:08 +0000", "Date: Thu, 10 Sep 2026 09:10:08 +0000", 1)
	resent, err := receipt.ParseBytes([]byte(copyRaw))
	if err != nil {
		t.Fatal(err)
	}
	if resent.DedupKey() != orig.DedupKey() || resent.MessageID == orig.MessageID {
		t.Errorf("re-sent receipt: got key %q, want %q", resent.DedupKey(), orig.DedupKey())
	}
	if resent.PaidOn != "2026-08-16" {
		t.Errorf("re-sent receipt: got paid on %q, want the printed 2026-08-16", resent.PaidOn)
	}

	// OpenAI's notices carry no receipt number: a copy of one notice (same
	// Date) merges, but the top-ups of an hourly loop, equal in amount and
	// card, are each a charge.
	notice := func(date string) receipt.Result {
		t.Helper()
		r, err := parse(t, "From: OpenAI <noreply@tm.openai.com>\nSubject: Your OpenAI API account has been funded\nDate: "+date+`

Hi example, We charged $10.00 to your credit card ending in 4242 to fund your OpenAI API credit balance.
`)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first, copyOfFirst, hourLater := notice("Fri, 14 Aug 2026 12:00:05 +0000"), notice("Fri, 14 Aug 2026 14:00:05 +0200"), notice("Fri, 14 Aug 2026 13:00:04 +0000")
	if first.DedupKey() == "" || first.DedupKey() != copyOfFirst.DedupKey() {
		t.Errorf("copies of one OpenAI notice: got keys %q and %q, want one", first.DedupKey(), copyOfFirst.DedupKey())
	}
	if first.DedupKey() == hourLater.DedupKey() {
		t.Errorf("two equal OpenAI top-ups an hour apart: got one key %q, want two", first.DedupKey())
	}
}

func TestRefundIsNotTheCharge(t *testing.T) {
	r, err := receipt.ParseBytes(mustRead(t, "anthropic-refund"))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := r.Charge()
	if !ok || !c.Amount.IsNegative() || c.Origin != billing.ChargeReceipt {
		t.Errorf("refund as a charge: got %+v ok=%v, want a negative receipt charge", c, ok)
	}
	if r.ReceiptNumber != "2001-0001-0005" || r.DedupKey() == "anthropic:2001-0001-0005" {
		t.Errorf("refund: got receipt %q key %q; want it linked by receipt number but keyed apart from the charge", r.ReceiptNumber, r.DedupKey())
	}
	if _, ok := (receipt.Result{Kind: receipt.KindFailedPayment}).Charge(); ok {
		t.Error("a failed payment converted to a charge")
	}
}

func TestChargeFields(t *testing.T) {
	r, err := receipt.ParseBytes(mustRead(t, "anthropic-two-taxes"))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := r.Charge()
	if !ok || c.ID != "2001-0001-0004" || c.Trigger != billing.TriggerAutoRecharge || !c.PaidAt.Equal(r.Date) {
		t.Fatalf("got %+v ok=%v", c, ok)
	}
	if got := c.Credit(); !sameAmount(got, r.Credit) {
		t.Errorf("billing credit %s, receipt credit %s: want equal when Total excluding tax is printed", got.Exact(), r.Credit.Exact())
	}
}

func sameAmount(a, b billing.Money) bool {
	c, err := a.Cmp(b)
	return err == nil && c == 0
}

// Each case must be unreadable, with a reason naming the problem.
func TestUnreadable(t *testing.T) {
	const head = `From: "Anthropic, PBC" <invoice+statements@mail.anthropic.com>
Subject: Your receipt from Anthropic, PBC #2001-0001-0001
Date: Sun, 16 Aug 2026 09:10:08 +0000
`
	tests := []struct{ name, msg, reason string }{
		{"head and amount paid differ", head + "\nReceipt from Anthropic, PBC $51.50 Paid August 16, 2026 Receipt number 2001-0001-0001 Amount paid $50.00\n",
			"the head says $51.50 but Amount paid is $50.00"},
		{"two amounts paid", head + "\nReceipt from Anthropic, PBC Receipt #2001-0001-0001 Amount paid $5.00 Amount paid $6.00\n",
			"two different amounts for Amount paid"},
		{"decimal comma", head + "\nReceipt from Anthropic, PBC Receipt #2001-0001-0001 Amount paid $10,00\n",
			"not grouped in thousands"},
		{"unknown symbol", head + "\nReceipt from Anthropic, PBC Receipt #2001-0001-0001 Amount paid ₹500.00\n",
			`no readable amount after "Amount paid"`},
		{"tax does not add up", head + "\nReceipt from Anthropic, PBC $51.50 Paid August 16, 2026 Receipt #2001-0001-0001 Total excluding tax $50.00 Sales Tax - Colorado (3%) $1.00 Total $51.50 Amount paid $51.50\n",
			"plus tax $1.00 is not the total $51.50"},
		{"two currencies", head + "\nReceipt from Anthropic, PBC $51.50 Paid August 16, 2026 Receipt #2001-0001-0001 Subtotal €50.00 Total $51.50\n",
			"amounts in two currencies"},
		{"no receipt number", strings.Replace(head, " #2001-0001-0001", "", 1) + "\nReceipt from Anthropic, PBC $51.50 Paid August 16, 2026 Amount paid $51.50\n",
			"no receipt number"},
		{"receipt numbers differ", head + "\nReceipt from Anthropic, PBC $5.00 Paid August 16, 2026 Receipt number 2001-0001-0002 Amount paid $5.00\n",
			"two different receipt numbers"},
		{"receipt number shape", head + "\nReceipt from Anthropic, PBC $5.00 Paid August 16, 2026 Receipt number 4242424242424242 Amount paid $5.00\n",
			"receipt number \"[number removed]\" has an unknown shape"},
		{"sender and business differ", head + "\nReceipt from OpenRouter, Inc Receipt #2001-0001-0001 Amount paid $5.00\n",
			"sent from anthropic's address but printed as from OpenRouter, Inc"},
		{"translated labels", strings.Replace(head, "Your receipt from Anthropic, PBC #2001-0001-0001", "Ditt kvitto från Anthropic, PBC [2001-0001]", 1) + "\nKvitto från Anthropic, PBC Betalt belopp 5,00 $\n",
			"matches no known layout"},
		{"failed without amount", `From: "Anthropic, PBC" <failed-payments@mail.anthropic.com>
Subject: Your payment to Anthropic, PBC was unsuccessful
Date: Sun, 16 Aug 2026 09:10:08 +0000

We weren't able to charge the credit card you provided.
`, "failed-payment notice without a readable amount"},
		{"deepseek", `From: DeepSeek <billing@deepseek.com>
Subject: Your receipt from DeepSeek #2001-0001
Date: Sun, 16 Aug 2026 09:10:08 +0000

Receipt from DeepSeek Receipt #2001-0001 Amount paid $5.00
`, "no DeepSeek receipt layout is known"},
		{"notice without date", `From: OpenAI <noreply@tm.openai.com>
Subject: Your OpenAI API account has been funded

We charged $10.00 to your credit card ending in 4242 to fund your OpenAI API credit balance.
`, "prints no date"},
		{"plain and HTML disagree", `From: OpenAI <noreply@tm.openai.com>
Subject: Your OpenAI API account has been funded
Date: Sun, 16 Aug 2026 09:10:08 +0000
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

We charged $10.00 to your credit card ending in 4242.
--b
Content-Type: text/html

<p>We charged <b>$20.00</b> to your credit card ending in 4242.</p>
--b--
`, "the text and HTML parts disagree on the amounts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parse(t, tc.msg)
			if !errors.Is(err, receipt.ErrUnreadable) || r.Kind != receipt.KindUnreadable {
				t.Fatalf("got kind %s, error %v; want unreadable", r.Kind, err)
			}
			if !strings.Contains(r.Reason, tc.reason) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("got reason %q, want it to say %q", r.Reason, tc.reason)
			}
			if !r.Amount.IsZero() || r.DedupKey() != "" {
				t.Errorf("unreadable with amount %s, key %q", r.Amount.Exact(), r.DedupKey())
			}
		})
	}
}

func TestNotReceipts(t *testing.T) {
	tests := []struct{ name, msg, reason string }{
		{"zero paid", `From: "Anthropic, PBC" <invoice+statements@mail.anthropic.com>
Subject: Your receipt from Anthropic, PBC #2001-0001-0001
Date: Sun, 16 Aug 2026 09:10:08 +0000

Receipt from Anthropic, PBC $0.00 Paid August 16, 2026 Receipt #2001-0001-0001 Total $0.00 Amount paid $0.00
`, "no card was charged"},
		{"failed payment to another business", `From: Stripe <failed-payments+acct_XXXX@stripe.com>
Subject: $20.00 payment to Example Co was unsuccessful
Date: Sun, 16 Aug 2026 09:10:08 +0000

We weren't able to charge your card.
`, "a failed payment to Example Co, which is no watched provider"},
		{"no sender", "Subject: Your receipt from Anthropic, PBC #2001-0001-0001\n\nAmount paid $5.00\n", "no sender address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parse(t, tc.msg)
			if err != nil || r.Kind != receipt.KindNotReceipt || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("got kind %s reason %q error %v; want not-receipt saying %q", r.Kind, r.Reason, err, tc.reason)
			}
		})
	}
}

// OpenAI's notice has no auto-recharge wording in any copy found; if it ever
// says so, the trigger follows (inferred wording).
func TestOpenAINoticeAutoRechargeWording(t *testing.T) {
	r, err := parse(t, `From: OpenAI <noreply@tm.openai.com>
Subject: Your OpenAI API account has been funded
Date: Sun, 16 Aug 2026 09:10:08 +0000

Your balance fell below $5.00, so auto recharge is on: we charged $20.00 to your credit card ending in 4242 to fund your OpenAI API credit balance.
`)
	if err != nil || r.Trigger != billing.TriggerAutoRecharge || r.ID != "openai-funded:2026-08-16T09:10:08Z:20.00:4242" {
		t.Errorf("got trigger %s id %q error %v", r.Trigger, r.ID, err)
	}
}

func TestForwardEdgeCases(t *testing.T) {
	// Two receipts attached to one forward: never silently one of them.
	inner := func(no string) string {
		return `Content-Type: message/rfc822

From: "Anthropic, PBC" <invoice+statements@mail.anthropic.com>
Subject: Your receipt from Anthropic, PBC #` + no + `
Date: Sun, 16 Aug 2026 09:10:08 +0000

Receipt from Anthropic, PBC $5.00 Paid August 16, 2026 Receipt #` + no + ` Amount paid $5.00
`
	}
	r, err := parse(t, `From: Pat <pat@example.org>
Subject: two receipts
Date: Mon, 17 Aug 2026 09:00:00 +0000
Content-Type: multipart/mixed; boundary=m

--m
`+inner("2001-0001-0001")+`--m
`+inner("2001-0001-0002")+`--m--
`)
	if !errors.Is(err, receipt.ErrUnreadable) || !strings.Contains(r.Reason, "2 forwarded provider messages") {
		t.Errorf("two attached receipts: got kind %s reason %q error %v", r.Kind, r.Reason, err)
	}

	// A forward of someone else's mail is not a receipt.
	r, err = parse(t, `From: Pat <pat@example.org>
Subject: Fwd: lunch
Date: Mon, 17 Aug 2026 09:00:00 +0000

---------- Forwarded message ---------
From: Sam <sam@example.com>
Date: Sun, Aug 16, 2026 at 9:10 AM
Subject: lunch

Receipt from Anthropic, PBC $5.00 Paid August 16, 2026 Receipt #2001-0001-0001 Amount paid $5.00
`)
	if err != nil || r.Kind != receipt.KindNotReceipt {
		t.Errorf("forward from a person: got kind %s error %v", r.Kind, err)
	}
}

func TestMalformedAndCardNumbers(t *testing.T) {
	r, err := receipt.ParseBytes([]byte("From: a@b.c\r\nSubject: bad header 4242 4242 4242 4242\r\nno colon line 4242424242424242\r\n\r\nbody"))
	if !errors.Is(err, receipt.ErrMalformed) || r.Kind != receipt.KindUnreadable {
		t.Fatalf("got kind %s error %v; want malformed", r.Kind, err)
	}
	if strings.Contains(err.Error(), "4242424242424242") || strings.Contains(r.Reason, "4242 4242") {
		t.Errorf("error leaks a card number: %v", err)
	}
}

// Four digits that are not the end of a number are never taken for the
// last four.
func TestLast4OnlyFromTheEnd(t *testing.T) {
	const head = `From: "Anthropic, PBC" <invoice+statements@mail.anthropic.com>
Subject: Your receipt from Anthropic, PBC #2001-0001-0001
Date: Sun, 16 Aug 2026 09:10:08 +0000

Receipt from Anthropic, PBC $5.00 Paid August 16, 2026 Receipt number 2001-0001-0001 Payment method `
	for method, want := range map[string]string{
		"- 4242":                     "4242",
		"Visa - 1881":                "1881",
		"Mastercard ending in 1234.": "1234",
		"- 4000-0000-0000-1881":      "",
		"- 4000 0000 0000 1881":      "",
		"4000000000001881":           "",
		"Link":                       "",
		"•••• 5556 Receipt #2001-0001-0001": "5556",
	} {
		r, err := parse(t, head+method+" Amount paid $5.00\n")
		if err != nil || r.Last4 != want {
			t.Errorf("payment method %q: got last4 %q (error %v), want %q", method, r.Last4, err, want)
		}
	}
}
