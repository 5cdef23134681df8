package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The documents' promises that a test can keep: every relative link in
// README.md and docs/*.md leads to a file of the repository (and to a
// heading, when it names one), and every guardd command line they show
// names a command of the table and flags that command accepts, so that it
// runs as written. internal/config/docs_test.go checks the rest: that each
// rule, source, receiver and mailbox type is documented.
//
// Tests run from the repository root (TestMain), as README's commands do.

// userDocs lists the documents a user reads: README.md and docs/*.md.
//
// It first changes to the directory TestMain already changed to: that
// change came before the test log started, so without a logged one "go test"
// would look for the documents beside this file, never see them change, and
// replay a cached pass after a document broke. (Not t.Chdir: it opens ".",
// and the listing of the repository root, .git included, would then
// invalidate the cached result at every git command.)
func userDocs(t *testing.T) []string {
	t.Helper()
	wd, err := os.Getwd()
	if err == nil {
		err = os.Chdir(wd)
	}
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md (%v)", err)
	}
	return append([]string{"README.md"}, docs...)
}

// mdLine is one line of a Markdown document; lang is the info string of the
// fenced code block it is in ("" outside one, "text" for a block without).
type mdLine struct {
	num    int
	text   string
	inCode bool
	lang   string
}

var fenceRE = regexp.MustCompile("^ {0,3}(?:[-*+] +|\\d+\\. +)?( *)(`{3,}|~{3,})\\s*([^`\\s]*)")

// readMarkdown splits a document into lines, marking those inside fenced
// code blocks (list items indent theirs).
func readMarkdown(t *testing.T, name string) []mdLine {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []mdLine
	var fence, lang string
	for i, text := range strings.Split(string(b), "\n") {
		l := mdLine{num: i + 1, text: text}
		trimmed := strings.TrimSpace(text)
		switch {
		case fence == "":
			if m := fenceRE.FindStringSubmatch(text); m != nil {
				fence, lang = m[2], m[3]
				if lang == "" {
					lang = "text"
				}
				continue
			}
		case strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "":
			fence, lang = "", ""
			continue
		default:
			l.inCode, l.lang = true, lang
		}
		out = append(out, l)
	}
	return out
}

var (
	codeSpanRE = regexp.MustCompile("`+[^`]*`+")
	// An inline link or image, [text](target "title").
	linkRE = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// A link reference definition, [label]: target.
	refDefRE  = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	schemeRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	headingRE = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$`)
	lineRefRE = regexp.MustCompile(`^L\d+(-L\d+)?$`)
)

// TestDocLinks: every relative link in README.md and docs/*.md names a file
// or folder inside the repository, and a #fragment names a heading of the
// Markdown file it points to (GitHub's anchors) or a line of another file.
func TestDocLinks(t *testing.T) {
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{} // Markdown file → its anchors
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		a := headingAnchors(readMarkdown(t, file))
		anchors[file] = a
		return a
	}
	for _, doc := range userDocs(t) {
		for _, l := range readMarkdown(t, doc) {
			if l.inCode {
				continue
			}
			var targets []string
			prose := codeSpanRE.ReplaceAllStringFunc(l.text, func(s string) string { return strings.Repeat(" ", len(s)) })
			for _, m := range linkRE.FindAllStringSubmatch(prose, -1) {
				targets = append(targets, m[1])
			}
			if m := refDefRE.FindStringSubmatch(prose); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if msg := checkLink(root, doc, target, anchorsOf); msg != "" {
					t.Errorf("%s:%d: link %q: %s", doc, l.num, target, msg)
				}
			}
		}
	}
}

// checkLink says what is wrong with a link from doc to target, or "".
func checkLink(root, doc, target string, anchorsOf func(string) map[string]bool) string {
	if target == "" {
		return "empty target"
	}
	if schemeRE.MatchString(target) || strings.HasPrefix(target, "//") {
		return "" // outside the repository by design: a citation
	}
	p, frag, _ := strings.Cut(target, "#")
	p, err := url.PathUnescape(p)
	if err != nil {
		return err.Error()
	}
	file := doc
	if p != "" {
		if path.IsAbs(p) {
			return "an absolute path: GitHub resolves it against the site, not the repository; make it relative"
		}
		file = filepath.Join(filepath.Dir(doc), filepath.FromSlash(p))
		if rel, err := filepath.Rel(root, filepath.Join(root, file)); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "leads outside the repository: cite an outside source as plain text"
		}
		if _, err := os.Stat(file); err != nil {
			return fmt.Sprintf("no such file or folder %s", filepath.ToSlash(filepath.Clean(file)))
		}
	}
	if frag == "" {
		return ""
	}
	if !strings.HasSuffix(file, ".md") {
		if lineRefRE.MatchString(frag) {
			return ""
		}
		return fmt.Sprintf("#%s: only a Markdown file has heading anchors", frag)
	}
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		return fmt.Sprintf("#%s: a folder has no anchors", frag)
	}
	a := anchorsOf(file)
	if !a[frag] {
		var have []string
		for k := range a {
			have = append(have, k)
		}
		slices.Sort(have)
		return fmt.Sprintf("%s has no heading with the anchor #%s (it has %s)", filepath.ToSlash(filepath.Clean(file)), frag, strings.Join(have, ", "))
	}
	return ""
}

// headingAnchors returns the anchors GitHub gives a document's headings:
// the heading's text, lower-cased, without punctuation, spaces made
// hyphens, and "-1", "-2", … on repeats.
func headingAnchors(lines []mdLine) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range lines {
		if l.inCode {
			continue
		}
		m := headingRE.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		slug := headingSlug(m[1])
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

var (
	mdLinkTextRE = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTagRE    = regexp.MustCompile(`<[^>]+>`)
)

// headingSlug is GitHub's anchor for a heading's Markdown text: the text as
// rendered (links become their text, code and emphasis marks go), then
// lower-cased, with every character but letters, digits, "_", "-" and
// spaces dropped, and spaces made hyphens.
func headingSlug(md string) string {
	text := mdLinkTextRE.ReplaceAllString(md, "$1")
	text = htmlTagRE.ReplaceAllString(text, "")
	text = strings.NewReplacer("`", "", "*", "").Replace(text)
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// docCommand is one guardd command line found in a document.
type docCommand struct {
	where string   // file:line
	line  string   // as written
	args  []string // what follows guardd, as written
	// inline is true for a code span in prose, which may name a flag
	// without its value ("guardd status --account") or a command of
	// subcommands alone; a line of a code block must be complete.
	inline bool
}

// shellLangs are the code blocks whose lines are shell commands; in a
// console block only the lines after a "$ " prompt are.
var shellLangs = []string{"sh", "bash", "shell", "zsh", "console"}

// docCommands finds the guardd command lines of a document: in shell code
// blocks (a trailing backslash continues a line), and in inline code spans
// of the prose that start with guardd or go run ./cmd/guardd.
func docCommands(t *testing.T, doc string) []docCommand {
	t.Helper()
	var out []docCommand
	lines := readMarkdown(t, doc)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !l.inCode {
			for _, span := range codeSpanRE.FindAllString(l.text, -1) {
				s := strings.TrimSpace(strings.Trim(span, "`"))
				if strings.HasPrefix(s, "guardd ") || strings.HasPrefix(s, "go run ./cmd/guardd ") {
					for _, args := range guarddInvocations(s) {
						out = append(out, docCommand{fmt.Sprintf("%s:%d", doc, l.num), s, args, true})
					}
				}
			}
			continue
		}
		if !slices.Contains(shellLangs, l.lang) {
			continue
		}
		text, start := strings.TrimSpace(l.text), l.num
		if l.lang == "console" {
			var ok bool
			if text, ok = strings.CutPrefix(text, "$ "); !ok {
				continue
			}
		}
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) && lines[i+1].inCode {
			i++
			text = strings.TrimSuffix(text, `\`) + " " + strings.TrimSpace(lines[i].text)
		}
		for _, args := range guarddInvocations(text) {
			out = append(out, docCommand{fmt.Sprintf("%s:%d", doc, start), text, args, false})
		}
	}
	return out
}

// guarddInvocations returns the arguments of each guardd run in a shell
// line: "guardd …" where a command starts (after VAR=value, sudo, env, exec,
// or kubectl exec's "--"), a path to a binary named guardd anywhere
// ("/usr/local/bin/guardd …", "./guardd …"), "go run ./cmd/guardd …", and
// the same inside the script of "sh -c '…'". A bare path with no arguments
// (an install destination) is not a run.
func guarddInvocations(line string) [][]string {
	var out [][]string
	for _, cmd := range shellCommands(line) {
		lead := true
		for i := 0; i < len(cmd); i++ {
			w := cmd[i]
			switch {
			case w == "-c" && i > 0 && i+1 < len(cmd) && (path.Base(cmd[i-1]) == "sh" || path.Base(cmd[i-1]) == "bash"):
				out = append(out, guarddInvocations(cmd[i+1])...)
				i++
				continue
			case w == "go" && i+2 < len(cmd) && cmd[i+1] == "run":
				j := i + 2
				for j < len(cmd) && strings.HasPrefix(cmd[j], "-") {
					j++
				}
				if j < len(cmd) && (cmd[j] == "./cmd/guardd" || strings.HasPrefix(cmd[j], "github.com/guardd/guardd/cmd/guardd")) {
					out = append(out, cmd[j+1:])
					i = len(cmd)
				}
				continue
			case path.Base(w) == "guardd" && (lead && w == "guardd" || strings.HasPrefix(w, "/") || strings.HasPrefix(w, "./")):
				if i+1 < len(cmd) {
					out = append(out, cmd[i+1:])
				}
				i = len(cmd)
				continue
			}
			lead = w == "sudo" || w == "env" || w == "exec" || w == "--" || lead && assignmentRE.MatchString(w)
		}
	}
	return out
}

// assignmentRE matches a shell variable assignment before a command.
var assignmentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// redirectRE matches a redirection word: ">", "2>", ">>file", "</dev/null".
var redirectRE = regexp.MustCompile(`^[0-9]*(>>?|<)(&[0-9]+)?(.*)$`)

// shellCommands splits a shell line into simple commands (at ;, &, &&, |,
// ||) and each into words, with quotes removed, comments and redirections
// dropped. It knows no more shell than the documents use: an "a|b" written
// without spaces is one word (a synopsis's alternatives), not a pipe.
func shellCommands(line string) [][]string {
	var out [][]string
	for _, cmd := range shellWords(line) {
		var words []string
		for i := 0; i < len(cmd); i++ {
			m := redirectRE.FindStringSubmatch(cmd[i])
			switch {
			case m == nil:
				words = append(words, cmd[i])
			case m[2] == "" && m[3] == "":
				i++ // "> file": the target is the next word
			}
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

// shellWords splits a shell line into simple commands and words.
func shellWords(line string) [][]string {
	var cmds [][]string
	var cmd []string
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			cmd = append(cmd, word.String())
			word.Reset()
			inWord = false
		}
	}
	end := func() {
		flush()
		if len(cmd) > 0 {
			cmds = append(cmds, cmd)
		}
		cmd = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			flush()
		case (c == ';' || c == '&' || c == '|') && (!inWord || i+1 == len(line) || line[i+1] == ' ' || line[i+1] == c):
			if c != ';' && i+1 < len(line) && line[i+1] == c {
				i++
			}
			end()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	end()
	return cmds
}

// expandSynopsis turns a synopsis-style argument list into the command
// lines it stands for: brackets around optional parts go (the parts stay),
// "..." goes, and each "a|b" gives a line per alternative.
func expandSynopsis(args []string) [][]string {
	lines := [][]string{nil}
	for _, a := range args {
		a = strings.Trim(a, "[]")
		a = strings.TrimSuffix(strings.TrimSuffix(a, "..."), "…")
		if a == "" {
			continue
		}
		alts := []string{a}
		if strings.Contains(a, "|") && !strings.HasPrefix(a, "-") {
			alts = strings.Split(a, "|")
		}
		var next [][]string
		for _, l := range lines {
			for _, alt := range alts {
				next = append(next, append(slices.Clone(l), alt))
			}
		}
		lines = next
	}
	return lines
}

// placeholderRE matches a placeholder such as FILE, DIR or HISTORY.json.
var placeholderRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*(\.[a-z]+)?$`)

// repoPath reports whether a command's argument names a file of the
// repository that must exist: a relative path with a slash or a data file's
// extension, that is not a placeholder or a variable.
func repoPath(arg string) bool {
	if arg == "" || filepath.IsAbs(arg) || strings.ContainsAny(arg, "$~<>") || strings.Contains(arg, "://") || placeholderRE.MatchString(arg) {
		return false
	}
	switch filepath.Ext(arg) {
	case ".yaml", ".yml", ".json", ".eml":
		return true
	}
	return strings.Contains(arg, "/")
}

// runHelp runs guardd in process with a cancelled context, so that a command
// line that is not stopped by --help cannot go on to do anything.
func runHelp(args []string) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	return run(ctx, args, proc{getenv: func(string) (string, bool) { return "", false }, stdout: &out, stderr: &out})
}

// TestDocCommands: every guardd command line in README.md and docs/*.md
// names a command (and subcommand) of the table and only flags that command
// declares, each with its value, and the command's own parser accepts the
// line: run with its flags and --help, it prints its help instead of
// failing. The files the line names exist.
//
// The table says which flags a command has and which of them take a value,
// so which words are positional arguments. The line is run as its command
// and subcommand, its flags, --help, then its positional arguments, so that
// --help is reached before anything could run.
func TestDocCommands(t *testing.T) {
	found := 0
	for _, doc := range userDocs(t) {
		for _, dc := range docCommands(t, doc) {
			for _, args := range expandSynopsis(dc.args) {
				found++
				t.Logf("checked %s: guardd %s", dc.where, strings.Join(args, " "))
				if msg := checkDocCommand(args, dc.inline); msg != "" {
					t.Errorf("%s: %s\n\tin: %s", dc.where, msg, dc.line)
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no guardd command found in README.md or docs/*.md")
	}
}

// checkDocCommand says what is wrong with one command line, or "".
func checkDocCommand(args []string, inline bool) string {
	noenv := func(string) (string, bool) { return "", false }
	prefix, rest := args[:1], args[1:]
	var define func(*flag.FlagSet, getenvFunc)
	switch c, ok := find(commands(), args[0]); {
	case args[0] == "--version" || args[0] == "-h" || args[0] == "--help":
	case !ok:
		return fmt.Sprintf("no command %q in the table (cmd/guardd/run.go)", args[0])
	case c.subs != nil:
		if len(rest) == 0 {
			if inline {
				return "" // "guardd silence" names the group
			}
			return fmt.Sprintf("guardd %s wants a subcommand: %s", c.name, strings.Join(names(c.subs), ", "))
		}
		sub, ok := find(c.subs, rest[0])
		if !ok {
			return fmt.Sprintf("no subcommand %q of guardd %s (want %s)", rest[0], c.name, strings.Join(names(c.subs), ", "))
		}
		prefix, rest, define = args[:2], rest[1:], sub.flags
	default:
		define = c.flags
	}
	fs := newFlagSet(strings.Join(prefix, " "), define, noenv)
	var flags, positional, files []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			files = append(files, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		switch {
		case name == "h" || name == "help":
			continue // --help is added below
		case f == nil:
			return fmt.Sprintf("guardd %s has no flag %s", strings.Join(prefix, " "), a)
		case hasValue:
			files = append(files, value)
		case isBool(f):
		case i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-"):
			i++
			a += "=" + rest[i]
			files = append(files, rest[i])
		case inline:
			a += "=" + "X" // the prose names the flag, not a value
		default:
			return fmt.Sprintf("flag %s needs a value", a)
		}
		flags = append(flags, a)
	}
	line := slices.Concat(prefix, flags, []string{"--help"}, positional)
	if err := runHelp(line); err != nil {
		return fmt.Sprintf("not accepted (%v)\n\tran: guardd %s", err, strings.Join(line, " "))
	}
	var missing []string
	for _, f := range files {
		if repoPath(f) {
			if m, err := filepath.Glob(filepath.FromSlash(f)); err != nil || len(m) == 0 {
				missing = append(missing, f)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("no such file in the repository: %s", strings.Join(missing, ", "))
	}
	return ""
}

func TestHeadingSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"OpenAI (`openai`)", "openai-openai"},
		{"Recording what a provider says: `guardd record`", "recording-what-a-provider-says-guardd-record"},
		{"Microsoft 365 and Outlook.com", "microsoft-365-and-outlookcom"},
		{"What guardd does, and what the credential allows", "what-guardd-does-and-what-the-credential-allows"},
		{"charge-without-credit and credit-without-charge", "charge-without-credit-and-credit-without-charge"},
		{"**Bold** and [a link](x.md) — dash", "bold-and-a-link--dash"},
		{"rules.burn_window", "rulesburn_window"},
	} {
		if got := headingSlug(tc.heading); got != tc.want {
			t.Errorf("headingSlug(%q): got %q, want %q", tc.heading, got, tc.want)
		}
	}
	got := headingAnchors([]mdLine{{text: "# A"}, {text: "## A"}, {text: "## A"}, {text: "# not a heading", inCode: true}})
	if want := map[string]bool{"a": true, "a-1": true, "a-2": true}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("repeated headings: got %v, want %v", got, want)
	}
}

func TestGuarddInvocations(t *testing.T) {
	for _, tc := range []struct {
		line string
		want [][]string
	}{
		{"guardd replay examples/x.json   # a comment", [][]string{{"replay", "examples/x.json"}}},
		{"go run ./cmd/guardd replay --output json x.json", [][]string{{"replay", "--output", "json", "x.json"}}},
		{"guardd silence add|list|expire --config FILE ...", [][]string{{"silence", "add|list|expire", "--config", "FILE", "..."}}},
		{"GUARDD_STATE_PATH=/tmp/s.db sudo guardd status --config c.yaml", [][]string{{"status", "--config", "c.yaml"}}},
		{"sudo bash -c 'set -a && . /etc/guardd/guardd.env && /usr/local/bin/guardd validate --config /etc/guardd/config.yaml'",
			[][]string{{"validate", "--config", "/etc/guardd/config.yaml"}}},
		{"kubectl -n guardd exec deploy/guardd -- /guardd status --config /etc/guardd/config.yaml", [][]string{{"status", "--config", "/etc/guardd/config.yaml"}}},
		{"./guardd version && ./guardd check --config c.yaml | tee log", [][]string{{"version"}, {"check", "--config", "c.yaml"}}},
		{"sudo install -m 0755 guardd /usr/local/bin/guardd", nil},
		{"kubectl -n guardd create job --from=cronjob/guardd guardd-first-run", nil},
		{"systemctl status guardd; journalctl -u guardd -f", nil},
		{"go build -o guardd ./cmd/guardd", nil},
		{"guardd completion bash > ~/.local/share/guardd 2>/dev/null", [][]string{{"completion", "bash"}}},
		{"guardd man 2>&1 >/dev/null | sudo tee x", [][]string{{"man"}}},
	} {
		if got := guarddInvocations(tc.line); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.line, got, tc.want)
		}
	}
}

func TestExpandSynopsis(t *testing.T) {
	got := expandSynopsis([]string{"silence", "add|list", "[--output", "text|json]", "FILE..."})
	want := [][]string{
		{"silence", "add", "--output", "text", "FILE"}, {"silence", "add", "--output", "json", "FILE"},
		{"silence", "list", "--output", "text", "FILE"}, {"silence", "list", "--output", "json", "FILE"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
