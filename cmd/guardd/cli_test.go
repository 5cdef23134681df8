package main

import (
	"errors"
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// leaves walks the table of commands: every command that runs (a
// subcommand, or a command without any), with its words ("silence add").
func leaves(cmds []command, parent string) (out []struct {
	path string
	c    command
}) {
	for _, c := range cmds {
		path := strings.TrimSpace(parent + " " + c.name)
		if c.subs != nil {
			out = append(out, leaves(c.subs, path)...)
			continue
		}
		out = append(out, struct {
			path string
			c    command
		}{path, c})
	}
	return out
}

// TestTableFlagsAreTheCommandsFlags checks that the flags a table row
// declares are exactly those its command parses (as its -h lists them), and
// that its synopsis names only those: a flag declared anywhere but in the
// row's flags function fails here.
func TestTableFlagsAreTheCommandsFlags(t *testing.T) {
	flagRE := regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)`)
	synRE := regexp.MustCompile(`--([a-z][a-z-]*)`)
	for _, l := range leaves(commands(), "") {
		t.Run(l.path, func(t *testing.T) {
			fs := newFlagSet(l.path, l.c.flags, func(string) (string, bool) { return "", false })
			var table []string
			fs.VisitAll(func(f *flag.Flag) { table = append(table, f.Name) })
			_, errOut, err := runCmd(t, nil, append(strings.Fields(l.path), "-h")...)
			if err != nil {
				t.Fatalf("-h: %v", err)
			}
			var shown []string
			for _, m := range flagRE.FindAllStringSubmatch(errOut, -1) {
				shown = append(shown, m[1])
			}
			if !slices.Equal(shown, table) {
				t.Errorf("flags: -h shows %v, the table declares %v", shown, table)
			}
			for _, m := range synRE.FindAllStringSubmatch(l.c.synopsis, -1) {
				if !slices.Contains(table, m[1]) {
					t.Errorf("synopsis %q names --%s, which is not a flag of %s", l.c.synopsis, m[1], l.path)
				}
			}
		})
	}
}

// TestDidYouMeanCommand checks the answer to a mistyped command or
// subcommand: a usage error naming the nearest one, if any is near.
func TestDidYouMeanCommand(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // the error; "" for none
	}{
		{"swapped letters", []string{"stauts"}, `unknown command "stauts" (did you mean "status"?)`},
		{"missing letter", []string{"valdate"}, `unknown command "valdate" (did you mean "validate"?)`},
		{"nothing near", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"subcommand", []string{"silence", "lst"}, `silence: unknown subcommand "lst" (did you mean "list"?)`},
		{"subcommand nothing near", []string{"notify", "send"}, `notify: unknown subcommand "send" (want test)`},
		{"no subcommand", []string{"silence"}, "silence: want a subcommand: add, list or expire"},
		{"help of a command of subcommands", []string{"silence", "-h"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, err := runCmd(t, nil, c.args...)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want none", err)
				}
			} else {
				var u *usageError
				if err == nil || err.Error() != c.want || !errors.As(err, &u) {
					t.Fatalf("got %v, want the usage error %q", err, c.want)
				}
			}
			if !strings.Contains(errOut, "Usage:") {
				t.Errorf("stderr: got %q, want the usage", errOut)
			}
		})
	}
}
