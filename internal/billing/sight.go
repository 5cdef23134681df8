package billing

import "strings"

// Sight is what guardd can see of an account as configured: which data its
// source reads, and, for what it cannot see, why. Rules need some of it
// (rules.Rule.Sees); a rule whose data guardd cannot see is off for the
// account, and guardd says so rather than going quiet.
type Sight struct {
	// Costs: the provider's cost reports.
	Costs bool
	// Charges: charges as the provider or its receipts state them;
	// Receipts: from receipt emails.
	Charges, Receipts bool
	// Recharges: recharges are visible, stated (Charges) or inferred from
	// new credit (a grant list, a paid balance, credits bought).
	Recharges bool
	// Balance: the balance the provider shows.
	Balance bool
	// Split: the provider shows granted and paid credit apart.
	Split bool
	// Grants: the provider lists its credit grants.
	Grants bool
	// Derived: guardd derives the balance from the account's anchor.
	Derived bool
	// Why says why a datum is not seen, keyed by its word in String:
	// "costs", "charges", "balance", "grants".
	Why map[string]string
}

// Effective reports whether the effective balance is known: from grants,
// the provider's balance, or derived.
func (s Sight) Effective() bool { return s.Grants || s.Balance || s.Derived }

// Not records why a datum is not seen.
func (s *Sight) Not(what, why string) {
	if s.Why == nil {
		s.Why = make(map[string]string)
	}
	s.Why[what] = why
}

// String summarises the sight: "costs ✓ charges ✗ (no receipts mailbox)
// balance derived grants ✗ (no session key)".
func (s Sight) String() string {
	var b strings.Builder
	item := func(what string, seen bool, word string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(what)
		switch {
		case word != "":
			b.WriteString(" " + word)
		case seen:
			b.WriteString(" ✓")
		default:
			b.WriteString(" ✗")
			if why := s.Why[what]; why != "" {
				b.WriteString(" (" + why + ")")
			}
		}
	}
	item("costs", s.Costs, "")
	charges := ""
	switch {
	case s.Receipts:
		charges = "✓ (receipts)"
	case !s.Charges && s.Recharges:
		charges = "inferred"
	}
	item("charges", s.Charges, charges)
	balance := ""
	if s.Derived && !s.Balance {
		balance = "derived"
	}
	item("balance", s.Balance, balance)
	item("grants", s.Grants, "")
	return b.String()
}
