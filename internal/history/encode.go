package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

// Encode writes f as a history file in its canonical form: indented JSON
// with keys in a fixed order, amounts with at least two decimal places and
// times in UTC. Decode(Encode(f)) equals f for every f that Decode returns.
//
// Encode does not validate f (Decode does); it fails only on what the format
// cannot hold: an unknown part, a part without a source, an observation
// with no parts, or money in a currency other than the account's.
func Encode(w io.Writer, f *File) error {
	if f == nil {
		return fmt.Errorf("encode history: nil file")
	}
	a := f.Account
	ar := a.AutoRecharge
	wf := wireFile{
		Format:  Format,
		Version: Version,
		Account: wireAccount{
			Name:     a.Name,
			Provider: a.Provider,
			Currency: string(a.Currency),
			Drawdown: string(a.Drawdown),
			AutoRecharge: wireAutoRecharge{
				Enabled: ar.Enabled,
				Mode:    string(ar.Mode),
			},
		},
		Observations: make([]wireObservation, len(f.Observations)),
	}
	war := &wf.Account.AutoRecharge
	e := encoder{cur: a.Currency}
	// Write the amounts the mode needs even when zero, so that the file
	// decodes; write the others only when set.
	if ar.Enabled || !ar.Threshold.IsZero() {
		war.Threshold = e.amount("account.auto_recharge.threshold", ar.Threshold)
	}
	if ar.Enabled && ar.Mode == billing.RechargeAdd || !ar.Amount.IsZero() {
		war.Amount = e.amount("account.auto_recharge.amount", ar.Amount)
	}
	if ar.Enabled && ar.Mode == billing.RechargeRestore || !ar.Target.IsZero() {
		war.Target = e.amount("account.auto_recharge.target", ar.Target)
	}
	if ar.HasMonthlyLimit {
		war.MonthlyLimit = e.amount("account.auto_recharge.monthly_limit", ar.MonthlyLimit)
	}
	if a.HasMonthlyCap {
		wf.Account.MonthlyCap = e.amount("account.monthly_cap", a.MonthlyCap)
	}
	if a.HasAnchor {
		wf.Account.BalanceAnchor = e.anchor("account.balance_anchor.", a.Anchor)
	}
	for i, o := range f.Observations {
		e.prefix = "observations[" + strconv.Itoa(i) + "]."
		wf.Observations[i] = e.observation(o)
	}
	if e.err != nil {
		return fmt.Errorf("encode history: %w", e.err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(wf); err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// EncodeObservation returns o in the wire form of a history file's
// observations, as compact JSON. All its money must be in one currency,
// which the charges name. DecodeObservation reads it back.
func EncodeObservation(o billing.Observation) ([]byte, error) {
	e := encoder{cur: currencyOf(o)}
	w := e.observation(o)
	if e.err != nil {
		return nil, fmt.Errorf("encode observation: %w", e.err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode observation: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// The wire form. Field order here is the key order in the file.
type (
	wireFile struct {
		Format       string            `json:"format"`
		Version      int               `json:"version"`
		Account      wireAccount       `json:"account"`
		Observations []wireObservation `json:"observations"`
	}
	wireAccount struct {
		Name          string           `json:"name"`
		Provider      string           `json:"provider"`
		Currency      string           `json:"currency"`
		Drawdown      string           `json:"drawdown"`
		AutoRecharge  wireAutoRecharge `json:"auto_recharge"`
		MonthlyCap    string           `json:"monthly_cap,omitempty"`
		BalanceAnchor *wireAnchor      `json:"balance_anchor,omitempty"`
	}
	wireAnchor struct {
		Amount string `json:"amount"`
		At     string `json:"at"`
	}
	wireDerived struct {
		Effective string      `json:"effective"`
		Anchor    *wireAnchor `json:"anchor"`
	}
	wireAutoRecharge struct {
		Enabled      bool   `json:"enabled"`
		Threshold    string `json:"threshold,omitempty"`
		Mode         string `json:"mode,omitempty"`
		Amount       string `json:"amount,omitempty"`
		Target       string `json:"target,omitempty"`
		MonthlyLimit string `json:"monthly_limit,omitempty"`
	}
	wireObservation struct {
		At          string            `json:"at"`
		Source      string            `json:"source"`
		Balance     *wireBalance      `json:"balance,omitempty"`
		Grants      []wireGrant       `json:"grants,omitzero"` // [] when read and empty
		Charges     []wireCharge      `json:"charges,omitzero"`
		Costs       []wireCost        `json:"costs,omitzero"`
		Sources     wireSources       `json:"sources,omitzero"`
		Unavailable map[string]string `json:"unavailable,omitempty"`
		Derived     *wireDerived      `json:"derived,omitempty"`
	}
	wireBalance struct {
		Shown   string `json:"shown"`
		Granted string `json:"granted,omitempty"`
		Paid    string `json:"paid,omitempty"`
	}
	wireGrant struct {
		ID          string  `json:"id"`
		Amount      string  `json:"amount"`
		Used        string  `json:"used"`
		EffectiveAt string  `json:"effective_at"`
		ExpiresAt   *string `json:"expires_at"` // null: never expires
		Kind        string  `json:"kind"`
		KindGuess   string  `json:"kind_guess,omitempty"`
	}
	wireCharge struct {
		ID       string `json:"id"`
		PaidAt   string `json:"paid_at"`
		Amount   string `json:"amount"`
		Tax      string `json:"tax"`
		Currency string `json:"currency,omitempty"`
		Origin   string `json:"origin"`
		Trigger  string `json:"trigger"`
	}
	wireCost struct {
		Start   string `json:"start"`
		End     string `json:"end"`
		Amount  string `json:"amount"`
		Settled bool   `json:"settled"`
	}
	// wireSources holds the parts whose source or as_of differ from the
	// observation's, in the order of billing.Parts.
	wireSources struct {
		Balance *wireSource `json:"balance,omitempty"`
		Grants  *wireSource `json:"grants,omitempty"`
		Charges *wireSource `json:"charges,omitempty"`
		Costs   *wireSource `json:"costs,omitempty"`
	}
	wireSource struct {
		Source string `json:"source,omitempty"`
		AsOf   string `json:"as_of,omitempty"`
	}
)

func (s *wireSources) set(p billing.Part, ws *wireSource) {
	switch p {
	case billing.PartBalance:
		s.Balance = ws
	case billing.PartGrants:
		s.Grants = ws
	case billing.PartCharges:
		s.Charges = ws
	case billing.PartCosts:
		s.Costs = ws
	}
}

// encoder converts domain values to the wire form, keeping the first value
// the format cannot hold.
type encoder struct {
	cur    billing.Currency // every amount's currency; empty: not known
	prefix string           // path of the current observation, for errors
	err    error
}

func (e *encoder) fail(path, format string, args ...any) {
	if e.err == nil {
		e.err = &billing.FieldError{Path: e.prefix + path, Msg: fmt.Sprintf(format, args...)}
	}
}

func (e *encoder) amount(path string, m billing.Money) string {
	if c := m.Currency(); c != "" && e.cur != "" && c != e.cur {
		e.fail(path, "%s is in %s, not the account currency %s", m.Exact(), c, e.cur)
	}
	return formatAmount(m.Amount())
}

// formatAmount renders d exactly, with at least two decimal places.
func formatAmount(d decimal.Decimal) string {
	places := max(-d.Exponent(), 2)
	s := d.StringFixed(places) // exact: places covers every digit
	end := len(s)
	dot := strings.IndexByte(s, '.')
	for end > dot+3 && s[end-1] == '0' {
		end--
	}
	return s[:end]
}

// currencyOf returns the currency of the first amount in o that has one.
func currencyOf(o billing.Observation) billing.Currency {
	ms := []billing.Money{o.Balance.Shown, o.Balance.Granted, o.Balance.Paid}
	for _, g := range o.Grants {
		ms = append(ms, g.Amount, g.Used)
	}
	for _, c := range o.Charges {
		ms = append(ms, c.Amount, c.Tax)
	}
	for _, c := range o.Costs {
		ms = append(ms, c.Amount)
	}
	if o.Derived != nil {
		ms = append(ms, o.Derived.Effective)
	}
	for _, m := range ms {
		if c := m.Currency(); c != "" {
			return c
		}
	}
	return ""
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// anchor renders a balance anchor; path prefixes its fields in errors.
func (e *encoder) anchor(path string, a billing.BalanceAnchor) *wireAnchor {
	return &wireAnchor{Amount: e.amount(path+"amount", a.Amount), At: formatTime(a.At)}
}

func (e *encoder) observation(o billing.Observation) wireObservation {
	w := wireObservation{At: formatTime(o.At), Source: mainSource(o.Parts)}
	if d := o.Derived; d != nil {
		w.Derived = &wireDerived{Effective: e.amount("derived.effective", d.Effective), Anchor: e.anchor("derived.anchor.", d.Anchor)}
	}
	if len(o.Parts) == 0 {
		e.fail("parts", "an observation needs at least one part")
	}
	for p, st := range o.Parts {
		if _, err := billing.ParsePart(string(p)); err != nil {
			e.fail("parts", "%v", err)
			continue
		}
		if st.Source == "" {
			e.fail("parts."+string(p), "has no source")
		}
	}
	for _, p := range billing.Parts {
		st, ok := o.Parts[p]
		if !ok {
			continue
		}
		var ws wireSource
		if st.Source != w.Source {
			ws.Source = st.Source
		}
		if !st.AsOf.Equal(o.At) {
			ws.AsOf = formatTime(st.AsOf)
		}
		if ws != (wireSource{}) {
			w.Sources.set(p, &ws)
		}
		if st.Unavailable != "" {
			if w.Unavailable == nil {
				w.Unavailable = make(map[string]string)
			}
			w.Unavailable[string(p)] = st.Unavailable
			continue
		}
		switch p {
		case billing.PartBalance:
			w.Balance = e.balance(o.Balance)
		case billing.PartGrants:
			w.Grants = make([]wireGrant, 0, len(o.Grants))
			for i, g := range o.Grants {
				w.Grants = append(w.Grants, e.grant("grants["+strconv.Itoa(i)+"].", g))
			}
		case billing.PartCharges:
			w.Charges = make([]wireCharge, 0, len(o.Charges))
			for i, c := range o.Charges {
				w.Charges = append(w.Charges, e.charge("charges["+strconv.Itoa(i)+"].", c))
			}
		case billing.PartCosts:
			w.Costs = make([]wireCost, 0, len(o.Costs))
			for i, c := range o.Costs {
				path := "costs[" + strconv.Itoa(i) + "]."
				w.Costs = append(w.Costs, wireCost{
					Start:   formatTime(c.Start),
					End:     formatTime(c.End),
					Amount:  e.amount(path+"amount", c.Amount),
					Settled: c.Settled,
				})
			}
		}
	}
	return w
}

// mainSource picks the observation's "source": the one most parts share
// (the first in billing.Parts order on a tie), so that "sources" lists only
// the exceptions.
func mainSource(parts map[billing.Part]billing.PartStatus) string {
	best, bestN := "", 0
	for _, p := range billing.Parts {
		st, ok := parts[p]
		if !ok {
			continue
		}
		n := 0
		for _, q := range billing.Parts {
			if other, ok := parts[q]; ok && other.Source == st.Source {
				n++
			}
		}
		if n > bestN {
			best, bestN = st.Source, n
		}
	}
	return best
}

func (e *encoder) balance(b billing.Balance) *wireBalance {
	w := &wireBalance{Shown: e.amount("balance.shown", b.Shown)}
	if b.HasSplit {
		w.Granted = e.amount("balance.granted", b.Granted)
		w.Paid = e.amount("balance.paid", b.Paid)
	}
	return w
}

func (e *encoder) grant(path string, g billing.Grant) wireGrant {
	w := wireGrant{
		ID:          g.ID,
		Amount:      e.amount(path+"amount", g.Amount),
		Used:        e.amount(path+"used", g.Used),
		EffectiveAt: formatTime(g.EffectiveAt),
		Kind:        string(g.Kind),
		KindGuess:   g.KindGuess,
	}
	if !g.ExpiresAt.IsZero() {
		s := formatTime(g.ExpiresAt)
		w.ExpiresAt = &s
	}
	if w.Kind == "" {
		w.Kind = string(billing.GrantUnknown)
	}
	return w
}

func (e *encoder) charge(path string, c billing.Charge) wireCharge {
	w := wireCharge{
		ID:       c.ID,
		PaidAt:   formatTime(c.PaidAt),
		Amount:   e.amount(path+"amount", c.Amount),
		Tax:      e.amount(path+"tax", c.Tax),
		Currency: string(e.cur),
		Origin:   string(c.Origin),
		Trigger:  string(c.Trigger),
	}
	if w.Trigger == "" {
		w.Trigger = string(billing.TriggerUnknown)
	}
	return w
}
