package poller

import (
	"context"
	"errors"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/probe"
)

// Prober is implemented by the Config of every source that reads a
// provider's API (a test walks the table of sources to hold every such
// type to it): `guardd validate --online` tries each configured key once.
type Prober interface {
	// Probe makes one cheap, read-only request per key, with the source's
	// own request code, for account a at now, and says for each key
	// whether it works and what it reads, or why not and what to fix. A
	// failed request is never retried.
	Probe(ctx context.Context, a billing.Account, now time.Time) []probe.Result
}

// ProbeResult is the result of a key's request that returned err, as a
// source's read returns it: an answer the source cannot decode is
// unexpected; the rest is as probe.FromHTTP says.
func ProbeResult(credential string, err error) probe.Result {
	r := probe.FromHTTP(credential, err)
	if err != nil && errors.Is(err, ErrInvalid) && r.Outcome != probe.Unexpected {
		r.Outcome, r.Detail, r.Fix = probe.Unexpected, err.Error(), probe.CheckBaseURL
	}
	return r
}

// Probe makes a source's client for probing, whose requests are tried
// once (open completes the options with the source's settings), and runs
// try with it. A client that cannot be made is one unexpected result for
// credential.
func Probe[C any](credential string, open func(httpx.Options) (C, error), try func(C) []probe.Result) []probe.Result {
	cl, err := open(httpx.Options{MaxAttempts: 1})
	if err != nil {
		return []probe.Result{{Credential: credential, Outcome: probe.Unexpected, Detail: err.Error()}}
	}
	return try(cl)
}

// Opened returns a source's new client as a Source, or its error (never a
// nil client in a non-nil Source).
func Opened[C Source](cl C, err error) (Source, error) {
	if err != nil {
		return nil, err
	}
	return cl, nil
}
