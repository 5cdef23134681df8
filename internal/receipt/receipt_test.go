package receipt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/receipt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.want.json from what Parse returns")

// golden is the view of a Result pinned in NAME.want.json: every field, as
// text, so a diff reads well.
type golden struct {
	Kind           string   `json:"kind"`
	Provider       string   `json:"provider,omitempty"`
	Layout         string   `json:"layout,omitempty"`
	Reason         string   `json:"reason,omitempty"`
	Error          string   `json:"error,omitempty"`
	MessageID      string   `json:"message_id,omitempty"`
	Sender         string   `json:"sender,omitempty"`
	Recipient      string   `json:"recipient,omitempty"`
	Subject        string   `json:"subject,omitempty"`
	Forwarded      bool     `json:"forwarded,omitempty"`
	ForwardedBy    string   `json:"forwarded_by,omitempty"`
	Date           string   `json:"date,omitempty"`
	DateFrom       string   `json:"date_from,omitempty"`
	PrintedDate    string   `json:"printed_date,omitempty"`
	PaidOn         string   `json:"paid_on,omitempty"`
	ID             string   `json:"id,omitempty"`
	DedupKey       string   `json:"dedup_key,omitempty"`
	ReceiptNumber  string   `json:"receipt_number,omitempty"`
	InvoiceNumber  string   `json:"invoice_number,omitempty"`
	Amount         string   `json:"amount,omitempty"`
	Tax            string   `json:"tax,omitempty"`
	Credit         string   `json:"credit,omitempty"`
	Currency       string   `json:"currency,omitempty"`
	Trigger        string   `json:"trigger,omitempty"`
	Purpose        string   `json:"purpose,omitempty"`
	PaymentMethod  string   `json:"payment_method,omitempty"`
	Last4          string   `json:"last4,omitempty"`
	Items          []string `json:"items,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	OrganizationID string   `json:"organization_id,omitempty"`
}

func view(r receipt.Result, err error) golden {
	g := golden{
		Kind: string(r.Kind), Provider: r.Provider, Layout: string(r.Layout), Reason: r.Reason,
		MessageID: r.MessageID, Sender: r.Sender, Recipient: r.Recipient, Subject: r.Subject,
		Forwarded: r.Forwarded, ForwardedBy: r.ForwardedBy, DateFrom: string(r.DateFrom),
		PrintedDate: r.PrintedDate, PaidOn: r.PaidOn, ID: r.ID, DedupKey: r.DedupKey(),
		ReceiptNumber: r.ReceiptNumber, InvoiceNumber: r.InvoiceNumber, Trigger: string(r.Trigger),
		Purpose: string(r.Purpose), PaymentMethod: r.PaymentMethod, Last4: r.Last4,
		Organization: r.Organization, OrganizationID: r.OrganizationID,
	}
	if err != nil {
		g.Error = err.Error()
	}
	if !r.Date.IsZero() {
		g.Date = r.Date.Format(time.RFC3339)
	}
	if r.Amount.Currency() != "" {
		g.Amount, g.Tax, g.Credit = r.Amount.Exact(), r.Tax.Exact(), r.Credit.Exact()
		g.Currency = string(r.Amount.Currency())
	}
	for _, it := range r.Items {
		g.Items = append(g.Items, it.Description+" | qty "+itoa(it.Quantity)+" | "+it.Amount.Exact()+" "+string(it.Amount.Currency()))
	}
	return g
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func fixtures(t testing.TB) []string {
	names, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	return names
}

// TestFixtures parses every testdata/*.eml and compares every extracted
// field with NAME.want.json.
func TestFixtures(t *testing.T) {
	for _, path := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, perr := receipt.ParseBytes(raw)
			got, err := json.MarshalIndent(view(r, perr), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			wantPath := strings.TrimSuffix(path, ".eml") + ".want.json"
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
			}
			checkInvariants(t, raw, r, perr)
		})
	}
}

var cardDigitsRE = regexp.MustCompile(`\d(?:[ .\-]?\d){12,}`)

// checkInvariants holds for every input, fixtures and fuzzed alike.
func checkInvariants(t testing.TB, raw []byte, r receipt.Result, err error) {
	t.Helper()
	switch r.Kind {
	case receipt.KindCharge:
		if !r.Amount.IsPositive() {
			t.Fatalf("charge with amount %s", r.Amount.Exact())
		}
		if c, cerr := r.Credit.Cmp(r.Amount); cerr != nil || c > 0 || !r.Credit.IsPositive() {
			t.Fatalf("credit %s not in (0, amount %s]", r.Credit.Exact(), r.Amount.Exact())
		}
		if r.Tax.IsNegative() {
			t.Fatalf("negative tax %s", r.Tax.Exact())
		}
		if r.ID == "" || r.DedupKey() == "" || r.Date.IsZero() || r.Provider == "" {
			t.Fatalf("charge without id, key, date or provider: %+v", r)
		}
	case receipt.KindRefund:
		if !r.Amount.IsNegative() {
			t.Fatalf("refund with amount %s", r.Amount.Exact())
		}
	case receipt.KindFailedPayment:
		if !r.Amount.IsPositive() {
			t.Fatalf("failed payment with amount %s", r.Amount.Exact())
		}
	case receipt.KindNotReceipt:
		if err != nil || !r.Amount.IsZero() {
			t.Fatalf("not-receipt with error %v or amount %s", err, r.Amount.Exact())
		}
	case receipt.KindUnreadable:
		if err == nil || !r.Amount.IsZero() || r.Reason == "" {
			t.Fatalf("unreadable without error or reason, or with amount %s: %v", r.Amount.Exact(), err)
		}
	default:
		t.Fatalf("unknown kind %q", r.Kind)
	}
	if (err == nil) != (r.Kind != receipt.KindUnreadable) {
		t.Fatalf("kind %s with error %v", r.Kind, err)
	}
	if err != nil && !errors.Is(err, receipt.ErrUnreadable) && !errors.Is(err, receipt.ErrMalformed) {
		t.Fatalf("error %v is neither ErrUnreadable nor ErrMalformed", err)
	}
	if r.Last4 != "" && !regexp.MustCompile(`^\d{4}$`).MatchString(r.Last4) {
		t.Fatalf("last4 %q", r.Last4)
	}
	// No output holds more of a card than four digits. MessageID is the
	// mailbox's own identifier and is kept verbatim.
	out := []string{r.Reason, r.Sender, r.Recipient, r.Subject, r.ForwardedBy, r.PrintedDate, r.PaidOn,
		r.ID, r.ReceiptNumber, r.InvoiceNumber, r.Organization, r.OrganizationID, r.DedupKey()}
	if err != nil {
		out = append(out, err.Error())
	}
	for _, it := range r.Items {
		out = append(out, it.Description)
	}
	for _, s := range out {
		if cardDigitsRE.MatchString(s) {
			t.Fatalf("output %q holds a card-like number", s)
		}
	}
}
