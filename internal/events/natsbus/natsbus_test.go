package natsbus_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/events/natsbus"
	"github.com/portico-gov/portico/internal/events/natsbus/natstest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// server is a NATS server a test publishes to: always an embedded one, and
// the machine's when PORTICO_TEST_NATS_URL is set.
type server struct {
	name     string
	url      string
	embedded *natstest.Server // nil for the machine's server
}

func servers(t *testing.T) []server {
	out := []server{}
	emb := natstest.Start(t)
	out = append(out, server{name: "embedded", url: emb.URL(), embedded: emb})
	if u := natstest.External(); u != "" {
		out = append(out, server{name: "machine", url: u})
	} else {
		t.Logf("%s is unset: only the embedded NATS server runs", natstest.URLEnv)
	}
	return out
}

// rig is Portico's event log with the NATS publisher as its one consumer,
// and a separate client that reads the stream back.
type rig struct {
	db      *storage.DB
	bus     *events.Bus
	disp    *events.Dispatcher
	pub     *natsbus.Publisher
	reader  jetstream.JetStream
	cfg     natsbus.Config
	started bool
}

// newRig opens a publisher on url with a stream and subject prefix of its
// own (a shared server has other tests' streams, and JetStream refuses
// overlapping subjects), deleted when the test ends.
func newRig(t *testing.T, db *storage.DB, url string) *rig {
	t.Helper()
	cfg := natsbus.Config{URL: url, Stream: natstest.Unique("PORTICO_TEST_"), Subjects: natstest.Unique("portico-test-") + ".events",
		ReconnectWait: 100 * time.Millisecond}
	return openRig(t, db, cfg, true, nil)
}

// openRig opens a rig on cfg's stream; cleanup deletes the stream when the
// test ends; wrap, when set, wraps the consumer's handler.
func openRig(t *testing.T, db *storage.DB, cfg natsbus.Config, cleanup bool, wrap func(events.Handler) events.Handler) *rig {
	t.Helper()
	ctx := context.Background()
	pub, err := natsbus.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{db: db, pub: pub, cfg: cfg, bus: events.NewBus(platform.SystemClock{})}
	c := pub.Consumer()
	c.Backoff = func(int) time.Duration { return 100 * time.Millisecond }
	if wrap != nil {
		c.Handle = wrap(c.Handle)
	}
	r.bus.Subscribe(c)
	if r.disp, err = events.NewDispatcher(db, r.bus, events.DispatchConfig{Poll: 20 * time.Millisecond, Lease: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cfg.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	if r.reader, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.started {
			_ = r.disp.Stop(context.Background())
		}
		pub.Close()
		if cleanup {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = r.reader.DeleteStream(ctx, cfg.Stream)
		}
		nc.Close()
	})
	return r
}

func (r *rig) start(t *testing.T) {
	t.Helper()
	if err := r.disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.started = true
}

// emit commits evs in one transaction; fail makes it roll back instead.
func (r *rig) emit(t *testing.T, fail bool, evs ...events.Event) {
	t.Helper()
	errRollback := errors.New("roll back")
	err := r.db.InTx(context.Background(), func(tx *sql.Tx) error {
		for _, e := range evs {
			if err := r.bus.Emit(context.Background(), tx, e); err != nil {
				return err
			}
		}
		if fail {
			return errRollback
		}
		return nil
	})
	if fail && !errors.Is(err, errRollback) || !fail && err != nil {
		t.Fatalf("emit: %v", err)
	}
}

// messages reads the whole stream, in stream order.
func (r *rig) messages(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.reader.Stream(ctx, r.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func (r *rig) cursor(t *testing.T) events.ConsumerState {
	t.Helper()
	cs, err := events.Consumers(context.Background(), r.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == natsbus.ConsumerName {
			return c
		}
	}
	return events.ConsumerState{}
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one of the publisher's metrics through a registry, as a
// scrape would.
func metric(t *testing.T, p *natsbus.Publisher, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// cloudEvent is what a stream reader decodes, independently of the
// package's own encoding.
type cloudEvent struct {
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	SpecVersion     string          `json:"specversion"`
	DataContentType string          `json:"datacontenttype"`
	Agency          string          `json:"porticoagency"`
	Position        int64           `json:"porticoposition"`
	Data            json.RawMessage `json:"data"`
}

func TestPublishesInOrderWithCloudEventsAttributes(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				r := newRig(t, db, srv.url)
				at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
				// A rolled-back transaction first: its events never exist,
				// so they are never published.
				r.emit(t, true, events.Event{Source: "/portico/test", Type: "gov.portico.test.rolled_back", Subject: "x:1"})
				r.emit(t, false,
					events.Event{Source: "/portico/casework", Type: "gov.portico.case.opened", Subject: "case:1", AgencyID: "dmv", Time: at, Data: json.RawMessage(`{"id":"1"}`)},
					events.Event{Source: "/portico/casework", Type: "gov.portico.case.transitioned", Subject: "case:1", AgencyID: "dmv", Time: at.Add(time.Second)})
				r.emit(t, false, events.Event{Source: "/portico/tenancy", Type: "gov.portico.agency.created", Subject: "agency:clerk", Time: at.Add(2 * time.Second)})
				r.start(t)
				waitFor(t, "three events in the stream", func() bool { return len(r.messages(t)) >= 3 })

				msgs := r.messages(t)
				want := []struct {
					typ, source, subject, agency, data string
				}{
					{"gov.portico.case.opened", "/portico/casework", "case:1", "dmv", `{"id":"1"}`},
					{"gov.portico.case.transitioned", "/portico/casework", "case:1", "dmv", ""},
					{"gov.portico.agency.created", "/portico/tenancy", "agency:clerk", "", ""},
				}
				if len(msgs) != len(want) {
					t.Fatalf("stream has %d messages, want %d", len(msgs), len(want))
				}
				for i, m := range msgs {
					var ce cloudEvent
					if err := json.Unmarshal(m.Data, &ce); err != nil {
						t.Fatalf("message %d: %v: %s", i, err, m.Data)
					}
					w := want[i]
					if m.Subject != r.cfg.Subjects+"."+w.typ {
						t.Errorf("message %d subject = %q, want %q", i, m.Subject, r.cfg.Subjects+"."+w.typ)
					}
					if got := m.Header.Get("Nats-Msg-Id"); got != ce.ID || ce.ID == "" {
						t.Errorf("message %d: Nats-Msg-Id %q, event id %q", i, got, ce.ID)
					}
					if got := m.Header.Get("Content-Type"); got != "application/cloudevents+json" {
						t.Errorf("message %d: Content-Type %q", i, got)
					}
					if ce.Type != w.typ || ce.Source != w.source || ce.Subject != w.subject || ce.Agency != w.agency || ce.SpecVersion != "1.0" {
						t.Errorf("message %d = %+v, want %+v", i, ce, w)
					}
					if !ce.Time.Equal(at.Add(time.Duration(i) * time.Second)) {
						t.Errorf("message %d time = %s", i, ce.Time)
					}
					if ce.Position != int64(i+1) {
						t.Errorf("message %d porticoposition = %d, want %d (log order)", i, ce.Position, i+1)
					}
					if string(ce.Data) != w.data {
						t.Errorf("message %d data = %s, want %s", i, ce.Data, w.data)
					}
					if w.data != "" && ce.DataContentType != "application/json" {
						t.Errorf("message %d datacontenttype = %q", i, ce.DataContentType)
					}
				}
				waitFor(t, "the cursor at the head", func() bool { return r.cursor(t).Position == 3 })
				if got := metric(t, r.pub, "portico_bus_published_total"); got != 3 {
					t.Errorf("published = %v, want 3", got)
				}

				// Replaying the consumer publishes the same events again;
				// the stream drops them as duplicates (same message ids
				// within its window).
				if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
					_, err := events.Replay(context.Background(), tx, natsbus.ConsumerName, 1, time.Now())
					return err
				}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "three duplicates dropped", func() bool { return metric(t, r.pub, "portico_bus_duplicates_total") == 3 })
				if n := len(r.messages(t)); n != 3 {
					t.Errorf("after the replay the stream has %d messages, want 3", n)
				}
				if got := metric(t, r.pub, "portico_bus_failures_total"); got != 0 {
					t.Errorf("failures = %v, want 0", got)
				}
			})
		})
	}
}

// NATS goes away while events are committed: the consumer fails and
// retries, its cursor does not move past what the stream holds, and when
// NATS returns every event is published, in order.
func TestNATSDownThenBack(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := natstest.Start(t)
		r := newRig(t, db, srv.URL())
		r.start(t)
		ev := func(i int) events.Event {
			return events.Event{Source: "/portico/test", Type: "gov.portico.test.numbered", Subject: "n:" + strconv.Itoa(i), AgencyID: "dmv"}
		}
		r.emit(t, false, ev(1))
		waitFor(t, "the first event published", func() bool { return r.cursor(t).Position == 1 })

		srv.Stop()
		for i := 2; i <= 5; i++ {
			r.emit(t, false, ev(i))
		}
		waitFor(t, "failed attempts while NATS is down", func() bool { return r.cursor(t).Attempts > 0 })
		if c := r.cursor(t); c.Position != 1 {
			t.Fatalf("the cursor moved to %d while NATS was down", c.Position)
		}
		if metric(t, r.pub, "portico_bus_connected") != 0 {
			t.Error("portico_bus_connected is 1 while NATS is down")
		}

		srv.Restart()
		waitFor(t, "every event published after NATS came back", func() bool { return r.cursor(t).Position == 5 })
		msgs := r.messages(t)
		if len(msgs) != 5 {
			t.Fatalf("stream has %d messages, want 5", len(msgs))
		}
		for i, m := range msgs {
			var ce cloudEvent
			if err := json.Unmarshal(m.Data, &ce); err != nil {
				t.Fatal(err)
			}
			if want := "n:" + strconv.Itoa(i+1); ce.Subject != want || ce.Position != int64(i+1) {
				t.Errorf("message %d is %s at %d, want %s at %d", i, ce.Subject, ce.Position, want, i+1)
			}
		}
		if metric(t, r.pub, "portico_bus_failures_total") == 0 {
			t.Error("no failure was counted while NATS was down")
		}
		if c := r.cursor(t); c.Attempts != 0 || c.LastError != "" {
			t.Errorf("the consumer still records a failure: %+v", c)
		}
	})
}

// The stream is created when the publisher opens, with file storage, the
// prefix's subjects and the duplicate window; a second publisher (another
// worker, a restart) updates it in place.
func TestStreamConfig(t *testing.T) {
	for _, srv := range servers(t) {
		t.Run(srv.name, func(t *testing.T) {
			db := storagetest.Open(t, storage.SQLite)
			r := newRig(t, db, srv.url)
			ctx := context.Background()
			s, err := r.reader.Stream(ctx, r.cfg.Stream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c := info.Config
			if c.Storage != jetstream.FileStorage || c.Duplicates != natsbus.DefaultDuplicateWindow ||
				len(c.Subjects) != 1 || c.Subjects[0] != r.cfg.Subjects+".>" {
				t.Errorf("stream config = storage %v, duplicates %s, subjects %v", c.Storage, c.Duplicates, c.Subjects)
			}
			cfg := r.cfg
			cfg.DuplicateWindow = 20 * time.Minute
			again, err := natsbus.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if info, err = s.Info(ctx); err != nil {
				t.Fatal(err)
			}
			if info.Config.Duplicates != 20*time.Minute {
				t.Errorf("duplicate window after update = %s", info.Config.Duplicates)
			}
		})
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  natsbus.Config
	}{
		{"http URL", natsbus.Config{URL: "http://127.0.0.1:4222"}},
		{"empty", natsbus.Config{URL: ""}},
		{"stream with a dot", natsbus.Config{URL: "nats://127.0.0.1:4222", Stream: "A.B"}},
		{"wildcard prefix", natsbus.Config{URL: "nats://127.0.0.1:4222", Subjects: "portico.*"}},
		{"trailing dot prefix", natsbus.Config{URL: "nats://127.0.0.1:4222", Subjects: "portico."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := natsbus.Open(context.Background(), tc.cfg); err == nil {
				p.Close()
				t.Fatal("opened")
			}
		})
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		typ, want string
		ok        bool
	}{
		{"gov.portico.case.opened", "portico.events.gov.portico.case.opened", true},
		{"x", "portico.events.x", true},
		{"", "", false},
		{"a..b", "", false},
		{".a", "", false},
		{"a.", "", false},
		{"a b", "", false},
		{"a.*", "", false},
		{"a.>", "", false},
	} {
		got, err := natsbus.Subject(natsbus.DefaultSubjects, tc.typ)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Subject(%q) = %q, %v; want %q, ok %v", tc.typ, got, err, tc.want, tc.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	got := natsbus.Redact("nats://user:secret@a:4222,nats://b:4222")
	if got != "nats://user:xxxxx@a:4222,nats://b:4222" {
		t.Errorf("Redact = %q", got)
	}
}

// BenchmarkPublish: one event published and acknowledged by an embedded
// JetStream server on loopback (file storage), as the consumer does per
// event.
func BenchmarkPublish(b *testing.B) {
	srv := natstest.Start(b)
	pub, err := natsbus.Open(context.Background(), natsbus.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	e := events.Event{Source: "/portico/casework", Type: "gov.portico.case.opened", Subject: "case:1", AgencyID: "dmv",
		Time: time.Now(), SpecVersion: "1.0", DataContentType: "application/json", Data: json.RawMessage(`{"id":"1","state":"submitted"}`)}
	for i := 0; b.Loop(); i++ {
		e.ID, e.Position = strconv.Itoa(i), int64(i+1)
		if err := pub.Publish(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}
