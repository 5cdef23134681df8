package main

import (
	"context"
	"fmt"
	"io"

	"github.com/guardd/guardd/internal/ruletest"
)

// cmdTest runs rule test files and prints a diff for each that fails.
func cmdTest(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer) error {
	fs := newFlagSet("test", nil, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd test TEST.yaml...\n\n"+
			"Plays each test's history through the rules and checks the findings expected at the\n"+
			"given times (see docs/rules.md, \"Testing rules\"). Exits 1 if any test fails, or when\n"+
			"SIGINT or SIGTERM stops it.\n")
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usagef("test: want at least one test file")
	}
	failed := 0
	for i, path := range fs.Args() {
		res, err := ruletest.Run(ctx, path, getenv)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("test interrupted (%d of %d files run): %w", i, fs.NArg(), err)
		}
		if err != nil {
			return err
		}
		if res.Passed() {
			fmt.Fprintf(stdout, "PASS %s\n", path)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s\n", path)
		for _, f := range res.Failures {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d rule tests failed", failed, fs.NArg())
	}
	return nil
}
