package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/store"
	"go.uber.org/zap"
)

// Handler serves the pages: the overview at /, an account's page at
// /accounts/NAME (?from=YYYY-MM-DD&to=YYYY-MM-DD chooses the period), and
// the alerts, silences and deliveries at /alerts. It only reads.
type Handler struct {
	// State returns the config and state database the daemon runs with
	// now (they change on reload); a nil store answers 503.
	State func() (*config.Config, *store.Store)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *zap.Logger

	mux *http.ServeMux
}

// NewHandler returns a handler reading from state.
func NewHandler(state func() (*config.Config, *store.Store), now func() time.Time, log *zap.Logger) *Handler {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	h := &Handler{State: state, Now: now, Log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.page(func(ctx context.Context, r *http.Request, cfg *config.Config, st *store.Store, now time.Time, b *bytes.Buffer) error {
		p, err := LoadOverview(ctx, cfg, st, now)
		if err != nil {
			return err
		}
		return RenderOverview(b, p)
	}))
	h.mux.HandleFunc("GET /accounts/{name}", h.page(func(ctx context.Context, r *http.Request, cfg *config.Config, st *store.Store, now time.Time, b *bytes.Buffer) error {
		q := r.URL.Query()
		period, err := ParsePeriod(q.Get("from"), q.Get("to"))
		if err != nil {
			return &badRequest{err}
		}
		p, err := LoadAccount(ctx, cfg, st, r.PathValue("name"), period, now)
		if err != nil {
			return err
		}
		return RenderAccount(b, p)
	}))
	h.mux.HandleFunc("GET /alerts", h.page(func(ctx context.Context, r *http.Request, cfg *config.Config, st *store.Store, now time.Time, b *bytes.Buffer) error {
		p, err := LoadAlerts(ctx, cfg, st, now)
		if err != nil {
			return err
		}
		return RenderAlerts(b, p)
	}))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, "Not found", "guardd has no page at "+r.URL.Path+".")
	})
	return h
}

type badRequest struct{ err error }

func (e *badRequest) Error() string { return e.err.Error() }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp+"; frame-ancestors 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

type loader func(ctx context.Context, r *http.Request, cfg *config.Config, st *store.Store, now time.Time, b *bytes.Buffer) error

// page renders a page in full before answering, so that a failure is an
// error page and never half a page.
func (h *Handler) page(load loader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cfg, st := h.State()
		if cfg == nil || st == nil {
			h.fail(w, http.StatusServiceUnavailable, "No state yet", "guardd has no state database open.")
			return
		}
		var b bytes.Buffer
		err := load(r.Context(), r, cfg, st, h.Now().UTC(), &b)
		var bad *badRequest
		switch {
		case errors.As(err, &bad):
			h.fail(w, http.StatusBadRequest, "Bad period", bad.Error())
			return
		case errors.Is(err, ErrNoAccount):
			h.fail(w, http.StatusNotFound, "No such account", err.Error()+" in the config.")
			return
		case err != nil:
			h.Log.Error("page failed", zap.String("path", r.URL.Path), zap.Error(err))
			h.fail(w, http.StatusInternalServerError, "Page failed", "guardd could not read its state for this page; its log says why.")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	}
}

func (h *Handler) fail(w http.ResponseWriter, code int, title, msg string) {
	var b bytes.Buffer
	if err := renderError(&b, title, msg, h.Now().UTC()); err != nil {
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}
