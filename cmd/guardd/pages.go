package main

import (
	"net/http"

	"github.com/guardd/guardd/internal/config"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/web"
	"go.uber.org/zap"
)

// pages serves the web pages (internal/web) beside /metrics: they read the
// running config and its state database, the reloaded ones after a
// reload.
func (d *daemon) pages(log *zap.Logger) http.Handler {
	return web.NewHandler(func() (*config.Config, *store.Store) {
		a := d.shown.Load()
		if a == nil {
			return nil, nil
		}
		return a.cfg, a.store
	}, d.clk.Now, log)
}
