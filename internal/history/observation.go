package history

import (
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// observations reads the observations array, checking that their times
// increase.
func (d *decoder) observations(account string) []billing.Observation {
	if !d.array("observations") {
		return nil
	}
	d.push("observations")
	defer d.pop()
	var (
		obs      []billing.Observation
		n        int
		prev     time.Time
		prevAtIx = -1
	)
	for ; d.s.more(']'); n++ {
		d.pushIndex(n)
		if d.object("") {
			obs = append(obs, billing.Observation{Account: account})
			o := &obs[len(obs)-1]
			if d.observation(o) {
				if prevAtIx >= 0 && !o.At.After(prev) {
					d.errorf("at", "%s is not after observations[%d].at %s", fmtTime(o.At), prevAtIx, fmtTime(prev))
				}
				prev, prevAtIx = o.At, n
			}
		}
		d.pop()
	}
	if n == 0 {
		d.errorf("", "must hold at least one observation")
	}
	return obs
}

// numParts is how many parts version 1 of the format knows: billing.Parts
// in that order. A test fails if billing grows a part the format lacks.
const numParts = 4

// partIndex returns the index in billing.Parts of the part named b, or -1.
func partIndex(b []byte) int {
	for i, p := range billing.Parts[:numParts] {
		if string(p) == string(b) {
			return i
		}
	}
	return -1
}

// override is one entry of an observation's "sources".
type override struct {
	set     bool
	source  string
	asOf    time.Time
	hasAsOf bool
}

// observation reads the members of an observation object already entered.
// It reports whether the observation's time is valid.
func (d *decoder) observation(o *billing.Observation) bool {
	const (
		oAt fields = 1 << iota
		oSource
		oSources
		oUnavailable
		oDerived
		oPart // oPart<<i is billing.Parts[i]
	)
	var (
		seen        fields
		atOK        bool
		source      string
		read        [numParts]bool // present and not null
		unavailable [numParts]string
		overrides   [numParts]override
	)
	for d.s.more('}') {
		key := d.s.key()
		switch string(key) {
		case "at":
			if d.see(&seen, oAt, "at") {
				o.At, atOK = d.time("at", false)
			}
		case "source":
			if d.see(&seen, oSource, "source") {
				source, _ = d.nonEmpty("source")
			}
		case "sources":
			if d.see(&seen, oSources, "sources") && !d.null() {
				d.sources(&overrides)
			}
		case "unavailable":
			if d.see(&seen, oUnavailable, "unavailable") && !d.null() {
				d.unavailable(&unavailable)
			}
		case "derived":
			if d.see(&seen, oDerived, "derived") && !d.null() {
				o.Derived = d.derived()
			}
		default:
			i := partIndex(key)
			if i < 0 {
				d.unknown(key)
				continue
			}
			if !d.see(&seen, oPart<<i, string(billing.Parts[i])) || d.null() {
				continue
			}
			read[i] = true
			switch billing.Parts[i] {
			case billing.PartBalance:
				d.balance(&o.Balance)
			case billing.PartGrants:
				o.Grants = d.grants()
			case billing.PartCharges:
				o.Charges = d.charges()
			case billing.PartCosts:
				o.Costs = d.costs()
			}
		}
	}
	d.require(seen, oAt, "at")
	d.require(seen, oSource, "source")

	for i, p := range billing.Parts[:numParts] {
		reason, ov := unavailable[i], overrides[i]
		switch {
		case read[i] && reason != "":
			d.errorf(string(p), "must be absent or null when listed in unavailable (%s)", billing.Quote(reason))
		case !read[i] && reason == "":
			if ov.set {
				d.errorf("sources."+string(p), "%s was neither read nor listed in unavailable", p)
			}
			continue
		}
		st := billing.PartStatus{Source: source, AsOf: o.At, Unavailable: reason}
		if ov.source != "" {
			st.Source = ov.source
		}
		if ov.hasAsOf {
			st.AsOf = ov.asOf
		}
		if o.Parts == nil {
			o.Parts = make(map[billing.Part]billing.PartStatus, len(billing.Parts))
		}
		o.Parts[p] = st
	}
	if len(o.Parts) == 0 {
		d.errorf("", "holds no part: want at least one of balance, grants, charges or costs, or a part in unavailable")
	}
	return atOK
}

// derived reads the balance guardd derived from an anchor.
func (d *decoder) derived() *billing.DerivedBalance {
	if !d.object("derived") {
		return nil
	}
	d.push("derived")
	defer d.pop()
	const (
		dEffective fields = 1 << iota
		dAnchor
	)
	var seen fields
	b := &billing.DerivedBalance{}
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "effective":
			if d.see(&seen, dEffective, "effective") {
				b.Effective, _ = d.money("effective")
			}
		case "anchor":
			if d.see(&seen, dAnchor, "anchor") {
				b.Anchor, _ = d.anchor()
			}
		default:
			d.unknown(key)
		}
	}
	d.require(seen, dEffective, "effective")
	d.require(seen, dAnchor, "anchor")
	return b
}

// anchor reads a balance anchor: the amount and when it was seen. ok is
// false when either is missing or invalid.
func (d *decoder) anchor() (billing.BalanceAnchor, bool) {
	var a billing.BalanceAnchor
	if !d.object("anchor") {
		return a, false
	}
	const (
		nAmount fields = 1 << iota
		nAt
	)
	var seen, got fields
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "amount":
			if d.see(&seen, nAmount, "amount") {
				var ok bool
				if a.Amount, ok = d.money("amount"); ok {
					got |= nAmount
				}
			}
		case "at":
			if d.see(&seen, nAt, "at") {
				var ok bool
				if a.At, ok = d.time("at", false); ok {
					got |= nAt
				}
			}
		default:
			d.unknown(key)
		}
	}
	d.require(seen, nAmount, "amount")
	d.require(seen, nAt, "at")
	return a, got == nAmount|nAt
}

// partKey reads an object key naming a part, reporting an unknown one.
func (d *decoder) partKey(seen *fields) (int, bool) {
	key := d.s.key()
	i := partIndex(key)
	if i < 0 {
		_, err := billing.ParsePart(string(key))
		d.errorf("", "%v", err)
		d.s.skip()
		return 0, false
	}
	return i, d.see(seen, 1<<i, string(billing.Parts[i]))
}

func (d *decoder) sources(ovs *[numParts]override) {
	if !d.object("sources") {
		return
	}
	d.push("sources")
	defer d.pop()
	var seen fields
	for d.s.more('}') {
		i, ok := d.partKey(&seen)
		if !ok || d.null() {
			continue
		}
		name := string(billing.Parts[i])
		ov := &ovs[i]
		ov.set = true
		if !d.object(name) {
			continue
		}
		d.push(name)
		const (
			sSource fields = 1 << iota
			sAsOf
		)
		var seen fields
		for d.s.more('}') {
			switch key := d.s.key(); string(key) {
			case "source":
				if d.see(&seen, sSource, "source") && !d.null() {
					ov.source, _ = d.nonEmpty("source")
				}
			case "as_of":
				if d.see(&seen, sAsOf, "as_of") && !d.null() {
					ov.asOf, ov.hasAsOf = d.time("as_of", false)
				}
			default:
				d.unknown(key)
			}
		}
		d.pop()
	}
}

func (d *decoder) unavailable(reasons *[numParts]string) {
	if !d.object("unavailable") {
		return
	}
	d.push("unavailable")
	defer d.pop()
	var seen fields
	for d.s.more('}') {
		if i, ok := d.partKey(&seen); ok {
			reasons[i], _ = d.nonEmpty(string(billing.Parts[i]))
		}
	}
}

func (d *decoder) balance(b *billing.Balance) {
	if !d.object("balance") {
		return
	}
	d.push("balance")
	defer d.pop()
	const (
		bShown fields = 1 << iota
		bGranted
		bPaid
	)
	var seen, given fields
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "shown":
			if d.see(&seen, bShown, "shown") {
				b.Shown, _ = d.money("shown")
			}
		case "granted":
			if d.see(&seen, bGranted, "granted") && !d.null() {
				given |= bGranted
				b.Granted, _ = d.money("granted")
			}
		case "paid":
			if d.see(&seen, bPaid, "paid") && !d.null() {
				given |= bPaid
				b.Paid, _ = d.money("paid")
			}
		default:
			d.unknown(key)
		}
	}
	d.require(seen, bShown, "shown")
	switch given {
	case bGranted | bPaid:
		b.HasSplit = true
	case bGranted:
		d.errorf("", "granted and paid must be given together (paid is missing)")
	case bPaid:
		d.errorf("", "granted and paid must be given together (granted is missing)")
	}
}

// nonNegative reports a negative amount.
func (d *decoder) nonNegative(field string, m billing.Money) {
	if m.IsNegative() {
		d.errorf(field, "must not be negative (got %s)", formatAmount(m.Amount()))
	}
}

func (d *decoder) grants() []billing.Grant {
	if !d.array("grants") {
		return nil
	}
	d.push("grants")
	defer d.pop()
	buf := d.grantBuf[:0]
	for i := 0; d.s.more(']'); i++ {
		d.pushIndex(i)
		buf = append(buf, billing.Grant{})
		if d.object("") {
			d.grant(&buf[i])
		}
		d.pop()
	}
	d.grantBuf = buf
	d.duplicateIDs("grants", len(buf), func(i int) string { return buf[i].ID })
	return append([]billing.Grant(nil), buf...)
}

func (d *decoder) grant(g *billing.Grant) {
	const (
		gID fields = 1 << iota
		gAmount
		gUsed
		gEffectiveAt
		gExpiresAt
		gKind
		gKindGuess
	)
	var (
		seen      fields
		ok, effOK bool
		expOK     bool
	)
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "id":
			if d.see(&seen, gID, "id") {
				g.ID, _ = d.nonEmpty("id")
			}
		case "amount":
			if d.see(&seen, gAmount, "amount") {
				if g.Amount, ok = d.money("amount"); ok {
					d.nonNegative("amount", g.Amount)
				}
			}
		case "used":
			if d.see(&seen, gUsed, "used") {
				if g.Used, ok = d.money("used"); ok {
					d.nonNegative("used", g.Used)
				}
			}
		case "effective_at":
			if d.see(&seen, gEffectiveAt, "effective_at") {
				g.EffectiveAt, effOK = d.time("effective_at", true)
			}
		case "expires_at":
			if d.see(&seen, gExpiresAt, "expires_at") && !d.null() {
				g.ExpiresAt, expOK = d.time("expires_at", true)
			}
		case "kind":
			if d.see(&seen, gKind, "kind") && !d.null() {
				if s, ok := d.str("kind"); ok {
					k, err := billing.ParseGrantKind(s)
					if err != nil {
						d.errorf("kind", "%v", err)
					}
					g.Kind = k
				}
			}
		case "kind_guess":
			if d.see(&seen, gKindGuess, "kind_guess") && !d.null() {
				g.KindGuess, _ = d.nonEmpty("kind_guess")
			}
		default:
			d.unknown(key)
		}
	}
	d.require(seen, gID, "id")
	d.require(seen, gAmount, "amount")
	d.require(seen, gUsed, "used")
	d.require(seen, gEffectiveAt, "effective_at")
	if g.Kind == "" {
		g.Kind = billing.GrantUnknown
	}
	if effOK && expOK && !g.ExpiresAt.After(g.EffectiveAt) {
		d.errorf("expires_at", "%s is not after effective_at %s", fmtTime(g.ExpiresAt), fmtTime(g.EffectiveAt))
	}
}

func (d *decoder) charges() []billing.Charge {
	if !d.array("charges") {
		return nil
	}
	d.push("charges")
	defer d.pop()
	buf := d.chargeBuf[:0]
	for i := 0; d.s.more(']'); i++ {
		d.pushIndex(i)
		buf = append(buf, billing.Charge{})
		if d.object("") {
			d.charge(&buf[i])
		}
		d.pop()
	}
	d.chargeBuf = buf
	d.duplicateIDs("charges", len(buf), func(i int) string { return buf[i].ID })
	return append([]billing.Charge(nil), buf...)
}

func (d *decoder) charge(c *billing.Charge) {
	const (
		cID fields = 1 << iota
		cPaidAt
		cAmount
		cTax
		cCurrency
		cOrigin
		cTrigger
	)
	var (
		seen            fields
		amountOK, taxOK bool
	)
	c.Tax = billing.NewMoney(decimal.Zero, d.cur)
	c.Trigger = billing.TriggerUnknown
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "id":
			if d.see(&seen, cID, "id") {
				c.ID, _ = d.nonEmpty("id")
			}
		case "paid_at":
			if d.see(&seen, cPaidAt, "paid_at") {
				c.PaidAt, _ = d.time("paid_at", true)
			}
		case "amount":
			if d.see(&seen, cAmount, "amount") {
				if c.Amount, amountOK = d.money("amount"); amountOK && !c.Amount.IsPositive() {
					d.errorf("amount", "must be greater than 0 (got %s)", formatAmount(c.Amount.Amount()))
					amountOK = false
				}
			}
		case "tax":
			if d.see(&seen, cTax, "tax") && !d.null() {
				if c.Tax, taxOK = d.money("tax"); taxOK && c.Tax.IsNegative() {
					d.errorf("tax", "must not be negative (got %s)", formatAmount(c.Tax.Amount()))
					taxOK = false
				}
			}
		case "currency":
			if d.see(&seen, cCurrency, "currency") && !d.null() {
				if s, ok := d.str("currency"); ok {
					cur, err := billing.ParseCurrency(s)
					switch {
					case err != nil:
						d.errorf("currency", "%v", err)
					case cur != d.cur:
						d.errorf("currency", "%s differs from the account currency %q", billing.Quote(s), d.cur)
					}
				}
			}
		case "origin":
			if d.see(&seen, cOrigin, "origin") {
				if s, ok := d.str("origin"); ok {
					o, err := billing.ParseChargeOrigin(s)
					if err != nil {
						d.errorf("origin", "%v", err)
					}
					c.Origin = o
				}
			}
		case "trigger":
			if d.see(&seen, cTrigger, "trigger") && !d.null() {
				if s, ok := d.str("trigger"); ok {
					t, err := billing.ParseChargeTrigger(s)
					if err != nil {
						d.errorf("trigger", "%v", err)
					}
					c.Trigger = t
				}
			}
		default:
			d.unknown(key)
		}
	}
	d.require(seen, cID, "id")
	d.require(seen, cPaidAt, "paid_at")
	d.require(seen, cAmount, "amount")
	d.require(seen, cOrigin, "origin")
	if amountOK && taxOK && c.Tax.Amount().GreaterThan(c.Amount.Amount()) {
		d.errorf("tax", "%s exceeds the amount %s", formatAmount(c.Tax.Amount()), formatAmount(c.Amount.Amount()))
	}
}

func (d *decoder) costs() []billing.CostBucket {
	if !d.array("costs") {
		return nil
	}
	d.push("costs")
	defer d.pop()
	buf := d.costBuf[:0]
	for i := 0; d.s.more(']'); i++ {
		d.pushIndex(i)
		buf = append(buf, billing.CostBucket{})
		if d.object("") {
			d.cost(&buf[i])
		}
		d.pop()
	}
	d.costBuf = buf
	return append([]billing.CostBucket(nil), buf...)
}

func (d *decoder) cost(b *billing.CostBucket) {
	const (
		kStart fields = 1 << iota
		kEnd
		kAmount
		kSettled
	)
	var (
		seen               fields
		ok, startOK, endOK bool
	)
	for d.s.more('}') {
		switch key := d.s.key(); string(key) {
		case "start":
			if d.see(&seen, kStart, "start") {
				b.Start, startOK = d.time("start", true)
			}
		case "end":
			if d.see(&seen, kEnd, "end") {
				b.End, endOK = d.time("end", true)
			}
		case "amount":
			if d.see(&seen, kAmount, "amount") {
				if b.Amount, ok = d.money("amount"); ok {
					d.nonNegative("amount", b.Amount)
				}
			}
		case "settled":
			if d.see(&seen, kSettled, "settled") {
				b.Settled, _ = d.boolean("settled")
			}
		default:
			d.unknown(key)
		}
	}
	d.require(seen, kStart, "start")
	d.require(seen, kEnd, "end")
	d.require(seen, kAmount, "amount")
	d.require(seen, kSettled, "settled")
	if startOK && endOK && !b.End.After(b.Start) {
		d.errorf("end", "%s is not after start %s", fmtTime(b.End), fmtTime(b.Start))
	}
}

// duplicateIDs reports every id of the n elements of array name that
// repeats an earlier one; empty ids were reported already.
func (d *decoder) duplicateIDs(name string, n int, id func(int) string) {
	report := func(i, j int) {
		d.pushIndex(i)
		d.errorf("id", "duplicate id %s (also %s[%d])", billing.Quote(id(i)), name, j)
		d.pop()
	}
	if n <= 32 {
		// The usual case: a few grants or charges, no map needed.
		for i := 1; i < n; i++ {
			v := id(i)
			for j := 0; j < i && v != ""; j++ {
				if id(j) == v {
					report(i, j)
					break
				}
			}
		}
		return
	}
	seen := make(map[string]int, n)
	for i := 0; i < n; i++ {
		v := id(i)
		if v == "" {
			continue
		}
		if j, dup := seen[v]; dup {
			report(i, j)
			continue
		}
		seen[v] = i
	}
}
