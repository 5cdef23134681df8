package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
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

// TestFlagsAfterArguments checks that flags may follow positional
// arguments, that "--" ends the flags, and that values and booleans are
// told apart by the flag package's rules.
func TestFlagsAfterArguments(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // "config=… output=… all=… args=[…]", or the error
	}{
		{"flags first", []string{"--config", "c.yaml", "x.json"}, "config=c.yaml output=text all=false args=[x.json]"},
		{"flags after", []string{"x.json", "--output", "json", "--config=c.yaml"}, "config=c.yaml output=json all=false args=[x.json]"},
		{"flags between", []string{"a", "-all", "b", "--output=json", "c"}, "config= output=json all=true args=[a b c]"},
		{"boolean with a value", []string{"a", "--all=false"}, "config= output=text all=false args=[a]"},
		{"a boolean takes no value", []string{"--all", "a"}, "config= output=text all=true args=[a]"},
		{"a value may start with a dash", []string{"--config", "-c.yaml", "a"}, "config=-c.yaml output=text all=false args=[a]"},
		{"double dash ends the flags", []string{"a", "--", "--output", "json"}, "config= output=text all=false args=[a --output json]"},
		{"a lone dash is an argument", []string{"-", "--all"}, "config= output=text all=true args=[-]"},
		{"no arguments", nil, "config= output=text all=false args=[]"},
		{"unknown flag after an argument", []string{"a", "--nope"}, "t: flag provided but not defined: -nope"},
		{"missing value at the end", []string{"a", "--output"}, "t: flag needs an argument: -output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			config := fs.String("config", "", "")
			output := fs.String("output", "text", "")
			all := fs.Bool("all", false, "")
			var got string
			if ok, err := parseFlags(fs, c.args, io.Discard); err != nil {
				got = err.Error()
			} else if ok {
				got = fmt.Sprintf("config=%s output=%s all=%t args=%v", *config, *output, *all, fs.Args())
			}
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	for _, h := range []string{"-h", "--help", "-help"} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		if ok, err := parseFlags(fs, []string{"a", h}, io.Discard); ok || err != nil {
			t.Errorf("%s after an argument: got %v, %v; want the help and no error", h, ok, err)
		}
	}
}

// TestReplayFlagAfterHistory runs the README's kind of command with the
// flag last, as people type it.
func TestReplayFlagAfterHistory(t *testing.T) {
	out, _, err := runCmd(t, nil, "replay", "examples/hourly-recharge.json", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "{") || strings.Contains(out, "replayed ") {
		t.Errorf("got %.200q, want JSON lines only", out)
	}
}

// TestSilenceTheWayPeopleType adds silences as people type them: --for in
// days, flags after the ID, a mistyped rule, and no --by.
func TestSilenceTheWayPeopleType(t *testing.T) {
	slack := newRecordingSlack(t)
	cfg := stateConfig(t, t.TempDir(), "healthy.json")
	env := map[string]string{"TEAM_SLACK_URL": slack.srv.URL + "/services/T0/B0/secret", "LOGNAME": "bob"}
	if _, _, err := runCmd(t, env, "check", "--config", cfg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string // the output's start, or the error's
	}{
		{"days", []string{"add", "--rule", "runway-low", "--for", "2d", "--comment", "ticket 1", "--config", cfg}, "silence #1: runway-low on every account until "},
		{"days and hours, flags in any order", []string{"add", "--config=" + cfg, "--comment", "ticket 2", "--for=1d12h", "--rule", "source-blind"}, "silence #2: source-blind on every account until "},
		{"bad duration", []string{"add", "--config", cfg, "--rule", "runway-low", "--comment", "x", "--for", "2 days"}, `silence add: invalid value "2 days" for flag -for: invalid duration "2 days" (want a number and a unit, s, m, h or d, such as "6h")`},
		{"mistyped rule", []string{"add", "--config", cfg, "--rule", "runway_low", "--for", "1h", "--comment", "x"}, `silence add: unknown rule "runway_low" (did you mean "runway-low"?)`},
		{"unknown rule", []string{"add", "--config", cfg, "--rule", "frobnicate", "--for", "1h", "--comment", "x"}, `silence add: unknown rule "frobnicate" (want one of recharge-burst, `},
		{"expire with the flag after the ID", []string{"expire", "2", "--config", cfg}, "silence #2 expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := runCmd(t, env, append([]string{"silence"}, c.args...)...)
			if err != nil {
				out = err.Error()
			}
			if !strings.HasPrefix(out, c.want) {
				t.Errorf("got  %s\nwant %s…", out, c.want)
			}
		})
	}
	out, _, err := runCmd(t, env, "silence", "list", "--all", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	// "#1  runway-low on every account  START to END  active  by bob: ticket 1"
	lineRE := regexp.MustCompile(`(?m)^#(\d)  \S+ on every account  (.{20}) to (.{20})  .*  by (\S+): `)
	spans := map[string]time.Duration{}
	for _, m := range lineRE.FindAllStringSubmatch(out, -1) {
		start, err1 := time.Parse(alert.TimeLayout, m[2])
		end, err2 := time.Parse(alert.TimeLayout, m[3])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		spans[m[1]] = end.Sub(start)
		if m[4] != "bob" {
			t.Errorf("silence #%s by %s, want bob ($LOGNAME, as $USER is unset)", m[1], m[4])
		}
	}
	if spans["1"] != 48*time.Hour || spans["2"] != 36*time.Hour {
		t.Errorf("silences last %v, want #1 48h and #2 36h:\n%s", spans, out)
	}
}

func TestWhoAmI(t *testing.T) {
	named := func(name string) func() (*user.User, error) {
		return func() (*user.User, error) { return &user.User{Username: name}, nil }
	}
	unknown := func() (*user.User, error) { return nil, errors.New("user: unknown userid 4242") }
	for _, c := range []struct {
		name    string
		env     map[string]string
		current func() (*user.User, error)
		want    string // "" for an error
	}{
		{"USER first", map[string]string{"USER": "alice", "LOGNAME": "bob"}, named("carol"), "alice"},
		{"then LOGNAME", map[string]string{"LOGNAME": "bob"}, named("carol"), "bob"},
		{"an empty USER does not count", map[string]string{"USER": "", "LOGNAME": "bob"}, named("carol"), "bob"},
		{"then the account", nil, named("carol"), "carol"},
		{"an account without a name", nil, named(""), ""},
		{"no account", nil, unknown, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := whoAmI(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }, c.current)
			switch {
			case c.want == "" && (err == nil || !strings.Contains(err.Error(), "give --by NAME")):
				t.Errorf("got %q, %v; want an error asking for --by", got, err)
			case c.want != "" && (err != nil || got != c.want):
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
