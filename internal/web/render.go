// Package web draws guardd's pages: an overview of every account, one page
// per account (its timeline as SVG and where its money went), and the
// alerts, silences and deliveries. Pages are rendered on the server with
// html/template, with the CSS and the SVG inline: no script, no font, no
// file from elsewhere, so a page reads the same with JavaScript off and
// guardd report can write one as a file that opens offline. Light and dark
// follow prefers-color-scheme. Nothing on a page comes from a secret: the
// figures are the state database's, as guardd status reads them.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/status"
	"github.com/shopspring/decimal"
)

//go:embed assets/style.css assets/pages.html
var assets embed.FS

var (
	css = mustRead("assets/style.css")
	// csp allows the page's one style sheet and nothing else: no script,
	// no frame, no request anywhere (the icon is an empty data: URL).
	csp = "default-src 'none'; style-src 'sha256-" + hash(css) + "'; img-src data:; base-uri 'none'; form-action 'self'"
	// tpl is parsed when a page is first rendered, not when the package
	// starts: that cost every guardd process 1.3 ms and 200 KB of heap,
	// whether it serves pages or not.
	tpl = sync.OnceValue(func() *template.Template {
		return template.Must(template.New("pages").Funcs(funcs).Parse(mustRead("assets/pages.html")))
	})
)

func mustRead(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// view is what every page's template gets: the page and its frame.
type view struct {
	Title  string
	Nav    string
	At     time.Time
	Report bool
	CSS    template.CSS
	CSP    string
	P      any
}

func render(w io.Writer, name string, v view) error {
	v.CSS, v.CSP = template.CSS(css), csp
	var b bytes.Buffer
	if err := tpl().ExecuteTemplate(&b, name, v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// RenderOverview writes the overview page.
func RenderOverview(w io.Writer, p Overview) error {
	return render(w, "overview", view{Title: "Accounts", Nav: "accounts", At: p.At, P: p})
}

// RenderAccount writes an account's page; with p.Report set it is a page
// on its own, linking nowhere.
func RenderAccount(w io.Writer, p Account) error {
	return render(w, "account", view{Title: p.Status.Name, Nav: "accounts", At: p.At, Report: p.Report, P: p})
}

// RenderAlerts writes the alerts page.
func RenderAlerts(w io.Writer, p Alerts) error {
	return render(w, "alertsPage", view{Title: "Alerts, silences and deliveries", Nav: "alerts", At: p.At, P: p})
}

func renderError(w io.Writer, title, msg string, at time.Time) error {
	return render(w, "error", view{Title: title, At: at, P: msg})
}

var funcs = template.FuncMap{
	"t":   fmtTime,
	"day": func(t time.Time) string { return billing.Day(t) },
	// lastDay is the last day a period ending at t includes.
	"lastDay": func(t time.Time) string { return billing.Day(t.Add(-time.Nanosecond)) },
	"ago": func(now, t time.Time) string {
		if d := now.Sub(t); d >= 0 {
			return billing.Words(d) + " ago"
		}
		return "in " + billing.Words(t.Sub(now))
	},
	"money": func(d decimal.Decimal, c billing.Currency) string { return billing.NewMoney(d, c).Display() },
	"runway": func(s billing.AccountState) string {
		rw, burn := status.Runway(s)
		if burn == "-" {
			return rw
		}
		return rw + " at " + burn
	},
	"gap": func(s billing.AccountState) string {
		if !s.EffectiveKnown || !s.ShownKnown {
			return ""
		}
		if g := s.Shown.Amount().Sub(s.Effective.Amount()); g.IsPositive() {
			return billing.NewMoney(g, s.Shown.Currency()).Display()
		}
		return ""
	},
	"partList": status.PartList,
	"pollOf": func(a status.Account, now time.Time) any {
		return struct {
			status.Account
			Now time.Time
		}{a, now}
	},
	"alertsOf": func(rows []AlertRow, withAccount bool) any {
		return struct {
			Rows        []AlertRow
			WithAccount bool
		}{rows, withAccount}
	},
	"silencesOf": func(rows []lifecycle.Silence, now time.Time) any {
		return struct {
			Rows []lifecycle.Silence
			Now  time.Time
		}{rows, now}
	},
	"join": strings.Join,
	// svg inserts the timeline: SVG built in Go, every text in it escaped.
	"svg": func(t Timeline) template.HTML { return template.HTML(t.SVG()) },
	"bar": func(r FlowCharge) template.HTML { return template.HTML(flowBar(r)) },
}

// flowBar draws where a charge's money went as one bar: the tax, then its
// credit drawn, expired unused and left. It repeats the row's figures, so
// screen readers skip it.
func flowBar(r FlowCharge) string {
	total := r.Paid
	if total.LessThan(r.Credit.Add(r.Tax)) {
		total = r.Credit.Add(r.Tax)
	}
	if !total.IsPositive() {
		return ""
	}
	const w = 120.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" width="%d" height="10" viewBox="0 0 %d 10" aria-hidden="true">`, int(w), int(w))
	x := 0.0
	seg := func(class string, d decimal.Decimal) {
		if !d.IsPositive() {
			return
		}
		sw := d.InexactFloat64() / total.InexactFloat64() * w
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="0" width="%s" height="10"/>`, class, num(x), num(sw))
		x += sw
	}
	seg("tax", r.Tax)
	if r.DrawnKnown {
		seg("drawn", r.Drawn)
		seg("expired", r.Expired)
		seg("left", r.Left)
	} else {
		seg("left", r.Credit)
	}
	b.WriteString(`</svg>`)
	return b.String()
}
