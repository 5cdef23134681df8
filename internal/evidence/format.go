package evidence

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func (p Pack) money(d decimal.Decimal) string {
	return billing.NewMoney(d, p.Account.Currency).Display()
}

// ref is a charge's invoice or receipt number, or how guardd knows of it.
func (c Charge) ref() string {
	if c.Ref != "" {
		return string(c.Origin) + " " + c.Ref
	}
	if c.GrantID != "" {
		return "none shown (inferred from credit grant " + c.GrantID + ")"
	}
	return "none shown (inferred from the balance)"
}

func (p Pack) findingNames(c Charge) string {
	names := make([]string, len(c.Cited))
	for i, n := range c.Cited {
		names[i] = fmt.Sprintf("%s (F%d)", p.Findings[n].Rule, n+1)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// totalLine sums the pack in a sentence.
func (p Pack) totalLine() string {
	t := p.Total
	credit := p.money(t.Credit)
	if t.AtLeast {
		credit = "at least " + credit
	}
	tax := p.money(t.Tax) + " of it tax"
	switch {
	case t.TaxUnshown == t.Charges:
		tax = "tax not shown"
	case t.TaxUnshown > 0:
		tax += fmt.Sprintf(", not shown for %d", t.TaxUnshown)
	}
	s := fmt.Sprintf("%s, %s charged (%s), %s became credit", billing.Count(t.Charges, "charge"), p.money(t.Amount), tax, credit)
	if t.NoCredit > 0 {
		s += fmt.Sprintf("; %s (%s) became no credit", billing.Count(t.NoCredit, "charge"), p.money(t.NoCreditPaid))
	}
	return s + "."
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

// WriteMarkdown writes the pack as Markdown: a heading, the period, a table
// of the charges, the totals and the findings cited.
func (p Pack) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	a := p.Account
	fmt.Fprintf(&b, "# Charges to review: %s (%s, %s)\n\n", a.Name, a.Provider, a.Currency)
	fmt.Fprintf(&b, "Period: %s to %s. Times are UTC; amounts include tax unless the column says otherwise.\n\n", day(p.Since), day(p.Until))
	if len(p.Charges) == 0 {
		b.WriteString("No charge in this period is cited by a finding.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| # | Paid at | Amount | Tax | Receipt or invoice | Source | Became | Findings |\n")
	b.WriteString("|---|---|---:|---:|---|---|---|---|\n")
	for i, c := range p.Charges {
		tax := p.money(c.Tax)
		if c.Origin == billing.ChargeInferred {
			tax = "not shown"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", i+1, day(c.At), p.money(c.Amount), tax, cell(c.ref()),
			cell(c.Source), cell(c.Became(a.Currency, p.GrantsSeen)), cell(p.findingNames(c)))
	}
	fmt.Fprintf(&b, "| | **Total** | **%s** | **%s** | | | | |\n\n", p.money(p.Total.Amount), p.money(p.Total.Tax))
	fmt.Fprintf(&b, "Total: %s\n", p.totalLine())
	if len(p.Findings) > 0 {
		b.WriteString("\nFindings (guardd's rules, evaluated on each poll):\n\n")
		for i, f := range p.Findings {
			fmt.Fprintf(&b, "- F%d `%s` (%s), first %s: %s\n", i+1, f.Rule, f.Severity, day(f.First), strings.TrimSpace(f.Summary))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{"paid_at", "amount", "tax", "currency", "origin", "reference", "source", "credit", "credit_at_least",
	"grant", "no_credit", "findings"}

// WriteCSV writes the pack as CSV: CSVHeader, a row per charge (amounts
// exact, times RFC 3339 UTC) and a last row of totals, whose paid_at is
// "total".
func (p Pack) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	for _, c := range p.Charges {
		rules := make([]string, len(c.Cited))
		for i, n := range c.Cited {
			rules[i] = p.Findings[n].Rule
		}
		cw.Write([]string{c.At.UTC().Format(time.RFC3339), c.Amount.String(), c.Tax.String(), string(p.Account.Currency),
			string(c.Origin), c.Ref, c.Source, c.Credit.String(), fmt.Sprint(c.AtLeast), c.GrantID, fmt.Sprint(c.NoCredit),
			strings.Join(rules, ";")})
	}
	t := p.Total
	cw.Write([]string{"total", t.Amount.String(), t.Tax.String(), string(p.Account.Currency), "", billing.Count(t.Charges, "charge"), "",
		t.Credit.String(), fmt.Sprint(t.AtLeast), "", fmt.Sprint(t.NoCredit), ""})
	cw.Flush()
	return cw.Error()
}
