// Package metrics exposes what guardd sees in the Prometheus text format,
// for teams that already alert from Prometheus: balances, runway, grants
// expiring, recharges, findings, poll errors and durations, deliveries.
// Amounts are exported as floats: they are for graphs and thresholds, never
// for arithmetic.
package metrics

import (
	"net/http"

	"github.com/guardd/guardd/internal/guard"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds guardd's collectors in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	effective, derived, shown, runway, burn, expiring, recharges *prometheus.GaugeVec
	lastPoll                                                     *prometheus.GaugeVec
	findings                                                     *prometheus.GaugeVec
	pollErrors                                                   *prometheus.CounterVec
	pollDuration                                                 *prometheus.HistogramVec
	partsMissing                                                 *prometheus.GaugeVec
	delivered, deliveryFailed, givenUp                           prometheus.Counter
	cycles                                                       prometheus.Counter
}

// New returns the metrics, with Go and process collectors.
func New() *Metrics {
	account := []string{"account", "currency"}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "guardd", Name: name, Help: help}, labels)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "guardd", Name: name, Help: help})
	}
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		effective:    gauge("effective_balance", "Unexpired credit that can really be spent (derived: see effective_balance_derived).", account...),
		derived:      gauge("effective_balance_derived", "1 when effective_balance is derived from the account's balance_anchor, plus receipts, minus costs; 0 when the provider shows it.", "account"),
		shown:        gauge("shown_balance", "The balance the provider shows (may count expired grants).", account...),
		runway:       gauge("runway_seconds", "How long the effective balance lasts at the recent burn; absent when unknown or endless.", "account"),
		burn:         gauge("burn_per_day", "Average consumption per day over the burn window.", account...),
		expiring:     gauge("grant_credit_expiring_14d", "Unused grant credit expiring within 14 days.", account...),
		recharges:    gauge("recharges_24h", "Recharges (charges or inferred purchases) in the last 24 hours.", "account"),
		lastPoll:     gauge("last_successful_poll_timestamp_seconds", "Time of the last poll that read the account.", "account"),
		findings:     gauge("findings", "Findings holding at the last evaluation, notified or not.", "account", "rule", "severity"),
		partsMissing: gauge("parts_unavailable", "1 when the last poll could not read this part of the account.", "account", "part"),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "guardd", Name: "poll_errors_total",
			Help: "Polls that read nothing usable."}, []string{"account"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "guardd", Name: "poll_duration_seconds",
			Help: "How long a poll of one account took.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}, []string{"account"}),
		delivered:      counter("notifications_delivered_total", "Notifications a receiver accepted."),
		deliveryFailed: counter("notifications_failed_total", "Delivery attempts that failed and will be retried."),
		givenUp:        counter("notifications_given_up_total", "Notifications given up on after every attempt failed."),
		cycles:         counter("cycles_total", "Poll and evaluation cycles run."),
	}
	m.reg.MustRegister(m.effective, m.derived, m.shown, m.runway, m.burn, m.expiring, m.recharges, m.lastPoll, m.findings,
		m.partsMissing, m.pollErrors, m.pollDuration, m.delivered, m.deliveryFailed, m.givenUp, m.cycles,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics page.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Observe records what one cycle did.
func (m *Metrics) Observe(rep guard.Report) {
	m.cycles.Inc()
	m.delivered.Add(float64(rep.Delivery.Sent))
	m.deliveryFailed.Add(float64(rep.Delivery.Failed))
	m.givenUp.Add(float64(rep.Delivery.GaveUp))
	for name, ar := range rep.Accounts {
		m.pollDuration.WithLabelValues(name).Observe(ar.Took.Seconds())
		if !ar.OK {
			m.pollErrors.WithLabelValues(name).Inc()
			continue
		}
		m.lastPoll.WithLabelValues(name).Set(float64(rep.At.Unix()))
		m.recharges.WithLabelValues(name).Set(float64(ar.Recharges24h))
		m.expiring.WithLabelValues(name, string(ar.ExpiringSoon.Currency())).Set(ar.ExpiringSoon.Amount().InexactFloat64())
		m.partsMissing.DeletePartialMatch(prometheus.Labels{"account": name})
		for p := range ar.Unavailable {
			m.partsMissing.WithLabelValues(name, string(p)).Set(1)
		}
	}
	for name, s := range rep.States {
		cur := string(s.Effective.Currency())
		if s.EffectiveKnown {
			m.effective.WithLabelValues(name, cur).Set(s.Effective.Amount().InexactFloat64())
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
			m.shown.WithLabelValues(name, string(s.Shown.Currency())).Set(s.Shown.Amount().InexactFloat64())
		} else {
			m.shown.DeletePartialMatch(prometheus.Labels{"account": name})
		}
		rw := s.Runway
		if rw.Known {
			m.burn.WithLabelValues(name, string(rw.BurnPerDay.Currency())).Set(rw.BurnPerDay.Amount().InexactFloat64())
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
