package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/portico-gov/portico/internal/tracing"
)

// receiver is an in-process OTLP/HTTP collector: it decodes what the
// exporter posts with the official protobuf types.
type receiver struct {
	mu    sync.Mutex
	paths []string
	reqs  []*coltracepb.ExportTraceServiceRequest
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not OTLP protobuf", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.paths = append(rc.paths, r.URL.Path)
	rc.reqs = append(rc.reqs, &req)
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.GetStringValue()
	}
	return m
}

// TestExportOverOTLP: a span reaches a collector at the configured
// endpoint's /v1/traces, with the process's resource attributes.
func TestExportOverOTLP(t *testing.T) {
	for _, tt := range []struct{ name, suffix, path string }{
		{"base URL", "", "/v1/traces"},
		{"base URL with a slash", "/", "/v1/traces"},
		{"behind a path", "/otlp", "/otlp/v1/traces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: srv.URL + tt.suffix, Version: "v9.8.7", Instance: "web-1"})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Tracer == nil {
				t.Fatal("an endpoint was given but the tracer is off")
			}
			_, span := tr.Tracer.Start(context.Background(), "GET /services/{id}")
			span.End()
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.reqs) != 1 || rc.paths[0] != tt.path {
				t.Fatalf("collector got %d exports at %v, want 1 at %s", len(rc.reqs), rc.paths, tt.path)
			}
			rs := rc.reqs[0].ResourceSpans[0]
			res := attrs(rs.Resource.Attributes)
			for k, want := range map[string]string{"service.name": "portico", "service.version": "v9.8.7", "service.instance.id": "web-1"} {
				if res[k] != want {
					t.Errorf("resource %s = %q, want %q (all: %v)", k, res[k], want, res)
				}
			}
			if got := rs.ScopeSpans[0].Spans[0].Name; got != "GET /services/{id}" {
				t.Errorf("span name %q", got)
			}
		})
	}
}

// TestResourceFromEnv: the standard variables override the defaults.
func TestResourceFromEnv(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "portico-web")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
	res, err := tracing.Resource(context.Background(), tracing.Config{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range res.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	if got["service.name"] != "portico-web" || got["deployment.environment.name"] != "staging" || got["service.version"] != "v1" || got["service.instance.id"] == "" {
		t.Fatalf("resource: %v", got)
	}
}

// TestOff: without an endpoint nothing is set up and every call is safe.
func TestOff(t *testing.T) {
	tr, err := tracing.New(context.Background(), tracing.Config{})
	if err != nil || tr.Tracer != nil {
		t.Fatalf("off: %v %v", tr.Tracer, err)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var nilTracing *tracing.Tracing
	if err := nilTracing.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTracesURL(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"http://localhost:4318", "http://localhost:4318/v1/traces", ""},
		{"https://otel.example.gov/", "https://otel.example.gov/v1/traces", ""},
		{"http://c:4318/otlp/", "http://c:4318/otlp/v1/traces", ""},
		{"localhost:4318", "", "must be an http or https URL"},
		{"grpc://c:4317", "", "must be an http or https URL"},
		{"http://c:4318/?x=1", "", "must be an http or https URL"},
		{"http://", "", "must be an http or https URL"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := tracing.TracesURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("TracesURL(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("TracesURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzTracesURL(f *testing.F) {
	for _, s := range []string{"http://localhost:4318", "https://a/b/", "x", "http://[::1]:4318", "http://a?b#c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := tracing.TracesURL(s)
		if err == nil && !strings.HasSuffix(got, "/v1/traces") {
			t.Fatalf("TracesURL(%q) = %q", s, got)
		}
	})
}

// TestLogHandler: lines logged inside a span carry its trace and span
// ids; lines outside carry neither.
func TestLogHandler(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	for _, tt := range []struct {
		name      string
		ctx       context.Context
		wantTrace string
	}{
		{"in a span", ctx, span.SpanContext().TraceID().String()},
		{"outside", context.Background(), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			log.InfoContext(tt.ctx, "hello", "n", 1)
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			got, _ := line["trace_id"].(string)
			if got != tt.wantTrace || line["component"] != "test" {
				t.Fatalf("line %v: trace_id %q, want %q", line, got, tt.wantTrace)
			}
			if tt.wantTrace != "" && line["span_id"] != span.SpanContext().SpanID().String() {
				t.Fatalf("span_id %v", line["span_id"])
			}
		})
	}
	span.End()
}

// TestJobMiddleware: each attempt is a span named by the job's kind, with
// its attempt; a failed attempt is an error without the error's text.
func TestJobMiddleware(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	mw := &tracing.JobMiddleware{Tracer: tp.Tracer("t")}
	for _, tt := range []struct {
		name string
		err  error
		code codes.Code
	}{
		{"ok", nil, codes.Unset},
		{"failed", errors.New("550 no such user ana@example.com"), codes.Error},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			job := &rivertype.JobRow{ID: 42, Kind: "notify.email", Attempt: 3, Queue: "default", EncodedArgs: []byte(`{"to":"ana@example.com"}`)}
			var inner bool
			err := mw.Work(context.Background(), job, func(ctx context.Context) error {
				inner = true
				return tt.err
			})
			if !inner || !errors.Is(err, tt.err) {
				t.Fatalf("inner ran %v, err %v", inner, err)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 || spans[0].Name != "job notify.email" || spans[0].Status.Code != tt.code {
				t.Fatalf("spans %+v", spans)
			}
			got := map[string]string{}
			for _, kv := range spans[0].Attributes {
				got[string(kv.Key)] = kv.Value.String()
			}
			if got["portico.job.kind"] != "notify.email" || got["portico.job.attempt"] != "3" {
				t.Fatalf("attributes %v", got)
			}
			all := spans[0].Status.Description
			for _, v := range got {
				all += v
			}
			if strings.Contains(all, "ana@example.com") {
				t.Fatalf("a personal datum is in the span: %v %q", got, spans[0].Status.Description)
			}
		})
	}
}
