package receipt_test

import (
	"os"
	"testing"

	"github.com/guardd/guardd/internal/receipt"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every fixture: it must
// not panic, never return a charge of zero or less, never a credit above the
// amount paid, and never more than four digits of a card in any output.
func FuzzParse(f *testing.F) {
	for _, path := range fixtures(f) {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	// A card number planted where fields are read from.
	f.Add([]byte("From: \"Anthropic, PBC\" <invoice+statements@mail.anthropic.com>\r\n" +
		"Subject: Your receipt from Anthropic, PBC #2001-0001-0001 4242 4242 4242 4242\r\n" +
		"Date: Sun, 16 Aug 2026 09:10:08 +0000\r\n\r\n" +
		"Receipt from Anthropic, PBC $5.00 Paid August 16, 2026 Receipt number 2001-0001-0001 " +
		"Payment method 4242-4242-4242-4242 Receipt #2001-0001-0001 Auto-recharge credits 4242424242424242 Qty 1 $5.00 Total $5.00 Amount paid $5.00\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := receipt.ParseBytes(raw)
		checkInvariants(t, raw, r, err)
	})
}

// BenchmarkParse parses a typical receipt: Anthropic's multipart/mixed with a
// text and an HTML rendition and two PDF attachments.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"anthropic-alternative-attachments", "openrouter-text-split-amount", "openai-funded-text"} {
		raw, err := os.ReadFile("testdata/" + name + ".eml")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := receipt.ParseBytes(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
