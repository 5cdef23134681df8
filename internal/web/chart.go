package web

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/shopspring/decimal"
)

// Timeline is what the timeline chart draws: an account's history over
// [From, To]. Amounts stay decimals until they become coordinates.
type Timeline struct {
	// ID prefixes the ids inside the SVG, so that two charts can share a
	// page.
	ID       string
	From, To time.Time
	Currency billing.Currency
	Points   []ledger.Point
	// Recharges are the recharges in the span, oldest first.
	Recharges []ledger.Recharge
	Grants    []ledger.GrantHistory
	Costs     []ledger.CostEntry
	Findings  []Mark
	// Threshold, when HasThreshold, is the auto-recharge threshold, drawn
	// as a dotted line.
	Threshold    decimal.Decimal
	HasThreshold bool
	// Link, when set, gives the href of recharge i's marker (its row in the
	// money flow).
	Link func(i int) string
}

// Mark is a finding on the timeline: from when it held until it stopped
// (Until zero: it still held at the end).
type Mark struct {
	At, Until time.Time
	Rule      string
	Severity  billing.Severity
	Summary   string
}

// The chart's geometry, in SVG user units (the page scales it to fit).
const (
	chartW      = 960
	plotLeft    = 72
	plotRight   = 12
	plotW       = chartW - plotLeft - plotRight
	rowRecharge = 8   // recharge markers: 8 to 22
	plotTop     = 28  // balance lines: 28 to 228
	plotH       = 200 //
	rowFindings = 236 // finding markers: 236 to 250
	grantsTop   = 262
	costsH      = 60
	// markerGap is how close (in units) two recharge markers may be before
	// they are drawn as one marker for the group.
	markerGap = 7
	// maxLanes bounds the grant lanes; further grants share one lane.
	maxLanes = 40
	// maxBars bounds the cost bars: daily costs beyond it are summed by
	// week, then by 30 days.
	maxBars = plotW / 6
)

// SVG draws the timeline. A year of hourly observations is downsampled to
// at most two points per unit of width for each line, recharges closer
// than markerGap are one marker that says how many, and daily costs are
// summed by week when there are too many bars, so the drawing stays small
// whatever the span.
func (t Timeline) SVG() string {
	c := chart{t: t, b: &strings.Builder{}}
	return c.draw()
}

type chart struct {
	t      Timeline
	b      *strings.Builder
	yMax   float64
	lanes  int
	costsY int // top of the cost bars
	height int
}

func (c *chart) x(at time.Time) float64 {
	span := c.t.To.Sub(c.t.From)
	if span <= 0 {
		return plotLeft
	}
	f := float64(at.Sub(c.t.From)) / float64(span)
	return plotLeft + math.Max(0, math.Min(1, f))*plotW
}

func (c *chart) y(v decimal.Decimal) float64 {
	if c.yMax <= 0 {
		return plotTop + plotH
	}
	return plotTop + plotH - v.InexactFloat64()/c.yMax*plotH
}

func (c *chart) draw() string {
	t := c.t
	b := c.b
	c.lanes = min(len(t.Grants), maxLanes+1)
	c.costsY = grantsTop + c.lanes*laneH(c.lanes) + 14
	c.height = c.costsY + costsH + 22
	top := c.scaleY()
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 %d %d" role="group" aria-labelledby="%s-t %s-d">`,
		chartW, c.height, t.ID, t.ID)
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, t.ID, esc(c.title()), t.ID, esc(c.describe()))
	c.axes(top)
	if len(t.Points) == 0 {
		fmt.Fprintf(b, `<text class="empty" x="%d" y="%d">no observation in this period</text>`, plotLeft+plotW/2, plotTop+plotH/2)
	}
	if t.HasThreshold && c.yMax > 0 {
		y := num(c.y(t.Threshold))
		fmt.Fprintf(b, `<path class="thr" d="M%d %sH%d"><title>auto-recharge threshold %s (from the config)</title></path>`,
			plotLeft, y, plotLeft+plotW, esc(c.money(t.Threshold)))
	}
	c.line("shown", "balance the provider shows", func(p *ledger.Point) (decimal.Decimal, bool) { return p.Shown, p.ShownKnown })
	c.line("eff", "effective balance (what can be spent)", func(p *ledger.Point) (decimal.Decimal, bool) { return p.Effective, p.EffectiveKnown })
	c.recharges()
	c.findings()
	c.grants()
	c.costs()
	b.WriteString(`</svg>`)
	return b.String()
}

func (c *chart) title() string {
	return fmt.Sprintf("Timeline from %s to %s", fmtTime(c.t.From), fmtTime(c.t.To))
}

// describe says in words what the chart shows, for screen readers.
func (c *chart) describe() string {
	t := c.t
	var parts []string
	var first, last *ledger.Point
	for i := range t.Points {
		if t.Points[i].EffectiveKnown {
			if first == nil {
				first = &t.Points[i]
			}
			last = &t.Points[i]
		}
	}
	if first != nil {
		parts = append(parts, fmt.Sprintf("effective balance %s at %s, %s at %s", c.money(first.Effective), fmtTime(first.At),
			c.money(last.Effective), fmtTime(last.At)))
	}
	credit := decimal.Zero
	for _, r := range t.Recharges {
		credit = credit.Add(r.Credit)
	}
	parts = append(parts, fmt.Sprintf("%s adding %s of credit", billing.Count(len(t.Recharges), "recharge"), c.money(credit)),
		billing.Count(len(t.Grants), "credit grant"), billing.Count(len(t.Findings), "finding"))
	return strings.Join(parts, "; ") + ". The tables below hold the same figures."
}

// scaleY picks the balance axis: from 0 to a round value above the
// highest balance drawn. It returns that value.
func (c *chart) scaleY() decimal.Decimal {
	hi := decimal.Zero
	for _, p := range c.t.Points {
		if p.EffectiveKnown && p.Effective.GreaterThan(hi) {
			hi = p.Effective
		}
		if p.ShownKnown && p.Shown.GreaterThan(hi) {
			hi = p.Shown
		}
	}
	if c.t.HasThreshold && c.t.Threshold.GreaterThan(hi) {
		hi = c.t.Threshold
	}
	step := niceStep(hi, 4)
	top := step
	for top.LessThan(hi) {
		top = top.Add(step)
	}
	c.yMax = top.InexactFloat64()
	return top
}

// niceStep returns 1, 2 or 5 times a power of ten such that about n steps
// reach hi.
func niceStep(hi decimal.Decimal, n int64) decimal.Decimal {
	if !hi.IsPositive() {
		return decimal.NewFromInt(1)
	}
	raw := hi.Div(decimal.NewFromInt(n))
	exp := int32(math.Floor(math.Log10(raw.InexactFloat64())))
	for _, m := range []int64{1, 2, 5, 10} {
		if s := decimal.New(m, exp); !s.LessThan(raw) {
			return s
		}
	}
	return decimal.New(10, exp)
}

func (c *chart) axes(top decimal.Decimal) {
	b := c.b
	b.WriteString(`<g class="axis">`)
	step := niceStep(top, 4)
	if c.yMax > 0 {
		for v := decimal.Zero; !v.GreaterThan(top); v = v.Add(step) {
			y := num(c.y(v))
			fmt.Fprintf(b, `<path class="grid" d="M%d %sH%d"/><text x="%d" y="%s" dy="4" text-anchor="end">%s</text>`,
				plotLeft, y, plotLeft+plotW, plotLeft-6, y, esc(c.money(v)))
		}
	}
	fmt.Fprintf(b, `<path d="M%d %dV%d"/>`, plotLeft, plotTop, c.costsY+costsH)
	for _, tk := range timeTicks(c.t.From, c.t.To) {
		x := c.x(tk.at)
		anchor := "middle"
		if x > plotLeft+plotW-40 {
			anchor = "end" // the last label stays inside
		}
		fmt.Fprintf(b, `<path class="grid" d="M%s %dV%d"/><text x="%s" y="%d" text-anchor="%s">%s</text>`,
			num(x), plotTop, c.costsY+costsH, num(x), c.costsY+costsH+16, anchor, esc(tk.label))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">recharges</text>`, plotLeft-6, rowRecharge+12)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">findings</text>`, plotLeft-6, rowFindings+11)
	if c.lanes > 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">grants</text>`, plotLeft-6, grantsTop+9)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">costs</text>`, plotLeft-6, c.costsY+12)
	b.WriteString(`</g>`)
}

type tick struct {
	at    time.Time
	label string
}

// timeTicks marks round times (hours, days, weeks, months, UTC) between
// from and to, at most about eight.
func timeTicks(from, to time.Time) []tick {
	span := to.Sub(from)
	if span <= 0 {
		return nil
	}
	const day = 24 * time.Hour
	steps := []time.Duration{time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, day, 2 * day, 7 * day, 14 * day}
	for _, s := range steps {
		if span/s > 8 {
			continue
		}
		layout := "Jan 2"
		if s < day {
			layout = "Jan 2 15:04"
		}
		var out []tick
		for at := from.Truncate(s); !at.After(to); at = at.Add(s) {
			if s == 7*day || s == 14*day {
				// Weeks start on Monday.
				at = at.AddDate(0, 0, -((int(at.Weekday()) + 6) % 7))
			}
			if !at.Before(from) {
				out = append(out, tick{at, at.Format(layout)})
			}
		}
		return out
	}
	// Months: the first of each, every month or every few.
	every := int(span/(30*day))/8 + 1
	var out []tick
	at := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	for ; !at.After(to); at = at.AddDate(0, every, 0) {
		if !at.Before(from) {
			out = append(out, tick{at, at.Format("Jan 2006")})
		}
	}
	return out
}

// line draws one balance as a path: per unit of width, the lowest and
// highest value in time order, so spikes survive downsampling. A gap in
// the history (the value unknown, or far longer between polls than usual)
// breaks the line.
func (c *chart) line(class, what string, val func(*ledger.Point) (decimal.Decimal, bool)) {
	pts := c.t.Points
	if len(pts) == 0 {
		return
	}
	gap := typicalGap(pts) * 6
	var d strings.Builder
	// In each unit of width: the lowest and the highest point (lo has
	// the greater y), drawn in the order they came.
	type colPt struct {
		x, y float64
		i    int
	}
	col, n := -1, 0
	var lo, hi colPt
	var last time.Time
	pen := false
	flush := func() {
		if n == 0 {
			return
		}
		first, second := lo, hi
		if hi.i < lo.i {
			first, second = hi, lo
		}
		cmd := "L"
		if !pen {
			cmd, pen = "M", true
		}
		fmt.Fprintf(&d, "%s%s %s", cmd, num(first.x), num(first.y))
		if second.i != first.i && num(second.y) != num(first.y) {
			fmt.Fprintf(&d, "L%s %s", num(second.x), num(second.y))
		}
		n = 0
	}
	for i := range pts {
		p := &pts[i]
		v, ok := val(p)
		if !ok {
			flush()
			pen = false
			continue
		}
		if pen && p.At.Sub(last) > gap {
			flush()
			pen = false
		}
		last = p.At
		pc := colPt{math.Round(c.x(p.At)), c.y(v), i}
		if cc := int(pc.x); cc != col || n == 0 {
			flush()
			col, lo, hi, n = cc, pc, pc, 1
			continue
		}
		n++
		if pc.y > lo.y {
			lo = pc
		}
		if pc.y < hi.y {
			hi = pc
		}
	}
	flush()
	if d.Len() == 0 {
		return
	}
	fmt.Fprintf(c.b, `<path class="%s" d="%s"><title>%s</title></path>`, class, d.String(), esc(what))
}

// typicalGap is the usual time between polls: the median of the gaps
// between points (sampled when there are many).
func typicalGap(pts []ledger.Point) time.Duration {
	if len(pts) < 2 {
		return time.Hour
	}
	stride := max(1, len(pts)/256)
	var gaps []time.Duration
	for i := stride; i < len(pts); i += stride {
		gaps = append(gaps, pts[i].At.Sub(pts[i-1].At))
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	return max(gaps[len(gaps)/2], time.Minute)
}

// recharges marks each recharge above the balances: a filled triangle for
// a charge seen (its invoice or receipt number in the tooltip), a hollow
// one for a recharge guardd inferred. Recharges closer than markerGap are
// one marker saying how many.
func (c *chart) recharges() {
	rs := c.t.Recharges
	for i := 0; i < len(rs); {
		x0 := c.x(rs[i].At)
		j := i + 1
		for j < len(rs) && c.x(rs[j].At)-x0 < markerGap {
			j++
		}
		c.rechargeMarker(i, j, (x0+c.x(rs[j-1].At))/2)
		i = j
	}
}

func (c *chart) rechargeMarker(i, j int, x float64) {
	rs := c.t.Recharges[i:j]
	class := "rc"
	inferred := true
	for _, r := range rs {
		inferred = inferred && r.Charge.Origin == billing.ChargeInferred
	}
	if inferred {
		class += " inferred"
	}
	var title, attr string
	if len(rs) == 1 {
		title = c.rechargeText(rs[0])
	} else {
		credit := decimal.Zero
		var refs []string
		for _, r := range rs {
			credit = credit.Add(r.Credit)
			if r.Charge.Origin != billing.ChargeInferred && len(refs) < 4 {
				refs = append(refs, r.Charge.ID)
			}
		}
		title = fmt.Sprintf("%d recharges from %s to %s: %s of credit", len(rs), fmtTime(rs[0].At), fmtTime(rs[len(rs)-1].At), c.money(credit))
		if len(refs) > 0 {
			title += "; " + strings.Join(refs, ", ")
			if len(refs) < len(rs) {
				title += ", …"
			}
		}
		attr = fmt.Sprintf(` data-n="%d"`, len(rs))
		class += " group"
	}
	href := ""
	if c.t.Link != nil {
		href = c.t.Link(i)
	}
	shape := fmt.Sprintf(`<path d="M%s %dh10l-5 12z"/>`, num(x-5), rowRecharge+1)
	if len(rs) > 1 {
		shape = fmt.Sprintf(`<path d="M%s %dh12l-6 13z"/>`, num(x-6), rowRecharge)
	}
	if href != "" {
		fmt.Fprintf(c.b, `<a class="%s" href="%s"%s><title>%s</title>%s</a>`, class, esc(href), attr, esc(title), shape)
		return
	}
	fmt.Fprintf(c.b, `<g class="%s"%s><title>%s</title>%s</g>`, class, attr, esc(title), shape)
}

// rechargeText is one recharge's tooltip: when, how much, the invoice or
// receipt number, and where guardd saw it.
func (c *chart) rechargeText(r ledger.Recharge) string {
	credit := c.money(r.Credit)
	if r.AtLeast {
		credit = "at least " + credit
	}
	s := fmt.Sprintf("Recharge %s: %s of credit", fmtTime(r.At), credit)
	switch r.Charge.Origin {
	case billing.ChargeInferred:
		s += " (inferred: " + r.Basis + ")"
	default:
		s += fmt.Sprintf(", %s %s paid %s", r.Charge.Origin, r.Charge.ID, r.Charge.Amount.Display())
		if r.Charge.Tax.IsPositive() {
			s += " with " + r.Charge.Tax.Display() + " tax"
		}
	}
	if r.GrantID != "" && r.Charge.Origin != billing.ChargeInferred {
		s += ", credited as grant " + r.GrantID
	}
	if r.Source != "" {
		s += "; source " + r.Source + ", seen " + fmtTime(r.SeenAt)
	}
	return s
}

// findings marks each finding where it started to hold, with a bar as long
// as it held. Stretches of one rule closer than markerGap are one mark
// that says how many.
func (c *chart) findings() {
	var rules []string
	byRule := make(map[string][]Mark)
	for _, m := range c.t.Findings {
		if _, ok := byRule[m.Rule]; !ok {
			rules = append(rules, m.Rule)
		}
		byRule[m.Rule] = append(byRule[m.Rule], m)
	}
	end := func(m Mark) time.Time {
		if m.Until.IsZero() {
			return c.t.To
		}
		return m.Until
	}
	for _, r := range rules {
		ms := byRule[r]
		for i := 0; i < len(ms); {
			j := i + 1
			for j < len(ms) && c.x(ms[j].At)-c.x(end(ms[j-1])) < markerGap {
				j++
			}
			c.findingMark(ms[i:j], end(ms[j-1]))
			i = j
		}
	}
}

func (c *chart) findingMark(ms []Mark, end time.Time) {
	m, last := ms[0], ms[len(ms)-1]
	until := "until " + fmtTime(end)
	if last.Until.IsZero() {
		until = "still holding at " + fmtTime(c.t.To)
	}
	title := fmt.Sprintf("%s (%s) from %s %s", m.Rule, m.Severity, fmtTime(m.At), until)
	attr := ""
	if len(ms) > 1 {
		title = fmt.Sprintf("%s (%s) held %d times from %s %s", m.Rule, m.Severity, len(ms), fmtTime(m.At), until)
		attr = fmt.Sprintf(` data-n="%d"`, len(ms))
	}
	if last.Summary != "" {
		title += ": " + last.Summary
	}
	x := c.x(m.At)
	y := rowFindings + 7
	fmt.Fprintf(c.b, `<g class="fd %s"%s><title>%s</title><path d="M%s %dH%s"/><path class="dot" d="M%s %dl6 7-6 7-6-7z"/></g>`,
		esc(string(m.Severity)), attr, esc(title), num(x), y, num(math.Max(c.x(end), x)), num(x), rowFindings)
}

func laneH(n int) int {
	if n == 0 {
		return 0
	}
	return max(3, min(10, 160/n))
}

// grants draws each grant as a band from its effective date to its expiry
// (to the end of the chart when it never expires), one lane each; past
// maxLanes, the rest share the last lane.
func (c *chart) grants() {
	gs := c.t.Grants
	h := laneH(c.lanes)
	for i, g := range gs {
		lane := min(i, maxLanes)
		if i == maxLanes {
			c.moreGrants(gs[maxLanes:], grantsTop+lane*h, h)
			return
		}
		gr := g.Grant
		start, end := gr.EffectiveAt, gr.ExpiresAt
		if start.IsZero() {
			start = gr.FirstSeen
		}
		if end.IsZero() {
			end = c.t.To
		}
		x0, x1 := c.x(start), c.x(end)
		class := "gr " + string(gr.Kind)
		if gr.ExpiredAt(c.t.To) {
			class += " expired"
		}
		title := fmt.Sprintf("Grant %s (%s): %s, %s used as of %s; effective %s, %s; first seen %s; source %s",
			gr.ID, gr.Kind, gr.Amount.Display(), gr.Used.Display(), fmtTime(g.LastSeen), billing.Day(gr.EffectiveAt),
			expiry(gr), fmtTime(gr.FirstSeen), g.Source)
		// A grant that ended before the period (expired, and perhaps still
		// counted in the shown balance) is a stub at its start.
		fmt.Fprintf(c.b, `<rect class="%s" x="%s" y="%d" width="%s" height="%d"><title>%s</title></rect>`,
			esc(class), num(x0), grantsTop+lane*h, num(math.Max(4, x1-x0)), max(1, h-1), esc(title))
	}
}

func (c *chart) moreGrants(gs []ledger.GrantHistory, y, h int) {
	lo, hi := c.t.To, c.t.From
	total := decimal.Zero
	for _, g := range gs {
		gr := g.Grant
		if gr.EffectiveAt.Before(lo) {
			lo = gr.EffectiveAt
		}
		end := gr.ExpiresAt
		if end.IsZero() {
			end = c.t.To
		}
		if end.After(hi) {
			hi = end
		}
		total = total.Add(gr.Amount.Amount())
	}
	x0, x1 := c.x(lo), c.x(hi)
	fmt.Fprintf(c.b, `<rect class="gr more" x="%s" y="%d" width="%s" height="%d"><title>%d more grants (%s in all): see the table</title></rect>`,
		num(x0), y, num(math.Max(1, x1-x0)), max(1, h-1), len(gs), esc(c.money(total)))
}

func expiry(g billing.Grant) string {
	if g.ExpiresAt.IsZero() {
		return "never expires"
	}
	return "expires " + billing.Day(g.ExpiresAt)
}

// bar is one cost bar: the costs of [start, end).
type bar struct {
	start, end time.Time
	amount     decimal.Decimal
	settled    bool
	days       int
	source     string
	asOf       time.Time
}

// costBars sums the cost windows into bars: one per window, or per week or
// 30 days when there would be more than maxBars.
func costBars(es []ledger.CostEntry) []bar {
	var bars []bar
	for _, e := range es {
		bars = append(bars, bar{start: e.Bucket.Start, end: e.Bucket.End, amount: e.Bucket.Amount.Amount(),
			settled: e.Bucket.Settled, days: 1, source: e.Source, asOf: e.AsOf})
	}
	for _, per := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		if len(bars) <= maxBars {
			break
		}
		var out []bar
		for _, b := range bars {
			if n := len(out); n > 0 && b.start.Sub(out[n-1].start) < per {
				o := &out[n-1]
				o.end, o.amount, o.settled, o.days = b.end, o.amount.Add(b.amount), o.settled && b.settled, o.days+b.days
				if b.asOf.After(o.asOf) {
					o.asOf, o.source = b.asOf, b.source
				}
				continue
			}
			out = append(out, b)
		}
		bars = out
	}
	return bars
}

// costs draws the costs the provider reported, as bars on their own
// scale.
func (c *chart) costs() {
	bars := costBars(c.t.Costs)
	hi := decimal.Zero
	for _, b := range bars {
		if b.amount.GreaterThan(hi) {
			hi = b.amount
		}
	}
	if len(bars) == 0 {
		fmt.Fprintf(c.b, `<text class="empty" x="%d" y="%d">no cost report in this period</text>`, plotLeft+plotW/2, c.costsY+costsH/2)
		return
	}
	top := niceStep(hi, 1)
	for top.LessThan(hi) {
		top = top.Add(niceStep(hi, 1))
	}
	scale := top.InexactFloat64()
	base := c.costsY + costsH
	fmt.Fprintf(c.b, `<g class="axis"><text x="%d" y="%d" text-anchor="end">%s</text></g>`, plotLeft-6, c.costsY+costsH-2, esc(c.money(top)))
	for _, b := range bars {
		x0, x1 := c.x(b.start), c.x(b.end)
		h := 0.0
		if scale > 0 {
			h = b.amount.InexactFloat64() / scale * costsH
		}
		class := "cost"
		state := "settled"
		if !b.settled {
			class, state = "cost unsettled", "not settled yet"
		}
		what := billing.Day(b.start)
		if b.days > 1 {
			what = fmt.Sprintf("%s to %s (%d days)", billing.Day(b.start), billing.Day(b.end.Add(-time.Nanosecond)), b.days)
		}
		title := fmt.Sprintf("Costs %s: %s, %s; source %s as of %s", what, c.money(b.amount), state, b.source, fmtTime(b.asOf))
		fmt.Fprintf(c.b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"><title>%s</title></rect>`,
			class, num(x0+0.5), num(float64(base)-h), num(math.Max(1, x1-x0-1)), num(h), esc(title))
	}
}

func (c *chart) money(d decimal.Decimal) string { return billing.NewMoney(d, c.t.Currency).Display() }

// num writes a coordinate with at most one decimal.
func num(f float64) string {
	s := strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }

// fmtTime renders a time as the pages do: "2026-10-14 03:00 UTC".
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// NewTimeline takes the timeline of [from, to] from a ledger: its points,
// recharges, the grants listed in the span and the cost windows starting
// in it; findings are marked as given.
func NewTimeline(id string, l *ledger.Ledger, from, to time.Time, findings []Mark) Timeline {
	a := l.Account()
	t := Timeline{ID: id, From: from, To: to, Currency: a.Currency, Points: l.Points(from, to),
		Recharges: l.Recharges(from.Add(-time.Nanosecond), to), Costs: l.Costs(from, to), Findings: findings}
	for _, g := range l.Grants() {
		if !g.LastSeen.Before(from) && !g.Grant.FirstSeen.After(to) {
			t.Grants = append(t.Grants, g)
		}
	}
	if ar := a.AutoRecharge; ar.Enabled && ar.Threshold.IsPositive() {
		t.Threshold, t.HasThreshold = ar.Threshold.Amount(), true
	}
	return t
}
