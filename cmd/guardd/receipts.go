package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/guardd/guardd/internal/receipt"
)

// cmdReceiptsScan is guardd receipts scan: it prints what guardd reads from
// each message, so a user can check the parser on their own receipts before
// trusting it. It reads files only; nothing is stored or sent.
func cmdReceiptsScan(_ context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("receipts scan", nil, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd receipts scan FILE...\n\n"+
			"Prints what guardd reads from each email message (.eml or a Maildir file): the kind, the\n"+
			"provider, the amount paid, the tax, the credit, when, the receipt number and the trigger;\n"+
			"or why it cannot read it. Exits 1 when a message looks like a receipt but cannot be read.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("receipts scan: want at least one message file")
	}
	unreadable := 0
	for _, path := range fs.Args() {
		r, err := scanFile(path)
		switch {
		case errors.Is(err, receipt.ErrUnreadable):
			unreadable++
			fmt.Fprintf(stdout, "%s: %s receipt from %s that guardd cannot read: %s\n", path, orUnknown(r.Provider), orUnknown(r.Sender), r.Reason)
		case err != nil:
			unreadable++
			fmt.Fprintf(stdout, "%s: %v\n", path, err)
		default:
			fmt.Fprintf(stdout, "%s: %s\n", path, describeReceipt(r))
		}
	}
	if unreadable > 0 {
		return fmt.Errorf("receipts scan: %d of %d messages could not be read", unreadable, fs.NArg())
	}
	return nil
}

func scanFile(path string) (receipt.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return receipt.Result{}, err
	}
	defer f.Close()
	return receipt.Parse(f)
}

// describeReceipt says in a line what a message is to guardd.
func describeReceipt(r receipt.Result) string {
	switch r.Kind {
	case receipt.KindNotReceipt:
		return fmt.Sprintf("not a receipt (from %s, %q)", orUnknown(r.Sender), r.Subject)
	case receipt.KindFailedPayment:
		return fmt.Sprintf("%s: a failed payment of %s at %s (an alert, not a charge)", r.Provider, r.Amount.Display(), r.Date.Format("2006-01-02 15:04 UTC"))
	}
	var b strings.Builder
	if r.Kind == receipt.KindRefund {
		fmt.Fprintf(&b, "%s refund: %s refunded", r.Provider, r.Amount.Neg().Display())
	} else {
		fmt.Fprintf(&b, "%s %s: %s paid", r.Provider, r.Kind, r.Amount.Display())
	}
	if !r.Tax.IsZero() {
		fmt.Fprintf(&b, " (%s tax)", r.Tax.Display())
	}
	if r.Kind == receipt.KindCharge {
		fmt.Fprintf(&b, ", %s credit", r.Credit.Display())
	}
	fmt.Fprintf(&b, " at %s (%s)", r.Date.Format("2006-01-02 15:04 UTC"), dateWords[r.DateFrom])
	if r.ID != "" {
		fmt.Fprintf(&b, ", id %s", r.ID)
	}
	if r.Trigger != "" {
		fmt.Fprintf(&b, ", trigger %s", r.Trigger)
	}
	if r.Last4 != "" {
		fmt.Fprintf(&b, ", card …%s", r.Last4)
	}
	if r.Purpose == receipt.PurposePlan {
		b.WriteString(", for a plan (not API credit)")
	}
	if r.Forwarded {
		b.WriteString(", forwarded")
	}
	return b.String()
}

// dateWords says where a receipt's time came from.
var dateWords = map[receipt.DateSource]string{
	receipt.DateHeader:          "the message's Date header",
	receipt.DateForwardedHeader: "the forwarded message's Date header",
	receipt.DateForwardedNoZone: "the forwarded message's date, which gives no zone: UTC assumed",
	receipt.DatePrinted:         "the date printed in the receipt",
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown sender"
	}
	return s
}
