package events_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestCollector: the gauges show the head, a caught-up consumer with no
// lag, and a failing one with its lag and attempts.
func TestCollector(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := events.NewBus(platform.SystemClock{})
		bus.Subscribe(events.Consumer{Name: "ok", Types: []string{"gov.portico.*"}, Handle: func(context.Context, events.Event) error { return nil }})
		bus.Subscribe(events.Consumer{Name: "stuck", Types: []string{"gov.portico.*"}, Handle: func(context.Context, events.Event) error { return errors.New("down") }})
		d, err := events.NewDispatcher(db, bus, fastConfig("test"))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Register(ctx); err != nil {
			t.Fatal(err)
		}
		emit(t, db, bus, events.Event{Source: "/test", Type: "gov.portico.a"}, events.Event{Source: "/test", Type: "gov.portico.b"})
		if _, err := events.Sequence(ctx, db, 0); err != nil {
			t.Fatal(err)
		}
		emit(t, db, bus, events.Event{Source: "/test", Type: "gov.portico.c"}) // not yet sequenced
		if _, err := d.Drive(ctx, "ok"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Drive(ctx, "stuck"); err == nil {
			t.Fatal("the stuck consumer's failure was not reported")
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(events.NewCollector(db))
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		for _, want := range []string{
			`portico_event_consumer_failed_attempts{consumer="ok"} 0`,
			`portico_event_consumer_failed_attempts{consumer="stuck"} 1`,
			`portico_event_consumer_lag{consumer="ok"} 0`,
			`portico_event_consumer_lag{consumer="stuck"} 2`,
			`portico_event_log_head 2`,
			`portico_event_log_unsequenced 1`,
		} {
			if !strings.Contains(string(body), want+"\n") {
				t.Errorf("metrics lack %q:\n%s", want, body)
			}
		}
	})
}
