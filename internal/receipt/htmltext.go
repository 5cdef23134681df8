package receipt

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText renders an HTML part as plain lines. Scripts, styles, the head
// and comments are dropped and entities decoded; block elements, <br> and
// every table cell end a line, so a label and its value in two cells become
// two tokens and never run together. Source line breaks inside text are
// ordinary spaces, as in a browser. Link targets and image alt texts are
// not rendered: receipts print what matters as text.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	z.SetMaxBuf(maxTextBytes)
	var w textWriter
	skip := atom.Atom(0) // inside <script>, <style>, <title>, ...
	inHead := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return w.b.String()
		case html.TextToken:
			if skip == 0 && !inHead {
				w.text(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Title, atom.Noscript, atom.Template, atom.Textarea, atom.Xmp:
				if tt == html.StartTagToken {
					skip = a
				}
				continue
			case atom.Head:
				inHead = tt == html.StartTagToken
				continue
			case atom.Body:
				inHead = false
			}
			if breaksLine(a) {
				w.newline()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if a == skip {
				skip = 0
				continue
			}
			if a == atom.Head {
				inHead = false
			}
			if breaksLine(a) {
				w.newline()
			}
		}
	}
}

// textWriter collapses white space as a browser does: every run of it is one
// space, and none is written at the start of a line.
type textWriter struct {
	b     strings.Builder
	space bool // white space seen since the last character
	bol   bool // at the beginning of a line
}

func (w *textWriter) text(t []byte) {
	for _, r := range string(t) {
		if isHTMLSpace(r) {
			w.space = true
			continue
		}
		if w.space && w.b.Len() > 0 && !w.bol {
			w.b.WriteByte(' ')
		}
		w.space, w.bol = false, false
		w.b.WriteRune(r)
	}
}

func (w *textWriter) newline() {
	if w.b.Len() > 0 && !w.bol {
		w.b.WriteByte('\n')
	}
	w.space, w.bol = false, true
}

func isHTMLSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f':
		return true
	}
	return false
}

// breaksLine reports whether the element starts or ends a line of text.
func breaksLine(a atom.Atom) bool {
	switch a {
	case atom.Br, atom.Hr, atom.P, atom.Div, atom.Table, atom.Tr, atom.Td, atom.Th,
		atom.Thead, atom.Tbody, atom.Tfoot, atom.Caption, atom.Li, atom.Ul, atom.Ol,
		atom.Dl, atom.Dt, atom.Dd, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Blockquote, atom.Pre, atom.Section, atom.Article, atom.Header, atom.Footer,
		atom.Main, atom.Nav, atom.Aside, atom.Address, atom.Center, atom.Form, atom.Fieldset:
		return true
	}
	return false
}
