package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events/natsbus/natstest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// With --bus, a worker process publishes the events of a real state change
// (a submission opens a case) to NATS JetStream through the whole wiring:
// config, the consumer, the stream it creates, and /metrics.
func TestBusPublishesCaseEvents(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, storage.SQLite),
		LogFormat: "text", LogLevel: 8, Bus: srv.URL(), BusStream: "PORTICO_EVENTS", BusSubjects: "portico.events"}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Work: true, Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.NATS == nil {
		t.Fatal("--bus given to a worker, but no publisher")
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	seed := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem})
	if _, err := demo.Seed(seed, a.Tenancy); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPeople(seed, a.Identity); err != nil {
		t.Fatal(err)
	}
	// The renewal uses the vehicle records: registered (at an address
	// nothing answers; this test makes no call) before publishing.
	if _, err := demo.SeedPlugins(seed, a.Plugins, map[string]string{"vehicle-registry": "http://127.0.0.1:9", "counter-booking": "http://127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedServices(seed, a.Catalog); err != nil {
		t.Fatal(err)
	}
	ap := applicant(t, a, "ana.citizen@example.com")
	draft := applyForDog(t, a, ap, "adams-dog-licence")
	if _, err := a.Applications.Submit(ctx, ap, draft.ID, draft.Revision); err != nil {
		t.Fatal(err)
	}

	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var opened jetstream.RawStreamMsg
	deadline := time.Now().Add(30 * time.Second)
	for {
		var m *jetstream.RawStreamMsg
		s, err := js.Stream(ctx, "PORTICO_EVENTS")
		if err == nil {
			m, err = s.GetLastMsgForSubject(ctx, "portico.events.gov.portico.case.opened")
		}
		if err == nil {
			opened = *m
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no case.opened event reached the stream: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ce struct {
		ID, Type, Source, Subject, SpecVersion string
		Agency                                 string `json:"porticoagency"`
	}
	if err := json.Unmarshal(opened.Data, &ce); err != nil {
		t.Fatal(err)
	}
	if ce.Source != "/portico/casework" || !strings.HasPrefix(ce.Subject, "case:") || ce.Agency != "adams-clerk" ||
		opened.Header.Get("Nats-Msg-Id") != ce.ID {
		t.Errorf("case.opened on the bus = %+v (header id %q)", ce, opened.Header.Get("Nats-Msg-Id"))
	}
	mfs, err := a.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "portico_bus_published_total" {
			found = mf.GetMetric()[0].GetCounter().GetValue() >= 1
		}
	}
	if !found {
		t.Error("/metrics does not count the published event")
	}
}
