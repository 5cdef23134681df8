package receipt

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// symbols maps the currency symbols receipts print to ISO codes. "$" alone is
// USD: Stripe prefixes the other dollars (A$, S$, CA$...). ¥ is missing on
// purpose: it is JPY or CNY, so it needs a printed ISO code.
var symbols = map[string]billing.Currency{
	"$": "USD", "US$": "USD",
	"A$": "AUD", "AU$": "AUD",
	"S$": "SGD", "SG$": "SGD",
	"CA$": "CAD", "NZ$": "NZD", "HK$": "HKD", "MX$": "MXN",
	"€": "EUR", "£": "GBP", "₩": "KRW", "￦": "KRW",
}

// zeroDecimal lists currencies without a minor unit
// (https://stripe.com/docs/currencies): an amount in them never has decimals.
var zeroDecimal = map[billing.Currency]bool{
	"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true,
	"KRW": true, "MGA": true, "PYG": true, "RWF": true, "UGX": true, "VND": true,
	"VUV": true, "XAF": true, "XOF": true, "XPF": true,
}

// moneyTok is one amount found in text: a currency symbol with digits. When
// err is set the text looks like an amount but cannot be read with certainty
// (an unknown symbol, ¥ without a code, digits grouped in an unknown way).
type moneyTok struct {
	start, end int // byte offsets of the whole token, sign included
	m          billing.Money
	err        string
}

func isSymbolRune(r rune) bool {
	switch r {
	case '$', '€', '£', '₩', '￦', '¥', '￥':
		return true
	}
	return false
}

// scanMoney finds every amount in s. It never guesses: an amount whose
// currency or digits are unclear comes back with err set.
func scanMoney(s string) []moneyTok {
	var toks []moneyTok
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSymbolRune(r) {
			i += size
			continue
		}
		tok, ok := readMoneyAt(s, i, size)
		if ok {
			toks = append(toks, tok)
			i = tok.end
			continue
		}
		i += size
	}
	return toks
}

// readMoneyAt reads the amount whose symbol starts at byte i (size bytes long).
func readMoneyAt(s string, i, size int) (moneyTok, bool) {
	sym := s[i : i+size]
	// Letters glued before the symbol: "A$", "CA$", or an unknown "R$".
	j := i
	for j > 0 && j > i-3 && s[j-1] >= 'A' && s[j-1] <= 'Z' {
		j--
	}
	prefix := s[j:i]
	if j > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:j]); unicode.IsLetter(r) || unicode.IsDigit(r) {
			prefix = "?" + prefix // more letters than any known prefix
		}
	}
	start := j
	sym = prefix + sym

	// A sign glued before the symbol: "-$1.50", "−$1.50". A dash with a
	// space ("Item - $5.00") is punctuation, not a sign.
	neg := false
	k := start
	if k > 0 && s[k-1] == '-' {
		neg, start = true, k-1
	} else if k >= 3 && s[k-3:k] == "−" {
		neg, start = true, k-3
	}

	// An ISO code printed before the amount: "JPY ¥1,000".
	code := ""
	if start >= 4 && s[start-1] == ' ' && isUpperCode(s[start-4:start-1]) && (start == 4 || !isWordByte(s[start-5])) {
		code = s[start-4 : start-1]
		start -= 4
	}

	p := i + size
	if p < len(s) && s[p] == ' ' {
		p++
	}
	if p < len(s) && s[p] == '-' {
		neg = true
		p++
	}
	num, end, numErr := scanNumber(s, p)
	if num == "" {
		return moneyTok{}, false
	}
	// An ISO code printed after the amount: "¥1,000 JPY".
	if end+4 <= len(s) && s[end] == ' ' && isUpperCode(s[end+1:end+4]) && (end+4 == len(s) || !isWordByte(s[end+4])) {
		c := s[end+1 : end+4]
		if code != "" && code != c {
			return moneyTok{start: start, end: end + 4, err: fmt.Sprintf("amount printed with two currency codes %s and %s", code, c)}, true
		}
		code = c
		end += 4
	}
	tok := moneyTok{start: start, end: end}
	if numErr != "" {
		tok.err = numErr
		return tok, true
	}

	var cur billing.Currency
	switch known, ok := symbols[sym]; {
	case ok:
		cur = known
		if code != "" && billing.Currency(code) != cur {
			tok.err = fmt.Sprintf("symbol %s (%s) disagrees with the printed code %s", sym, cur, code)
			return tok, true
		}
	case sym == "¥" || sym == "￥":
		if code != "JPY" && code != "CNY" {
			tok.err = "¥ is ambiguous (JPY or CNY) and no ISO code is printed"
			return tok, true
		}
		cur = billing.Currency(code)
	default:
		tok.err = fmt.Sprintf("unknown currency symbol %q", strings.TrimPrefix(sym, "?"))
		return tok, true
	}

	d, err := decimal.NewFromString(strings.NewReplacer(",", "", " ", "").Replace(num))
	if err != nil {
		tok.err = fmt.Sprintf("unreadable digits %q", num)
		return tok, true
	}
	if places := -d.Exponent(); zeroDecimal[cur] && strings.Contains(num, ".") {
		tok.err = fmt.Sprintf("%s has no minor unit but the amount has decimals", cur)
		return tok, true
	} else if !zeroDecimal[cur] && places > 2 {
		tok.err = fmt.Sprintf("%s amount with %d decimals", cur, places)
		return tok, true
	}
	if neg {
		d = d.Neg()
	}
	tok.m = billing.NewMoney(d, cur)
	return tok, true
}

// scanNumber reads digits at s[p:]: "1250", "1,250.00", "40.66". It also
// accepts "40. 66" (a dot, one space, two digits), which one HTML-to-text
// copy of a receipt was seen to print for 40.66: the split reading is the
// only sensible one, and every amount is cross-checked against the receipt's
// other figures, so a wrong join would surface as a conflict, not a charge.
// Grouping that is not thousands ("10,00", a decimal comma) is an error: it
// is never guessed.
func scanNumber(s string, p int) (num string, end int, errMsg string) {
	q := p
	for q < len(s) && isDigit(s[q]) {
		q++
	}
	if q == p {
		return "", p, ""
	}
	first := q - p
	grouped := false
	for q+4 <= len(s) && s[q] == ',' && isDigit(s[q+1]) {
		n := q + 1
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if n-(q+1) != 3 || first > 3 {
			// A comma followed by a digit group that is not a thousands group.
			for n < len(s) && (isDigit(s[n]) || s[n] == ',' || s[n] == '.') {
				n++
			}
			return s[p:n], n, fmt.Sprintf("digits %q are not grouped in thousands (a decimal comma?)", s[p:n])
		}
		grouped = true
		q = n
	}
	if !grouped && q < len(s) && s[q] == ',' && q+1 < len(s) && isDigit(s[q+1]) {
		n := q + 1
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		return s[p:n], n, fmt.Sprintf("digits %q are not grouped in thousands (a decimal comma?)", s[p:n])
	}
	if q+1 < len(s) && s[q] == '.' && isDigit(s[q+1]) {
		n := q + 1
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		q = n
	} else if q+4 <= len(s) && s[q] == '.' && s[q+1] == ' ' && isDigit(s[q+2]) && isDigit(s[q+3]) &&
		(q+4 == len(s) || !isDigit(s[q+4])) {
		q += 4 // "40. 66"
	}
	return s[p:q], q, ""
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWordByte(b byte) bool {
	return isDigit(b) || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

// isoCodes are the codes read when printed next to an amount. The list is
// closed so that a tax label such as "VAT" or "GST" after an amount is never
// taken for a currency.
var isoCodes = map[string]bool{
	"USD": true, "EUR": true, "GBP": true, "AUD": true, "SGD": true, "CAD": true,
	"NZD": true, "HKD": true, "MXN": true, "JPY": true, "CNY": true, "KRW": true,
	"CHF": true, "SEK": true, "NOK": true, "DKK": true, "PLN": true, "CZK": true,
	"HUF": true, "INR": true, "BRL": true, "ZAR": true, "ILS": true, "TWD": true,
	"THB": true, "IDR": true, "MYR": true, "PHP": true, "VND": true, "AED": true,
}

func isUpperCode(s string) bool { return isoCodes[s] }
