package events

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/storage"
)

// Collector exports the event log's head and every consumer's lag and
// failed attempts, read from the database at scrape time so every replica
// reports the same. A lag that only grows, or attempts above zero, is a
// consumer an operator should look at (`portico events list`).
type Collector struct {
	db                  *storage.DB
	head, lag, attempts *prometheus.Desc
	unsequenced         *prometheus.Desc
}

// NewCollector returns a collector over db.
func NewCollector(db *storage.DB) *Collector {
	return &Collector{
		db:          db,
		head:        prometheus.NewDesc("portico_event_log_head", "The last position given to an event in the log.", nil, nil),
		unsequenced: prometheus.NewDesc("portico_event_log_unsequenced", "Committed events still waiting for a position.", nil, nil),
		lag:         prometheus.NewDesc("portico_event_consumer_lag", "Events in the log after the consumer's cursor.", []string{"consumer"}, nil),
		attempts:    prometheus.NewDesc("portico_event_consumer_failed_attempts", "Consecutive failed attempts at the consumer's next event.", []string{"consumer"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.head
	ch <- c.unsequenced
	ch <- c.lag
	ch <- c.attempts
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h, err := LogHead(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.head, err)
		return
	}
	cs, err := Consumers(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lag, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(h.Position))
	ch <- prometheus.MustNewConstMetric(c.unsequenced, prometheus.GaugeValue, float64(h.Unsequenced))
	for _, s := range cs {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(h.Position-s.Position), s.Name)
		ch <- prometheus.MustNewConstMetric(c.attempts, prometheus.GaugeValue, float64(s.Attempts), s.Name)
	}
}
