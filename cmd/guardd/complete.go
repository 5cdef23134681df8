package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/setting"
)

// The shell completions and the man page are made from the table of
// commands: each row's flags (declared by its flags function, as its run
// declares them) and the positional arguments its synopsis names.

// cliCommand is a command as completion and the man page describe it.
type cliCommand struct {
	path    []string // ["silence", "add"]
	command command
	flags   []cliFlag
	// args are the positional arguments the synopsis names ("HISTORY.json",
	// "FILE...", "bash|zsh|fish").
	args []string
	subs []cliCommand
}

// cliFlag is one flag of a command.
type cliFlag struct {
	name string
	// value names the flag's value ("FILE", "text|json", "duration"); ""
	// for a boolean flag.
	value string
	usage string
	def   string
}

// cli describes the table of commands.
func cli() []cliCommand {
	return describe(nil, commands())
}

func describe(parent []string, cmds []command) []cliCommand {
	if len(cmds) == 0 {
		return nil
	}
	out := make([]cliCommand, len(cmds))
	for i, c := range cmds {
		path := append(slices.Clone(parent), c.name)
		// No environment: the defaults shown are the built-in ones.
		fs := newFlagSet(strings.Join(path, " "), c.flags, func(string) (string, bool) { return "", false })
		d := cliCommand{path: path, command: c, subs: describe(path, c.subs)}
		fs.VisitAll(func(f *flag.Flag) {
			value, usage := flag.UnquoteUsage(f)
			if isBool(f) {
				value = ""
			}
			d.flags = append(d.flags, cliFlag{name: f.Name, value: value, usage: usage, def: f.DefValue})
		})
		if c.subs == nil {
			d.args = positionals(c.synopsis, d.flags)
		}
		out[i] = d
	}
	return out
}

// positionals returns the words of a synopsis that are neither flags nor
// their values: "[--config FILE] HISTORY.json" gives HISTORY.json.
func positionals(synopsis string, flags []cliFlag) []string {
	var out []string
	words := strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(synopsis))
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") {
			out = append(out, w)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		j := slices.IndexFunc(flags, func(f cliFlag) bool { return f.name == name })
		if !hasValue && j >= 0 && flags[j].value != "" {
			i++ // the flag's value
		}
	}
	return out
}

// completion is how a shell completes a word: from a list of choices, as a
// file, as a directory, or not at all (free text such as a comment).
type completion struct {
	choices     []string
	files, dirs bool
}

// completes says how to complete a value named name: "text|json" and
// "bash|zsh|fish" are choices, RULE is a rule's name, FILE, DIR and names
// with an extension (HISTORY.json) are paths, the rest is free text.
func completes(name string) completion {
	name = strings.TrimSuffix(name, "...")
	switch {
	case strings.Contains(name, "|"):
		return completion{choices: strings.Split(name, "|")}
	case name == "RULE":
		return completion{choices: rules.New(rules.DefaultParams()).Names()}
	case name == "DIR":
		return completion{dirs: true}
	case name == "FILE" || strings.Contains(name, "."):
		return completion{files: true}
	}
	return completion{}
}

// argCompletion says how to complete a command's positional arguments: as
// the first of them that has a completion.
func (c cliCommand) argCompletion() completion {
	for _, a := range c.args {
		if cp := completes(a); cp.files || cp.dirs || cp.choices != nil {
			return cp
		}
	}
	return completion{}
}

// all lists every command of the tree, parents before their subcommands.
func all(cmds []cliCommand) []cliCommand {
	var out []cliCommand
	for _, c := range cmds {
		out = append(out, c)
		out = append(out, all(c.subs)...)
	}
	return out
}

// shell is a shell guardd writes a completion script for.
type shell struct {
	name   string
	script func([]cliCommand) string
	// install says where the script goes.
	install string
}

var shells = []shell{
	{"bash", bashCompletion, "guardd completion bash > ~/.local/share/bash-completion/completions/guardd"},
	{"zsh", zshCompletion, "guardd completion zsh > ~/.zfunc/_guardd   (with fpath=(~/.zfunc $fpath) before compinit)"},
	{"fish", fishCompletion, "guardd completion fish > ~/.config/fish/completions/guardd.fish"},
}

func shellNames() []string {
	out := make([]string, len(shells))
	for i, sh := range shells {
		out[i] = sh.name
	}
	return out
}

func cmdCompletion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("completion", nil, nil)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd completion %s\n\n", strings.Join(shellNames(), "|"))
		fmt.Fprintln(fs.Output(), "Prints the shell completion script for guardd's commands, subcommands and flags:")
		for _, sh := range shells {
			fmt.Fprintf(fs.Output(), "  %-5s %s\n", sh.name+":", sh.install)
		}
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("completion: want one shell: %s", setting.OrList(shellNames()))
	}
	i := slices.IndexFunc(shells, func(sh shell) bool { return sh.name == fs.Arg(0) })
	if i < 0 {
		return usagef("completion: unknown shell %q (want %s)", fs.Arg(0), setting.OrList(shellNames()))
	}
	_, err := io.WriteString(stdout, shells[i].script(cli()))
	return err
}

// bashCompletion is the completion script for bash: the command (and
// subcommand) is the first word (two words) after guardd; after a flag
// that takes a value, the value's completion; file names only where a file
// is wanted.
func bashCompletion(cmds []cliCommand) string {
	var b strings.Builder
	b.WriteString(`# bash completion for guardd; generated by "guardd completion bash".
_guardd() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	if [[ $COMP_CWORD -eq 1 ]]; then
`)
	fmt.Fprintf(&b, "\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shQuote(strings.Join(cliNames(cmds), " ")+" --help --version"))
	b.WriteString("\t\treturn\n\tfi\n")
	b.WriteString("\tlocal key=${COMP_WORDS[1]}\n")
	b.WriteString("\tcase $key in\n")
	for _, c := range cmds {
		if c.subs == nil {
			continue
		}
		fmt.Fprintf(&b, "\t%s)\n", shQuote(c.command.name))
		b.WriteString("\t\tif [[ $COMP_CWORD -eq 2 ]]; then\n")
		fmt.Fprintf(&b, "\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shQuote(strings.Join(cliNames(c.subs), " ")))
		b.WriteString("\t\t\treturn\n\t\tfi\n")
		b.WriteString("\t\tkey=\"$key ${COMP_WORDS[2]}\"\n\t\t;;\n")
	}
	b.WriteString("\tesac\n")

	// The value of the flag before the word: each action with the flags
	// (as "COMMAND FLAG") it completes.
	var actions []string
	flagsOf := map[string][]string{}
	for _, c := range all(cmds) {
		for _, f := range c.flags {
			if f.value == "" {
				continue
			}
			a := bashAction(completes(f.value))
			if _, ok := flagsOf[a]; !ok {
				actions = append(actions, a)
			}
			flagsOf[a] = append(flagsOf[a], shQuote(strings.Join(c.path, " ")+" "+f.name))
		}
	}
	b.WriteString("\tif [[ $prev == -* ]]; then\n")
	b.WriteString("\t\tlocal flag=${prev#-}\n")
	b.WriteString("\t\tcase \"$key ${flag#-}\" in\n")
	for _, a := range actions {
		fmt.Fprintf(&b, "\t\t%s)\n\t\t\t%s\n\t\t\treturn\n\t\t\t;;\n", strings.Join(flagsOf[a], " | "), a)
	}
	b.WriteString("\t\tesac\n\tfi\n")

	b.WriteString("\tlocal flags=--help args=\"compopt +o default\"\n")
	b.WriteString("\tcase $key in\n")
	for _, c := range all(cmds) {
		if c.subs != nil {
			continue
		}
		var flags []string
		for _, f := range c.flags {
			flags = append(flags, "--"+f.name)
		}
		fmt.Fprintf(&b, "\t%s)\n", shQuote(strings.Join(c.path, " ")))
		if len(flags) > 0 {
			fmt.Fprintf(&b, "\t\tflags=%s\n", shQuote(strings.Join(append(flags, "--help"), " ")))
		}
		if cp := c.argCompletion(); cp.files || cp.dirs || cp.choices != nil {
			fmt.Fprintf(&b, "\t\targs=%s\n", shQuote(bashAction(cp)))
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString("\tesac\n")
	b.WriteString(`	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	else
		eval "$args"
	fi
}
complete -o default -F _guardd guardd
`)
	return b.String()
}

// bashAction is the bash code completing the word $cur. An empty answer
// falls back to file names (complete -o default); compopt turns that off.
func bashAction(cp completion) string {
	switch {
	case cp.choices != nil:
		return "COMPREPLY=($(compgen -W " + shQuote(strings.Join(cp.choices, " ")) + " -- \"$cur\"))"
	case cp.dirs:
		return "COMPREPLY=($(compgen -d -- \"$cur\"))"
	case cp.files:
		return ":"
	}
	return "compopt +o default"
}

// zshCompletion is the completion script for zsh (_arguments per command).
func zshCompletion(cmds []cliCommand) string {
	var b strings.Builder
	b.WriteString("#compdef guardd\n")
	b.WriteString("# zsh completion for guardd; generated by `guardd completion zsh`.\n\n")
	var emit func(cmds []cliCommand, depth int)
	emit = func(cmds []cliCommand, depth int) {
		fn := "_guardd"
		if depth > 0 {
			fn += "_" + strings.Join(cmds[0].path[:depth], "_")
		}
		fmt.Fprintf(&b, "%s() {\n", fn)
		b.WriteString("\tlocal -a commands\n\tcommands=(\n")
		for _, c := range cmds {
			fmt.Fprintf(&b, "\t\t%s\n", shQuote(zshEscape(c.command.name, ":")+":"+c.command.summary))
		}
		b.WriteString("\t)\n")
		b.WriteString("\tif (( CURRENT == 2 )); then\n")
		what := "guardd command"
		if depth > 0 {
			what = "guardd " + strings.Join(cmds[0].path[:depth], " ") + " subcommand"
		}
		fmt.Fprintf(&b, "\t\t_describe -t commands %s commands\n\t\treturn\n\tfi\n", shQuote(what))
		b.WriteString("\tshift words\n\t(( CURRENT-- ))\n")
		b.WriteString("\tcase ${words[1]} in\n")
		for _, c := range cmds {
			fmt.Fprintf(&b, "\t%s)\n", shQuote(c.command.name))
			if c.subs != nil {
				fmt.Fprintf(&b, "\t\t_guardd_%s\n\t\t;;\n", strings.Join(c.path, "_"))
				continue
			}
			b.WriteString("\t\t_arguments -S \\\n")
			for _, f := range c.flags {
				desc := zshEscape(f.usage, "[]")
				if f.value == "" {
					fmt.Fprintf(&b, "\t\t\t%s \\\n", shQuote("--"+f.name+"["+desc+"]"))
					continue
				}
				fmt.Fprintf(&b, "\t\t\t%s \\\n", shQuote("--"+f.name+"=["+desc+"]:"+zshEscape(f.value, ":")+":"+zshAction(completes(f.value))))
			}
			b.WriteString("\t\t\t'(- *)--help[show the help]'")
			if len(c.args) > 0 {
				fmt.Fprintf(&b, " \\\n\t\t\t%s", shQuote("*:"+zshEscape(c.args[0], ":")+":"+zshAction(c.argCompletion())))
			}
			b.WriteString("\n\t\t;;\n")
		}
		b.WriteString("\tesac\n}\n\n")
		for _, c := range cmds {
			if c.subs != nil {
				emit(c.subs, depth+1)
			}
		}
	}
	emit(cmds, 0)
	b.WriteString("if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n\t_guardd \"$@\"\nelse\n\tcompdef _guardd guardd\nfi\n")
	return b.String()
}

func zshAction(cp completion) string {
	switch {
	case cp.choices != nil:
		return "(" + strings.Join(cp.choices, " ") + ")"
	case cp.dirs:
		return "_files -/"
	case cp.files:
		return "_files"
	}
	return " "
}

// zshEscape backslash-escapes the characters special in an _arguments or
// _describe spec.
func zshEscape(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '\\' || strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

const fishHelpers = `# fish completion for guardd; generated by "guardd completion fish".

# __guardd_is WORD...: the words after guardd start with WORD...
function __guardd_is
	set -l words (commandline -opc)
	set -e words[1]
	set -l n (count $argv)
	test (count $words) -ge $n; and test "$words[1..$n]" = "$argv"
end

# __guardd_words N: N words follow guardd.
function __guardd_words
	test (count (commandline -opc)) -eq (math $argv[1] + 1)
end

complete -c guardd -f
`

// fishCompletion is the completion script for fish: one complete line per
// command, subcommand, flag and argument, conditioned on the words before.
func fishCompletion(cmds []cliCommand) string {
	var b strings.Builder
	b.WriteString(fishHelpers)
	var emit func(cmds []cliCommand, parent []string)
	emit = func(cmds []cliCommand, parent []string) {
		cond := fmt.Sprintf("__guardd_words %d", len(parent))
		if len(parent) > 0 {
			cond += "; and __guardd_is " + strings.Join(parent, " ")
		}
		for _, c := range cmds {
			fmt.Fprintf(&b, "complete -c guardd -n %s -a %s -d %s\n", fishQuote(cond), fishQuote(c.command.name), fishQuote(c.command.summary))
		}
		for _, c := range cmds {
			if c.subs != nil {
				emit(c.subs, c.path)
				continue
			}
			is := fishQuote("__guardd_is " + strings.Join(c.path, " "))
			for _, f := range c.flags {
				fmt.Fprintf(&b, "complete -c guardd -n %s -l %s", is, fishQuote(f.name))
				if f.value != "" {
					switch cp := completes(f.value); {
					case cp.choices != nil:
						fmt.Fprintf(&b, " -x -a %s", fishQuote(strings.Join(cp.choices, " ")))
					case cp.dirs:
						b.WriteString(" -x -a '(__fish_complete_directories)'")
					case cp.files:
						b.WriteString(" -r -F")
					default:
						b.WriteString(" -x")
					}
				}
				fmt.Fprintf(&b, " -d %s\n", fishQuote(f.usage))
			}
			switch cp := c.argCompletion(); {
			case cp.choices != nil:
				fmt.Fprintf(&b, "complete -c guardd -n %s -a %s\n", fishQuote("__guardd_words "+fmt.Sprint(len(c.path))+"; and __guardd_is "+strings.Join(c.path, " ")), fishQuote(strings.Join(cp.choices, " ")))
			case cp.files, cp.dirs:
				fmt.Fprintf(&b, "complete -c guardd -n %s -F\n", is)
			}
		}
	}
	emit(cmds, nil)
	return b.String()
}

func cliNames(cmds []cliCommand) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.command.name
	}
	return out
}

// shQuote quotes s for bash and zsh: in single quotes, each single quote
// closed, escaped and reopened.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fishQuote quotes s for fish, whose single quotes take \' and \\.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
