package outcome

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/storage"
)

// Collector exports the raw counters behind the KPIs as Prometheus
// counters per agency (portico_outcome_<counter>_total{agency}), read at
// scrape time from the running totals (outcome_totals: one row per agency
// and service, not a sum over days), so every replica reports the same
// and a restart resets nothing. Ratios are left to PromQL, e.g. take-up
// as (submitted + not_eligible) / (submitted + not_eligible + offline).
type Collector struct {
	db    *storage.DB
	descs []*prometheus.Desc // one per column, in columns' order
}

// NewCollector returns a collector over db.
func NewCollector(db *storage.DB) *Collector {
	c := &Collector{db: db}
	for _, col := range columns {
		c.descs = append(c.descs, prometheus.NewDesc("portico_outcome_"+col+"_total",
			"Outcome measures' raw counter "+col+" since the beginning, per agency (events counted by the outcomes consumer).",
			[]string{"agency"}, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.db.Read().QueryContext(ctx, `SELECT agency_id, `+sums(columns)+` FROM outcome_totals GROUP BY agency_id ORDER BY agency_id`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[0], err)
		return
	}
	err = scanRows(rows, func(r *sql.Rows) error {
		var agency string
		var counts Counts
		dst := []any{&agency}
		for _, f := range counts.fields() {
			dst = append(dst, f)
		}
		if err := r.Scan(dst...); err != nil {
			return err
		}
		for i, f := range counts.fields() {
			ch <- prometheus.MustNewConstMetric(c.descs[i], prometheus.CounterValue, float64(*f), agency)
		}
		return nil
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[0], err)
	}
}
