package billing

import (
	"fmt"
	"time"
)

// RechargeMode says how an auto-recharge decides how much to buy.
type RechargeMode string

const (
	// RechargeAdd buys a fixed amount each time (OpenAI's 2023 wording).
	RechargeAdd RechargeMode = "add"
	// RechargeRestore buys whatever restores the balance to a target (OpenAI
	// and Anthropic today).
	RechargeRestore RechargeMode = "restore"
)

// ParseRechargeMode accepts "add" or "restore".
func ParseRechargeMode(s string) (RechargeMode, error) {
	switch m := RechargeMode(s); m {
	case RechargeAdd, RechargeRestore:
		return m, nil
	}
	return "", fmt.Errorf("unknown auto-recharge mode %s: want add or restore", Quote(s))
}

// DrawdownPolicy is the order in which the provider says credit is consumed.
type DrawdownPolicy string

const (
	// DrawdownExpiringFirst consumes the grant that expires soonest first
	// (OpenAI documents this).
	DrawdownExpiringFirst DrawdownPolicy = "expiring-first"
	// DrawdownGrantsFirst consumes granted (free) credit before paid credit
	// (DeepSeek documents this).
	DrawdownGrantsFirst DrawdownPolicy = "grants-first"
)

// ParseDrawdownPolicy accepts "expiring-first" or "grants-first".
func ParseDrawdownPolicy(s string) (DrawdownPolicy, error) {
	switch p := DrawdownPolicy(s); p {
	case DrawdownExpiringFirst, DrawdownGrantsFirst:
		return p, nil
	}
	return "", fmt.Errorf("unknown drawdown policy %s: want expiring-first or grants-first", Quote(s))
}

// AutoRecharge is the account's auto-recharge setting as the user configured
// it at the provider. guardd cannot read it from any provider API, so the user
// tells guardd.
type AutoRecharge struct {
	Enabled bool
	// Threshold: a recharge is due when the balance falls below it.
	Threshold Money
	Mode      RechargeMode
	// Amount is bought each time in RechargeAdd mode.
	Amount Money
	// Target is the balance restored to in RechargeRestore mode.
	Target Money
	// MonthlyLimit is the provider's own monthly recharge limit; zero
	// (HasMonthlyLimit false) when none is set.
	MonthlyLimit    Money
	HasMonthlyLimit bool
}

// Account is one provider account that guardd watches.
type Account struct {
	Name         string
	Provider     string
	Currency     Currency
	AutoRecharge AutoRecharge
	Drawdown     DrawdownPolicy
	// MonthlyCap is the most the user wants recharged in a calendar month,
	// set in guardd (not at the provider); HasMonthlyCap false means none.
	MonthlyCap    Money
	HasMonthlyCap bool
	// Anchor, when HasAnchor, is a balance the user read off the provider's
	// console, for a provider whose API shows none (Anthropic; OpenAI with
	// an admin key only): guardd derives the balance from it.
	Anchor    BalanceAnchor
	HasAnchor bool
}

// BalanceAnchor is a balance seen at a moment: guardd derives later
// balances as the anchor, plus the credit of every recharge since, minus
// the costs reported since.
type BalanceAnchor struct {
	Amount Money
	At     time.Time
}

// FieldError is a problem with one field of some input, named by its path
// (for example "accounts[1].auto_recharge.threshold") and showing the value.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Validate checks the account's settings and returns every problem, each
// naming its field relative to the account ("auto_recharge.threshold"); the
// caller prefixes the path to the account.
func (a Account) Validate() []*FieldError {
	var errs []*FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if a.Name == "" {
		add("name", "must not be empty")
	}
	if a.Provider == "" {
		add("provider", "must not be empty")
	}
	if c, err := ParseCurrency(string(a.Currency)); err != nil || c != a.Currency {
		add("currency", "invalid currency %s: want a three-letter ISO 4217 code", Quote(a.Currency))
	}
	if _, err := ParseDrawdownPolicy(string(a.Drawdown)); err != nil {
		add("drawdown", "%v", err)
	}
	if a.HasAnchor && a.Anchor.At.IsZero() {
		add("balance_anchor.at", "is required: when the console showed the amount")
	}
	if a.HasMonthlyCap && !a.MonthlyCap.IsPositive() {
		add("monthly_cap", "must be greater than 0 (got %s)", a.MonthlyCap.Exact())
	}
	ar := a.AutoRecharge
	if !ar.Enabled {
		return errs
	}
	if ar.Threshold.IsNegative() {
		add("auto_recharge.threshold", "must not be negative (got %s)", ar.Threshold.Exact())
	}
	switch ar.Mode {
	case RechargeAdd:
		if !ar.Amount.IsPositive() {
			add("auto_recharge.amount", "must be greater than 0 in add mode (got %s)", ar.Amount.Exact())
		}
		if !ar.Target.IsZero() {
			add("auto_recharge.target", "only applies in restore mode (got %s with mode add)", ar.Target.Exact())
		}
	case RechargeRestore:
		if ar.Target.Amount().Cmp(ar.Threshold.Amount()) <= 0 {
			add("auto_recharge.target", "must be greater than the threshold %s in restore mode (got %s)",
				ar.Threshold.Exact(), ar.Target.Exact())
		}
		if !ar.Amount.IsZero() {
			add("auto_recharge.amount", "only applies in add mode (got %s with mode restore)", ar.Amount.Exact())
		}
	default:
		add("auto_recharge.mode", "unknown auto-recharge mode %s: want add or restore", Quote(ar.Mode))
	}
	if ar.HasMonthlyLimit && !ar.MonthlyLimit.IsPositive() {
		add("auto_recharge.monthly_limit", "must be greater than 0 (got %s)", ar.MonthlyLimit.Exact())
	}
	return errs
}
