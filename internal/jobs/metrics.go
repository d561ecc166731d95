package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/storage"
)

// Collector exports the number of jobs in each state as the gauge
// portico_jobs{state}, read from the database at scrape time so every
// replica reports the same, shared queue. Discarded jobs are the dead
// letters an operator should look at.
type Collector struct {
	db   *storage.DB
	desc *prometheus.Desc
}

// NewCollector returns a collector over db.
func NewCollector(db *storage.DB) *Collector {
	return &Collector{db: db, desc: prometheus.NewDesc("portico_jobs", "Jobs in the durable queue, by state.", []string{"state"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := Counts(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	seen := map[string]bool{}
	for _, sc := range counts {
		seen[string(sc.State)] = true
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(sc.Count), string(sc.State))
	}
	for _, s := range []string{"available", "running", "retryable", "scheduled", "completed", "discarded", "cancelled"} {
		if !seen[s] {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 0, s)
		}
	}
}
