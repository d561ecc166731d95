package webhook

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/storage"
)

// Metrics are the block's Prometheus metrics: attempts by plug-in and
// outcome, and the platform's dead letters (read at scrape time, so every
// replica reports the same).
type Metrics struct {
	deliveries *prometheus.CounterVec
	dead       prometheus.Collector
}

// NewMetrics returns unregistered metrics over db; register Collectors.
func NewMetrics(db *storage.DB) *Metrics {
	return &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portico_webhook_deliveries_total",
			Help: "Webhook delivery attempts to plug-ins by plug-in and outcome (delivered, failed, dead, gone, throttled, stopped)."}, []string{"plugin", "outcome"}),
		dead: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portico_webhook_dead_letters",
			Help: "Webhook deliveries that failed every attempt and wait for a replay."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := DeadLetters(ctx, db)
			if err != nil {
				return -1
			}
			return float64(n)
		}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.dead}
}

func (m *Metrics) count(pluginID, outcome string) {
	m.deliveries.WithLabelValues(pluginID, outcome).Inc()
}
