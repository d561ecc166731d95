package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's Prometheus metrics, per plug-in and operation:
// calls by outcome, their latency, and each plug-in's circuit state.
type Metrics struct {
	calls   *prometheus.CounterVec
	latency *prometheus.HistogramVec
	breaker *prometheus.GaugeVec
}

// NewMetrics returns unregistered metrics; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portico_plugin_calls_total",
			Help: "Calls to plug-ins through the gateway, by plug-in, operation and outcome."}, []string{"plugin", "operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portico_plugin_call_seconds",
			Help:    "Time a plug-in call took through the gateway, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"plugin", "operation"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "portico_plugin_circuit_state",
			Help: "A plug-in's circuit breaker: 0 closed, 1 half-open, 2 open."}, []string{"plugin"}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.calls, m.latency, m.breaker}
}

func (m *Metrics) observe(pluginID, op, outcome string, d time.Duration) {
	m.calls.WithLabelValues(pluginID, op, outcome).Inc()
	m.latency.WithLabelValues(pluginID, op).Observe(d.Seconds())
}
