// Package billing holds guardd's domain: money, credit grants, charges, cost
// buckets, observations of an account, account settings and findings. It is a
// leaf: it imports nothing of guardd's, and every other package imports it.
package billing

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/shopspring/decimal"
)

// Currency is an upper-case ISO 4217 code such as "USD" or "CNY".
type Currency string

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// ParseCurrency accepts an ISO 4217 code in any case ("usd", "USD") and
// returns it upper-cased. Providers disagree on case (OpenAI's costs API says
// "usd", DeepSeek says "CNY").
func ParseCurrency(s string) (Currency, error) {
	c := Currency(strings.ToUpper(strings.TrimSpace(s)))
	if !currencyRE.MatchString(string(c)) {
		return "", fmt.Errorf("invalid currency %s: want a three-letter ISO 4217 code", Quote(s))
	}
	return c, nil
}

// ErrCurrencyMismatch is returned when arithmetic mixes currencies.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// Money is an exact decimal amount in one currency. The zero value is zero
// with no currency; it adds to any currency.
type Money struct {
	amount   decimal.Decimal
	currency Currency
}

// NewMoney returns amount in currency c.
func NewMoney(amount decimal.Decimal, c Currency) Money {
	return Money{amount: amount, currency: c}
}

// ParseMoney parses a decimal string such as "12.50" exactly (never through
// float64). It rejects empty strings, NaN, infinities and exponents that do
// not fit a decimal.
func ParseMoney(s string, c Currency) (Money, error) {
	d, err := ParseAmount(s)
	if err != nil {
		return Money{}, err
	}
	return Money{amount: d, currency: c}, nil
}

// maxAmountText bounds the text of an amount: far more digits than any
// real amount has, and short enough that parsing stays cheap (the parse
// takes time quadratic in the number of digits).
const maxAmountText = 100

// ParseAmount parses a decimal amount from its text. Provider JSON numbers are
// handed in as their literal text, so no precision is lost to float64.
func ParseAmount(s string) (decimal.Decimal, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return decimal.Decimal{}, errors.New("empty amount")
	}
	if len(t) > maxAmountText {
		return decimal.Decimal{}, fmt.Errorf("invalid amount %s: longer than %d characters", Quote(s), maxAmountText)
	}
	d, err := decimal.NewFromString(t)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("invalid amount %s", Quote(s))
	}
	return d, nil
}

// Amount returns the decimal amount.
func (m Money) Amount() decimal.Decimal { return m.amount }

// Currency returns the currency, empty for the zero value.
func (m Money) Currency() Currency { return m.currency }

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.amount.IsZero() }

// IsNegative reports whether the amount is below zero.
func (m Money) IsNegative() bool { return m.amount.IsNegative() }

// IsPositive reports whether the amount is above zero.
func (m Money) IsPositive() bool { return m.amount.IsPositive() }

func (m Money) common(o Money) (Currency, error) {
	switch {
	case m.currency == o.currency:
		return m.currency, nil
	case m.currency == "" && m.amount.IsZero():
		return o.currency, nil
	case o.currency == "" && o.amount.IsZero():
		return m.currency, nil
	}
	return "", fmt.Errorf("%w: %s and %s", ErrCurrencyMismatch, m.currency, o.currency)
}

// Add returns m+o. Adding different currencies is an error, never a silent sum.
func (m Money) Add(o Money) (Money, error) {
	c, err := m.common(o)
	if err != nil {
		return Money{}, err
	}
	return Money{amount: m.amount.Add(o.amount), currency: c}, nil
}

// Sub returns m-o, or an error when the currencies differ.
func (m Money) Sub(o Money) (Money, error) {
	c, err := m.common(o)
	if err != nil {
		return Money{}, err
	}
	return Money{amount: m.amount.Sub(o.amount), currency: c}, nil
}

// Cmp compares m and o: -1 if m < o, 0 if equal, +1 if m > o. Comparing
// different currencies is an error.
func (m Money) Cmp(o Money) (int, error) {
	if _, err := m.common(o); err != nil {
		return 0, err
	}
	return m.amount.Cmp(o.amount), nil
}

// Neg returns -m.
func (m Money) Neg() Money { return Money{amount: m.amount.Neg(), currency: m.currency} }

// String renders the amount rounded to cents with its currency code, for
// example "12.50 USD". Rounding happens here and only here.
func (m Money) String() string {
	if m.currency == "" {
		return m.amount.StringFixed(2)
	}
	return m.amount.StringFixed(2) + " " + string(m.currency)
}

// Display renders the amount for people: "$12.50", "-$0.40", "¥110.00";
// other currencies fall back to "12.50 EUR".
func (m Money) Display() string {
	var sym string
	switch m.currency {
	case "USD":
		sym = "$"
	case "CNY":
		sym = "¥"
	default:
		return m.String()
	}
	if m.amount.IsNegative() {
		return "-" + sym + m.amount.Neg().StringFixed(2)
	}
	return sym + m.amount.StringFixed(2)
}

// Exact renders the amount without rounding, for machine output.
func (m Money) Exact() string { return m.amount.String() }

// Round returns m rounded to places decimal places (half away from zero).
// Use it only for output: arithmetic keeps full precision.
func (m Money) Round(places int32) Money {
	return Money{amount: m.amount.Round(places), currency: m.currency}
}
