package receipt

import (
	"strings"
	"testing"
	"time"
)

func TestScanMoney(t *testing.T) {
	tests := []struct {
		in, want string // want: "AMOUNT CUR" or "error: ..." prefix, "" for no token
	}{
		{"Amount paid $51.50", "51.5 USD"},
		{"Total $1,250.00", "1250 USD"},
		{"Amount paid $40. 66 Date paid", "40.66 USD"},
		{"Amount paid $40. 667", "40 USD"}, // not the split shape: "$40." reads as 40, never 40.667
		{"A$110.00", "110 AUD"},
		{"S$137.61", "137.61 SGD"},
		{"CA$5.00", "5 CAD"},
		{"€12.00", "12 EUR"},
		{"£8.00", "8 GBP"},
		{"₩58,000", "58000 KRW"},
		{"Credit -$1.50", "-1.5 USD"},
		{"Credit −$1.50", "-1.5 USD"},
		{"Item - $5.00", "5 USD"}, // a spaced dash is punctuation
		{"¥5,000 JPY", "5000 JPY"},
		{"CNY ¥110.00", "110 CNY"},
		{"$51.50 VAT - South Korea", "51.5 USD"}, // VAT is no currency code
		{"$51.50 USD", "51.5 USD"},
		{"¥5,000", "error: ¥ is ambiguous"},
		{"$5.00 EUR", "error: symbol $ (USD) disagrees"},
		{"R$51.50", `error: unknown currency symbol "R$"`},
		{"₩58.000", "error: KRW has no minor unit"},
		{"$10,00", "error: digits \"10,00\" are not grouped"},
		{"$1,2345.00", "error: digits"},
		{"$10.005", "error: USD amount with 3 decimals"},
		{"a $ sign", ""},
	}
	for _, tc := range tests {
		toks := scanMoney(tc.in)
		got := ""
		if len(toks) > 0 {
			if toks[0].err != "" {
				got = "error: " + toks[0].err
			} else {
				got = toks[0].m.Exact() + " " + string(toks[0].m.Currency())
			}
		}
		if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("scanMoney(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseForwardedDate(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		zoned bool
	}{
		{"Sun, 16 Aug 2026 09:10:08 +0000", "2026-08-16T09:10:08Z", true},        // Thunderbird, Fastmail
		{"Sun, Aug 16, 2026 at 9:10 AM", "2026-08-16T09:10:00Z", false},          // Gmail
		{"August 16, 2026 at 9:10:08 PM GMT+2", "2026-08-16T19:10:08Z", true},    // Apple Mail
		{"16 August 2026 at 10:10:08 BST", "2026-08-16T10:10:08Z", false},        // Apple Mail, en-GB: BST has no single offset
		{"Sunday, August 16, 2026 9:10 AM", "2026-08-16T09:10:00Z", false},       // Outlook
		{"Sun, Aug 16, 2026 at 9:10\u202fPM", "2026-08-16T21:10:00Z", false},     // newer Gmail
		{"March 20, 2026 at 3:20:13 PM GMT-05:30", "2026-03-20T20:50:13Z", true}, // half-hour offsets
		{"2026-08-16 09:10 UTC", "2026-08-16T09:10:00Z", true},
	}
	for _, tc := range tests {
		got, zoned, ok := parseForwardedDate(tc.in)
		if !ok || got.Format(time.RFC3339) != tc.want || zoned != tc.zoned {
			t.Errorf("parseForwardedDate(%q): got %s zoned=%v ok=%v, want %s zoned=%v", tc.in, got.Format(time.RFC3339), zoned, ok, tc.want, tc.zoned)
		}
	}
	for _, bad := range []string{"", "yesterday", "Sun, Aug 45, 2026 at 9:10 AM"} {
		if _, _, ok := parseForwardedDate(bad); ok {
			t.Errorf("parseForwardedDate(%q): got ok, want not parsed", bad)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<html><head><title>$9.99</title><style>p{color:red} /* $1.00 */</style></head>
<body><script>var a = "$2.00";</script><!-- $3.00 -->
<table><tr><td>Amount&nbsp;paid</td><td>$51.50</td></tr>
<tr><td>Total</td><td><span>$51</span>.<span>50</span></td></tr></table>
<p>Anthropic,
   PBC &amp; friends<br>next&#32;line</p><img alt="$4.00" src="x.png"></body></html>`
	got := htmlToText(in)
	want := "Amount\u00a0paid\n$51.50\nTotal\n$51.50\nAnthropic, PBC & friends\nnext line\n"
	if got != want {
		t.Errorf("htmlToText:\ngot  %q\nwant %q", got, want)
	}
	// A document that never closes its head still renders its body.
	if got := htmlToText(`<head><style>x{}</style><body><p>Amount paid $1.00</p>`); !strings.Contains(got, "Amount paid $1.00") {
		t.Errorf("unclosed head: got %q", got)
	}
}

func TestNormalize(t *testing.T) {
	got := normalize("Amount paid\r\n| $51.50 |\t\u00a0Total\u200b $51.50\n")
	if want := "Amount paid $51.50 Total $51.50"; got != want {
		t.Errorf("normalize: got %q, want %q", got, want)
	}
}

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		"card 4242 4242 4242 4242 here": "card [number removed] here",
		"4242-4242-4242-4242":           "[number removed]",
		"378282246310005":               "[number removed]",
		"receipt 2001-0001-0001":        "receipt 2001-0001-0001",
		"ending in 4242":                "ending in 4242",
	} {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q): got %q, want %q", in, got, want)
		}
	}
}
