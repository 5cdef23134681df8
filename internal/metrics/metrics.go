// Package metrics exposes what guardd sees in the Prometheus text format,
// for teams that already alert from Prometheus: balances, runway, grants
// expiring, recharges, findings, poll errors and durations, deliveries, and
// the build.
//
// Units: times are in seconds. Money is in whole units of the currency its
// `currency` label names (USD: dollars, CNY: yuan; never cents), so every
// series that carries money carries that label, and series in different
// currencies are never one series. Amounts are exported as floats: they are
// for graphs and thresholds, never for arithmetic.
package metrics

import (
	"net/http"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shopspring/decimal"
)

// Build identifies the running binary, for guardd_build_info.
type Build struct {
	// Version is the release ("v1.2.3", "dev"); Revision the VCS
	// revision, empty when unknown; GoVersion the toolchain ("go1.26.0").
	Version, Revision, GoVersion string
}

// Metrics holds guardd's collectors in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	effective, shown, burn, expiring     *prometheus.GaugeVec // money: account, currency
	derived, runway, recharges, lastPoll *prometheus.GaugeVec
	findings                             *prometheus.GaugeVec
	pollErrors                           *prometheus.CounterVec
	pollDuration                         *prometheus.HistogramVec
	partsMissing                         *prometheus.GaugeVec
	delivered, deliveryFailed, givenUp   prometheus.Counter
	cycles                               prometheus.Counter
	// own are guardd's collectors, as registered.
	own []prometheus.Collector
}

// moneyUnit ends the help of a gauge of money.
const moneyUnit = " In whole units of the currency label (USD: dollars)."

// New returns the metrics of the binary b, with Go and process collectors.
func New(b Build) *Metrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "guardd", Name: name, Help: help}, labels)
	}
	moneyGauge := func(name, help string) *prometheus.GaugeVec {
		return gauge(name, help+moneyUnit, "account", "currency")
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "guardd", Name: name, Help: help})
	}
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		effective: moneyGauge("effective_balance", "Unexpired credit that can really be spent (derived: see effective_balance_derived)."),
		derived:   gauge("effective_balance_derived", "1 when effective_balance is derived from the account's balance_anchor, plus receipts, minus costs; 0 when the provider shows it.", "account"),
		shown:     moneyGauge("shown_balance", "The balance the provider shows (may count expired grants)."),
		runway:    gauge("runway_seconds", "Seconds the effective balance lasts at the recent burn; absent when unknown or endless.", "account"),
		burn:      moneyGauge("burn_per_second", "Average consumption per second over the burn window."),
		expiring:  moneyGauge("grant_credit_expiring_soon", "Unused grant credit expiring within the next 1209600 seconds (14 days)."),
		recharges: gauge("recent_recharges", "Recharges (charges or inferred purchases) in the last 86400 seconds (24 hours).", "account"),
		lastPoll:  gauge("last_successful_poll_timestamp_seconds", "Unix time in seconds of the last poll that read the account.", "account"),
		findings:  gauge("findings", "Findings holding at the last evaluation, notified or not.", "account", "rule", "severity"),
		partsMissing: gauge("parts_unavailable", "1 when the last poll could not read this part of the account, by the kind of cause "+
			"(key_refused, rate_limited, provider_error, unreachable, invalid_response, mailbox; empty when unknown).", "account", "part", "cause"),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "guardd", Name: "poll_errors_total",
			Help: "Polls that read nothing usable."}, []string{"account"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "guardd", Name: "poll_duration_seconds",
			Help: "Seconds a poll of one account took.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}, []string{"account"}),
		delivered:      counter("notifications_delivered_total", "Notifications a receiver accepted."),
		deliveryFailed: counter("notifications_failed_total", "Delivery attempts that failed and will be retried."),
		givenUp:        counter("notifications_given_up_total", "Notifications given up on after every attempt failed."),
		cycles:         counter("cycles_total", "Poll and evaluation cycles run."),
	}
	build := gauge("build_info", "Always 1; the labels say which guardd is running.", "version", "revision", "goversion")
	build.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	m.own = []prometheus.Collector{m.effective, m.derived, m.shown, m.runway, m.burn, m.expiring, m.recharges, m.lastPoll, m.findings,
		m.partsMissing, m.pollErrors, m.pollDuration, m.delivered, m.deliveryFailed, m.givenUp, m.cycles, build}
	m.reg.MustRegister(m.own...)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics page.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// secondsPerDay converts a burn per day to one per second.
var secondsPerDay = decimal.NewFromInt(24 * 60 * 60)

// setMoney sets account's series of g to v, in v's currency only: a series
// left in another currency (the account's currency changed) is dropped.
func setMoney(g *prometheus.GaugeVec, account string, v billing.Money) {
	g.DeletePartialMatch(prometheus.Labels{"account": account})
	g.WithLabelValues(account, string(v.Currency())).Set(v.Amount().InexactFloat64())
}

// ObserveDelivery records what one drain of the outbox did.
func (m *Metrics) ObserveDelivery(res lifecycle.DrainResult) {
	m.delivered.Add(float64(res.Sent))
	m.deliveryFailed.Add(float64(res.Failed))
	m.givenUp.Add(float64(res.GaveUp))
}

// Observe records what one cycle's polls did; its delivery is
// ObserveDelivery's.
func (m *Metrics) Observe(rep guard.Report) {
	m.cycles.Inc()
	for name, ar := range rep.Accounts {
		m.pollDuration.WithLabelValues(name).Observe(ar.Took.Seconds())
		if !ar.OK {
			m.pollErrors.WithLabelValues(name).Inc()
			continue
		}
		m.lastPoll.WithLabelValues(name).Set(float64(rep.At.Unix()))
		m.recharges.WithLabelValues(name).Set(float64(ar.Recharges24h))
		setMoney(m.expiring, name, ar.ExpiringSoon)
		m.partsMissing.DeletePartialMatch(prometheus.Labels{"account": name})
		for p, st := range ar.Unavailable {
			m.partsMissing.WithLabelValues(name, string(p), string(st.Cause)).Set(1)
		}
	}
	for name, s := range rep.States {
		if s.EffectiveKnown {
			setMoney(m.effective, name, s.Effective)
			derived := 0.0
			if s.DerivedFrom != nil {
				derived = 1
			}
			m.derived.WithLabelValues(name).Set(derived)
		} else {
			m.effective.DeletePartialMatch(prometheus.Labels{"account": name})
			m.derived.DeleteLabelValues(name)
		}
		if s.ShownKnown {
			setMoney(m.shown, name, s.Shown)
		} else {
			m.shown.DeletePartialMatch(prometheus.Labels{"account": name})
		}
		rw := s.Runway
		if rw.Known {
			perDay := rw.BurnPerDay
			setMoney(m.burn, name, billing.NewMoney(perDay.Amount().Div(secondsPerDay), perDay.Currency()))
		} else {
			m.burn.DeletePartialMatch(prometheus.Labels{"account": name})
		}
		if rw.Known && !rw.Endless {
			m.runway.WithLabelValues(name).Set(rw.Lasts.Seconds())
		} else {
			m.runway.DeleteLabelValues(name)
		}
	}
	for name, holding := range rep.Holding {
		m.findings.DeletePartialMatch(prometheus.Labels{"account": name})
		for _, f := range holding {
			m.findings.WithLabelValues(name, f.Rule, string(f.Severity)).Inc()
		}
	}
}
