package provider

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/secret"
)

// Observation builds one Fetch's observation part by part and decides what
// Fetch returns, following the poller.Source contract: parts that failed are
// marked Unavailable with the reason; when no part could be read the error
// joins the reasons (each wrapping poller.ErrUnavailable or ErrInvalid, the
// HTTP kit's errors mapped to them) and the observation must be dropped.
type Observation struct {
	obs     billing.Observation
	fails   []partError
	read    int
	secrets []secret.Value
}

// partError is one failure and the parts it made unavailable.
type partError struct {
	parts []string
	err   error
}

// NewObservation starts an observation of a poll at now. secrets are
// scrubbed from every reason.
func NewObservation(now time.Time, secrets ...secret.Value) *Observation {
	return &Observation{
		obs:     billing.Observation{At: now.UTC(), Parts: make(map[billing.Part]billing.PartStatus)},
		secrets: secrets,
	}
}

// Data returns the observation being built, for the caller to fill in the
// parts it read.
func (o *Observation) Data() *billing.Observation { return &o.obs }

// Read marks part as read from source, describing the poll time.
func (o *Observation) Read(part billing.Part, source string) {
	o.obs.Parts[part] = billing.PartStatus{Source: source, AsOf: o.obs.At}
	o.read++
}

// Fail marks part as unavailable: it was tried at source and err says why.
func (o *Observation) Fail(part billing.Part, source string, err error) {
	cause := causeOf(err)
	err = secret.ScrubError(sourceError(err), o.secrets...)
	msg := err.Error()
	o.obs.Parts[part] = billing.PartStatus{Source: source, AsOf: o.obs.At, Unavailable: msg, Cause: cause}
	for i := range o.fails {
		// One endpoint failing for two parts (OpenAI's grants and
		// balance) is said once.
		if o.fails[i].err.Error() == msg {
			o.fails[i].parts = append(o.fails[i].parts, string(part))
			return
		}
	}
	o.fails = append(o.fails, partError{parts: []string{string(part)}, err: err})
}

// Result returns the observation, or an error when nothing could be read.
func (o *Observation) Result() (billing.Observation, error) {
	if o.read > 0 {
		return o.obs, nil
	}
	if len(o.fails) == 0 {
		return billing.Observation{}, errors.New("no part was read")
	}
	return billing.Observation{}, joinedError(o.fails)
}

// causeOf sorts a failure into its kind.
func causeOf(err error) billing.Cause {
	if se, ok := errors.AsType[*httpx.StatusError](err); ok {
		switch {
		case se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden:
			return billing.CauseKeyRefused
		case se.Code == http.StatusTooManyRequests:
			return billing.CauseRateLimited
		}
		return billing.CauseProviderError
	}
	if errors.Is(err, poller.ErrKeyRefused) {
		return billing.CauseKeyRefused
	}
	if errors.Is(err, httpx.ErrInvalid) || errors.Is(err, poller.ErrInvalid) {
		return billing.CauseInvalid
	}
	return billing.CauseUnreachable
}

// sourceError gives an error of the HTTP kit the poller.Source contract's
// sentinel for its kind, keeping its text: httpx.ErrUnavailable stands for
// poller.ErrUnavailable and httpx.ErrInvalid for poller.ErrInvalid.
func sourceError(err error) error {
	var kinds []error
	if errors.Is(err, httpx.ErrUnavailable) {
		kinds = append(kinds, poller.ErrUnavailable)
	}
	if errors.Is(err, httpx.ErrInvalid) {
		kinds = append(kinds, poller.ErrInvalid)
	}
	if len(kinds) == 0 {
		return err
	}
	return &kindError{err: err, kinds: kinds}
}

// kindError is err, also matching the sentinels in kinds.
type kindError struct {
	err   error
	kinds []error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return append([]error{e.err}, e.kinds...) }

// joinedError lists the failures on one line; errors.Is and errors.As see
// each of them.
type joinedError []partError

func (e joinedError) Error() string {
	var b strings.Builder
	for i, pe := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.Join(pe.parts, " and "))
		b.WriteString(": ")
		b.WriteString(pe.err.Error())
	}
	return b.String()
}

func (e joinedError) Unwrap() []error {
	out := make([]error, len(e))
	for i, pe := range e {
		out[i] = pe.err
	}
	return out
}
