package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// probe is one completion asked of a shell: the words typed after guardd
// (the last being the one completed) and exactly the words the table says
// it must offer.
type probe struct {
	words []string
	want  []string
}

// probes are the completions every shell must offer, made from the table of
// commands directly (not from the describe code the scripts are made from):
// the commands, each command's subcommands, and each command's flags.
func probes(t *testing.T, help bool) []probe {
	t.Helper()
	out := []probe{{[]string{""}, names(commands())}}
	for _, l := range leaves(commands(), "") {
		fs := newFlagSet(l.path, l.c.flags, func(string) (string, bool) { return "", false })
		var flags []string
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, "--"+f.Name) })
		if help {
			flags = append(flags, "--help")
		}
		out = append(out, probe{append(strings.Fields(l.path), "--"), flags})
	}
	for _, c := range commands() {
		if c.subs != nil {
			out = append(out, probe{[]string{c.name, ""}, names(c.subs)})
		}
	}
	return out
}

// script writes guardd's completion script for shell to a file.
func script(t *testing.T, shell string) string {
	t.Helper()
	out, _, err := runCmd(t, nil, "completion", shell)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "guardd."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runShell runs a shell's program and returns its output, one line per probe;
// anything on stderr fails the test.
func runShell(t *testing.T, name string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// needShell skips the test when the shell is not installed: the tests do
// not install it (.ci/run does).
func needShell(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: .ci/run installs it", name)
		}
		t.Skipf("%s is not installed (.ci/run installs it)", name)
	}
}

// compare checks each probe's answer, given as space-separated words; the
// order does not matter (fish sorts).
func compare(t *testing.T, ps []probe, got []string) {
	t.Helper()
	if len(got) != len(ps) {
		t.Fatalf("got %d answers, want %d:\n%s", len(got), len(ps), strings.Join(got, "\n"))
	}
	for i, p := range ps {
		g, w := strings.Fields(got[i]), slices.Clone(p.want)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("guardd %s<TAB>: got %v, want %v", strings.Join(p.words, " "), g, w)
		}
	}
}

// TestBashCompletion checks that bash accepts the script and that it
// offers exactly the table's commands, subcommands and flags.
func TestBashCompletion(t *testing.T) {
	needShell(t, "bash")
	path := script(t, "bash")
	runShell(t, "bash", "-n", path)
	ps := probes(t, true)
	ps[0].want = append(ps[0].want, "--help", "--version")
	var b strings.Builder
	fmt.Fprintf(&b, "source %s\n", shQuote(path))
	b.WriteString(`reply() { COMP_WORDS=(guardd "$@"); COMP_CWORD=$#; COMPREPLY=(); _guardd 2>/dev/null; echo "${COMPREPLY[*]}"; }` + "\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "reply %s\n", quoteAll(p.words))
	}
	compare(t, ps, runShell(t, "bash", "--norc", "--noprofile", "-c", b.String()))
}

// TestZshCompletion checks that zsh accepts the script and, with the
// completion system's _describe and _arguments stubbed to print what they
// are given, that it offers exactly the table's commands, subcommands and
// flags.
func TestZshCompletion(t *testing.T) {
	needShell(t, "zsh")
	path := script(t, "zsh")
	runShell(t, "zsh", "-n", path)
	ps := probes(t, true)
	var b strings.Builder
	b.WriteString("compdef() { :; }\n")
	fmt.Fprintf(&b, "source %s\n", shQuote(path))
	b.WriteString("_describe() { local -a items; items=(\"${(@P)4}\"); print -r -- ${items%%:*}; }\n")
	b.WriteString("_arguments() { local -a out; local s; for s in \"$@\"; do s=${s#\\(*\\)}; [[ $s == --* ]] && out+=(\"${s%%[=\\[]*}\"); done; print -r -- \"$out\"; }\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "words=(guardd %s); CURRENT=%d; _guardd\n", quoteAll(p.words), len(p.words)+1)
	}
	compare(t, ps, runShell(t, "zsh", "-f", "-c", b.String()))
}

// TestFishCompletion checks that fish accepts the script and that its
// completions (complete -C) are exactly the table's commands, subcommands
// and flags.
func TestFishCompletion(t *testing.T) {
	needShell(t, "fish")
	path := script(t, "fish")
	runShell(t, "fish", "--no-execute", path)
	ps := probes(t, false)
	var b strings.Builder
	fmt.Fprintf(&b, "source %s\n", fishQuote(path))
	for _, p := range ps {
		fmt.Fprintf(&b, "echo (complete -C %s | string replace -r '\\t.*' '')\n", fishQuote("guardd "+strings.Join(p.words, " ")))
	}
	compare(t, ps, runShell(t, "fish", "--no-config", "-c", b.String()))
}

func quoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shQuote(w)
	}
	return strings.Join(q, " ")
}

// TestManPage checks that the man page names every command with its
// synopsis and every flag of each, and that groff renders it without a
// warning.
func TestManPage(t *testing.T) {
	page, _, err := runCmd(t, nil, "man")
	if err != nil {
		t.Fatal(err)
	}
	sections := regexp.MustCompile(`(?m)^\.SS `).Split(page, -1)[1:]
	for _, l := range leaves(commands(), "") {
		head := `"` + roffText(strings.TrimSpace("guardd "+l.path+" "+l.c.synopsis)) + `"`
		i := slices.IndexFunc(sections, func(s string) bool { return strings.HasPrefix(s, head+"\n") })
		if i < 0 {
			t.Errorf("no section %s", head)
			continue
		}
		fs := newFlagSet(l.path, l.c.flags, func(string) (string, bool) { return "", false })
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(sections[i], `\-\-`+roffText(f.Name)+" ") && !strings.Contains(sections[i], `\-\-`+roffText(f.Name)+"\n") {
				t.Errorf("guardd %s: no --%s", l.path, f.Name)
			}
		})
	}
	if _, err := exec.LookPath("groff"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("groff not found: .ci/run installs Debian's groff-base package")
		}
		t.Skip("groff is not installed: the page's roff is not checked")
	}
	cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-P-cbou")
	cmd.Stdin = strings.NewReader(page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v\n%s", err, stderr.String())
	}
	// Rendered, every command is there as a reader sees it.
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, l := range leaves(commands(), "") {
		if !strings.Contains(text, "guardd "+l.path) {
			t.Errorf("the rendered page lacks %q", "guardd "+l.path)
		}
	}
}

// TestCompletionUsage checks the completion command's own mistakes.
func TestCompletionUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "completion: want one shell: bash, zsh or fish"},
		{[]string{"tcsh"}, `completion: unknown shell "tcsh" (want bash, zsh or fish)`},
		{[]string{"bash", "zsh"}, "completion: want one shell: bash, zsh or fish"},
	} {
		if _, _, err := runCmd(t, nil, append([]string{"completion"}, c.args...)...); err == nil || err.Error() != c.want {
			t.Errorf("completion %v: got %v, want %q", c.args, err, c.want)
		}
	}
	if _, _, err := runCmd(t, nil, "man", "extra"); err == nil {
		t.Error("man extra: got no error, want a usage error")
	}
}
