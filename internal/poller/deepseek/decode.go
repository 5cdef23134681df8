package deepseek

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller/provider"
)

// balanceDoc is GET /user/balance. Unknown fields are ignored.
type balanceDoc struct {
	// IsAvailable is whether the account has balance available for API
	// calls; absent is taken for true.
	IsAvailable  *bool `json:"is_available"`
	BalanceInfos *[]struct {
		Currency        *string         `json:"currency"`
		TotalBalance    provider.Number `json:"total_balance"`
		GrantedBalance  provider.Number `json:"granted_balance"`
		ToppedUpBalance provider.Number `json:"topped_up_balance"`
	} `json:"balance_infos"`
}

// currencyMissingError is a balance answer without the account's currency:
// the config names the wrong currency, or the account has none in it yet.
type currencyMissingError struct {
	want billing.Currency
	seen []string
}

func (e *currencyMissingError) Error() string {
	if len(e.seen) == 0 {
		return fmt.Sprintf("configuration problem: the account has no balance in %s (balance_infos is empty); check the account's currency", e.want)
	}
	return fmt.Sprintf("configuration problem: the account has no balance in %s, only in %s; set the account's currency to the one you top up in",
		e.want, strings.Join(e.seen, ", "))
}

// errNotAvailable is a balance answer saying is_available: false. DeepSeek
// then vouches for no figure, so the balance part is unavailable with this
// reason, not read as whatever the answer lists.
var errNotAvailable = errors.New("is_available is false: DeepSeek says the account has no balance available for API calls")

// decodeBalance reads the balance in currency cur: total, granted and
// topped-up, all decimal strings. Another currency's entry is ignored once
// its currency code is valid. An answer without the account's currency is a
// *currencyMissingError, one saying is_available: false errNotAvailable.
func decodeBalance(body []byte, cur billing.Currency) (billing.Balance, error) {
	var d balanceDoc
	if err := provider.DecodeJSON(body, &d); err != nil {
		return billing.Balance{}, err
	}
	if d.BalanceInfos == nil {
		return billing.Balance{}, errors.New(`field "balance_infos" is missing`)
	}
	var seen []string
	found := -1
	for i, b := range *d.BalanceInfos {
		at := fmt.Sprintf("balance_infos[%d]", i)
		if b.Currency == nil {
			return billing.Balance{}, fmt.Errorf("%s.currency is missing", at)
		}
		c, err := billing.ParseCurrency(*b.Currency)
		if err != nil {
			return billing.Balance{}, fmt.Errorf("%s.currency: %v", at, err)
		}
		if c == cur {
			if found >= 0 {
				return billing.Balance{}, fmt.Errorf("%s: a second balance in %s", at, c)
			}
			found = i
		} else if !slices.Contains(seen, string(c)) {
			seen = append(seen, string(c))
		}
	}
	if found < 0 {
		return billing.Balance{}, &currencyMissingError{want: cur, seen: seen}
	}
	if d.IsAvailable != nil && !*d.IsAvailable {
		return billing.Balance{}, errNotAvailable
	}
	b := (*d.BalanceInfos)[found]
	at := fmt.Sprintf("balance_infos[%d]", found)
	total, err := b.TotalBalance.NonNegative(at + ".total_balance")
	if err != nil {
		return billing.Balance{}, err
	}
	granted, err := b.GrantedBalance.NonNegative(at + ".granted_balance")
	if err != nil {
		return billing.Balance{}, err
	}
	paid, err := b.ToppedUpBalance.NonNegative(at + ".topped_up_balance")
	if err != nil {
		return billing.Balance{}, err
	}
	return billing.Balance{
		Shown:    billing.NewMoney(total, cur),
		HasSplit: true,
		Granted:  billing.NewMoney(granted, cur),
		Paid:     billing.NewMoney(paid, cur),
	}, nil
}
