package main

import (
	"strings"
	"testing"
)

// TestReceiptsScan prints what guardd reads from a receipt of each kind,
// and exits 1 when one cannot be read.
func TestReceiptsScan(t *testing.T) {
	dir := "internal/receipt/testdata/"
	out, _, err := runCmd(t, nil, "receipts", "scan", dir+"anthropic-autorecharge-text.eml", dir+"openai-funded-text.eml",
		dir+"anthropic-newsletter.eml", dir+"anthropic-refund.eml")
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	for _, want := range []string{
		dir + "anthropic-autorecharge-text.eml: anthropic charge: $51.50 paid ($1.50 tax), $50.00 credit at 2026-08-16 09:10 UTC (the message's Date header), id 2001-0001-0001, trigger auto-recharge, card …4242\n",
		dir + "openai-funded-text.eml: openai charge: $10.00 paid, $10.00 credit at 2026-08-13 05:43 UTC",
		dir + `anthropic-newsletter.eml: not a receipt (from news@mail.anthropic.com, "Updates to our Commercial Terms of Service")`,
		dir + "anthropic-refund.eml: anthropic refund: $1.50 refunded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scan output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCmd(t, nil, "receipts", "scan", dir+"anthropic-unreadable-yen.eml")
	if err == nil || !strings.Contains(err.Error(), "1 of 1 messages could not be read") {
		t.Errorf("unreadable: got error %v, want one", err)
	}
	if !strings.Contains(out, "that guardd cannot read: ") || !strings.Contains(out, "no ISO code is printed") {
		t.Errorf("unreadable: got %q, want the reason", out)
	}
	if _, _, err := runCmd(t, nil, "receipts", "scan"); err == nil {
		t.Errorf("scan with no file: got no error")
	}
}
