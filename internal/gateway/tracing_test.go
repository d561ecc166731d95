package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestCallSpans: a call inside a request's span is a child client span
// named by plug-in and operation, with its outcome; the plug-in on
// loopback receives a W3C traceparent naming that span; the person, the
// case and the data carried are in no attribute. A refused call is an
// error span with outcome refused and never reaches the plug-in.
func TestCallSpans(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		srv := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL})
		var mu sync.Mutex
		var parents []string
		env.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			parents = append(parents, r.Header.Get("traceparent"))
			mu.Unlock()
			srv.Handler().ServeHTTP(w, r)
		}))
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		g := env.Gateway(t, gateway.Config{Tracer: tp.Tracer("t")})

		for _, tt := range []struct {
			name     string
			consent  bool
			outcome  string
			reached  bool
			errorSet bool
		}{
			{"no consent: refused", false, gateway.OutcomeRefused, false, true},
			{"ok", true, gateway.OutcomeOK, true, false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if tt.consent {
					env.GiveConsent(t, ana)
				}
				exp.Reset()
				mu.Lock()
				parents = nil
				mu.Unlock()
				ctx, request := tp.Tracer("t").Start(context.Background(), "GET /cases/{id}", trace.WithSpanKind(trace.SpanKindServer))
				_, err := g.Call(ctx, eli, find("EX4KQ218"))
				request.End()
				if (err == nil) != (tt.outcome == gateway.OutcomeOK) {
					t.Fatalf("call: %v", err)
				}
				var call sdktrace.ReadOnlySpan
				for _, s := range exp.GetSpans().Snapshots() {
					if strings.HasPrefix(s.Name(), "plugin.call") {
						call = s
					}
				}
				if call == nil || call.Name() != "plugin.call vehicle-registry.find-vehicle" || call.SpanKind() != trace.SpanKindClient {
					t.Fatalf("no plug-in call span: %v", exp.GetSpans())
				}
				if call.Parent().SpanID() != request.SpanContext().SpanID() || call.SpanContext().TraceID() != request.SpanContext().TraceID() {
					t.Fatalf("the call span is not the request's child: parent %v", call.Parent())
				}
				got := map[string]string{}
				all := ""
				for _, kv := range call.Attributes() {
					got[string(kv.Key)] = kv.Value.String()
					all += " " + kv.Value.String()
				}
				if got["portico.plugin.id"] != "vehicle-registry" || got["portico.plugin.operation"] != "find-vehicle" || got["portico.plugin.outcome"] != tt.outcome {
					t.Fatalf("attributes %v", got)
				}
				for _, secret := range []string{ana, "Ana Example", "Springfield", "case-1", "EX4KQ218"} {
					if strings.Contains(all, secret) {
						t.Fatalf("%q is in the span: %v", secret, got)
					}
				}
				if (call.Status().Code == codes.Error) != tt.errorSet {
					t.Fatalf("status %v", call.Status())
				}
				mu.Lock()
				defer mu.Unlock()
				if !tt.reached {
					if len(parents) != 0 {
						t.Fatalf("a refused call reached the plug-in: %v", parents)
					}
					return
				}
				want := "00-" + call.SpanContext().TraceID().String() + "-" + call.SpanContext().SpanID().String() + "-01"
				if len(parents) != 1 || parents[0] != want {
					t.Fatalf("the plug-in got traceparent %q, want [%s]", parents, want)
				}
			})
		}
	})
}
