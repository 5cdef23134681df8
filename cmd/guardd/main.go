// Command guardd watches prepaid LLM API accounts for billing anomalies —
// auto-recharge loops, expired credit still shown, idle grants — and tells
// people, with the evidence and the real balance.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	// SIGHUP asks guardd run to reload its config; the send never blocks.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	err := run(ctx, os.Args[1:], proc{getenv: os.LookupEnv, stdout: os.Stdout, stderr: os.Stderr, reload: reload})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "guardd: %v\n", err)
		os.Exit(exitCode(err))
	}
}
