package receipt

import (
	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

var (
	endingInRE   = pattern(`(?i)\bending (?:in|with)\s+(\d{4})(.{0,2})`)
	fundRE       = pattern(`(?i)\bto fund your openai api\b|\bcredit balance\b`)
	orgRE        = pattern(`(?i)\borganization:\s*(\S(?:[^()]{0,78}\S)?)\s*\((org-[A-Za-z0-9]{4,64})\)`)
	autoNoticeRE = pattern(`(?i)\bauto[- ]?(?:recharge|reload)|\bautomatic(?:ally)? (?:recharge|reload|top[- ]?up)|\bbalance (?:fell|dropped) below\b`)
)

// readFunded reads one rendition of OpenAI's "Your OpenAI API account has
// been funded" notice: "We charged $10.00 to your credit card ending in 4242
// to fund your OpenAI API credit balance." It prints no receipt number, no
// date and no tax.
func readFunded(text string) (reading, *problem) {
	rd := reading{layout: LayoutOpenAIFunded}
	ls, p := readAmounts(text)
	if p != nil {
		return rd, p
	}
	amt, ok, p := one(ls, labelCharged, "We charged")
	if p != nil {
		return rd, p
	}
	if !ok {
		return rd, missing("no charged amount")
	}
	if !amt.IsPositive() {
		return rd, conflict("charged amount %s is not positive", amt.Display())
	}
	rd.amount = amt
	rd.tax = billing.NewMoney(decimal.Zero, amt.Currency())
	rd.credit = amt
	for _, m := range endingInRE().FindAllStringSubmatch(text, 4) {
		if !endsCardNumber(m[2]) {
			continue
		}
		if rd.last4 != "" && rd.last4 != m[1] {
			return rd, conflict("two different cards")
		}
		rd.last4, rd.method = m[1], "card"
	}
	if m := orgRE().FindStringSubmatch(text); m != nil {
		rd.org, rd.orgID = m[1], m[2]
	}
	rd.fund = fundRE().MatchString(text)
	rd.auto = autoNoticeRE().MatchString(text)
	return rd, nil
}
