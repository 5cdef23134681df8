package history

import "github.com/guardd/guardd/internal/billing"

// Account bits, shared by account and autoRecharge so that a problem already
// reported for a field hides the one Account.Validate would repeat for it.
const (
	aName fields = 1 << iota
	aProvider
	aCurrency
	aDrawdown
	aAutoRecharge
	arEnabled
	arThreshold
	arMode
	arAmount
	arTarget
	arMonthlyLimit
	aMonthlyCap
	aAnchor
)

// validateBit maps an Account.Validate path to its field's bit.
func validateBit(path string) fields {
	switch path {
	case "name":
		return aName
	case "provider":
		return aProvider
	case "currency":
		return aCurrency
	case "drawdown":
		return aDrawdown
	case "auto_recharge.threshold":
		return arThreshold
	case "auto_recharge.mode":
		return arMode
	case "auto_recharge.amount":
		return arAmount
	case "auto_recharge.target":
		return arTarget
	case "auto_recharge.monthly_limit":
		return arMonthlyLimit
	case "monthly_cap":
		return aMonthlyCap
	case "balance_anchor.at":
		return aAnchor
	}
	return 0
}

// account reads the account object, sets the decoder's currency, and checks
// the result with billing.Account.Validate, prefixing its paths.
func (d *decoder) account(a *billing.Account) {
	if !d.object("account") {
		return
	}
	d.push("account")
	defer d.pop()
	var seen, bad fields // bad: fields with a problem already reported
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "name":
			if d.see(&seen, aName, "name") {
				var ok bool
				if a.Name, ok = d.str("name"); !ok {
					bad |= aName
				}
			}
		case "provider":
			if d.see(&seen, aProvider, "provider") {
				var ok bool
				if a.Provider, ok = d.str("provider"); !ok {
					bad |= aProvider
				}
			}
		case "currency":
			if d.see(&seen, aCurrency, "currency") {
				s, ok := d.str("currency")
				c, err := billing.ParseCurrency(s)
				switch {
				case !ok:
					bad |= aCurrency
				case err != nil:
					d.errorf("currency", "%v", err)
					bad |= aCurrency
					a.Currency = billing.Currency(s)
				default:
					a.Currency = c
				}
			}
		case "drawdown":
			if d.see(&seen, aDrawdown, "drawdown") {
				s, ok := d.str("drawdown")
				p, err := billing.ParseDrawdownPolicy(s)
				switch {
				case !ok:
					bad |= aDrawdown
				case err != nil:
					d.errorf("drawdown", "%v", err)
					bad |= aDrawdown
				default:
					a.Drawdown = p
				}
			}
		case "auto_recharge":
			if d.see(&seen, aAutoRecharge, "auto_recharge") {
				d.autoRecharge(&a.AutoRecharge, &bad)
			}
		case "monthly_cap":
			if d.see(&seen, aMonthlyCap, "monthly_cap") && !d.null() {
				var ok bool
				if a.MonthlyCap, ok = d.money("monthly_cap"); ok {
					a.HasMonthlyCap = true
				} else {
					bad |= aMonthlyCap
				}
			}
		case "balance_anchor":
			if d.see(&seen, aAnchor, "balance_anchor") && !d.null() {
				d.push("balance_anchor")
				var ok bool
				a.Anchor, ok = d.anchor()
				a.HasAnchor = true
				if !ok {
					bad |= aAnchor
				}
				d.pop()
			}
		default:
			d.unknown(key)
		}
	}
	for _, f := range []struct {
		bit fields
		key string
	}{{aName, "name"}, {aProvider, "provider"}, {aCurrency, "currency"}, {aDrawdown, "drawdown"}, {aAutoRecharge, "auto_recharge"}} {
		if seen&f.bit == 0 {
			d.errorf("", "missing required field %q", f.key)
			bad |= f.bit
		}
	}
	// The currency may follow auto_recharge in the object. Every amount,
	// given or not, is in the account currency.
	ar := &a.AutoRecharge
	for _, m := range []*billing.Money{&ar.Threshold, &ar.Amount, &ar.Target, &ar.MonthlyLimit, &a.MonthlyCap, &a.Anchor.Amount} {
		*m = billing.NewMoney(m.Amount(), a.Currency)
	}
	d.cur = a.Currency
	for _, fe := range a.Validate() {
		if bad&validateBit(fe.Path) == 0 {
			d.errorf(fe.Path, "%s", fe.Msg)
		}
	}
}

// autoRecharge reads the auto_recharge object, adding the fields it reports
// problems with to bad.
func (d *decoder) autoRecharge(ar *billing.AutoRecharge, bad *fields) {
	if !d.object("auto_recharge") {
		return
	}
	d.push("auto_recharge")
	defer d.pop()
	var seen, got fields // got: given, not null, and valid
	read := func(f fields, ok bool) {
		if ok {
			got |= f
		} else {
			*bad |= f
		}
	}
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "enabled":
			if d.see(&seen, arEnabled, "enabled") {
				var ok bool
				ar.Enabled, ok = d.boolean("enabled")
				read(arEnabled, ok)
			}
		case "threshold":
			if d.see(&seen, arThreshold, "threshold") && !d.null() {
				var ok bool
				ar.Threshold, ok = d.money("threshold")
				read(arThreshold, ok)
			}
		case "mode":
			if d.see(&seen, arMode, "mode") && !d.null() {
				s, ok := d.str("mode")
				if ok {
					m, err := billing.ParseRechargeMode(s)
					if err != nil {
						d.errorf("mode", "%v", err)
						ok = false
					}
					ar.Mode = m
				}
				read(arMode, ok)
			}
		case "amount":
			if d.see(&seen, arAmount, "amount") && !d.null() {
				var ok bool
				ar.Amount, ok = d.money("amount")
				read(arAmount, ok)
			}
		case "target":
			if d.see(&seen, arTarget, "target") && !d.null() {
				var ok bool
				ar.Target, ok = d.money("target")
				read(arTarget, ok)
			}
		case "monthly_limit":
			if d.see(&seen, arMonthlyLimit, "monthly_limit") && !d.null() {
				var ok bool
				ar.MonthlyLimit, ok = d.money("monthly_limit")
				ar.HasMonthlyLimit = ok
				read(arMonthlyLimit, ok)
			}
		default:
			d.unknown(key)
		}
	}
	need := func(f fields, key string) {
		if got&f == 0 && *bad&f == 0 {
			d.errorf("", "missing required field %q", key)
			*bad |= f
		}
	}
	need(arEnabled, "enabled")
	if !ar.Enabled {
		return
	}
	need(arThreshold, "threshold")
	need(arMode, "mode")
	switch ar.Mode {
	case billing.RechargeAdd:
		need(arAmount, "amount")
	case billing.RechargeRestore:
		need(arTarget, "target")
	}
}
