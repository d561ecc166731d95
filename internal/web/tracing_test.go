package web_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/portico-gov/portico/internal/web"
)

// TestRequestSpans: every request is a server span named by its route
// pattern, never by the raw path; ids, query strings, headers and the
// client's address stay out of it; a traceparent is adopted only from a
// trusted proxy.
func TestRequestSpans(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	proxy := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // httptest's client address
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, method, target string
		proxies              []netip.Prefix
		traceparent          string
		wantName             string
		wantStatus           int
		wantParent           bool
		wantError            bool
	}{
		{"route pattern, not the path", "GET", "/cases/ana@example.com?email=ana@example.com", nil, "", "GET /cases/{id}", 200, false, false},
		{"unmatched path", "GET", "/no/such/ana@example.com", nil, "", "unmatched", 404, false, false},
		{"server error", "GET", "/fail", nil, "", "GET /fail", 500, false, true},
		{"traceparent from a client is ignored", "GET", "/cases/1", elsewhere, parent, "GET /cases/{id}", 200, false, false},
		{"traceparent from a trusted proxy is adopted", "GET", "/cases/1", proxy, parent, "GET /cases/{id}", 200, true, false},
		{"odd method", "BREW", "/cases/1", nil, "", "unmatched", 405, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			s, _ := newServerConfig(t, web.Config{Tracer: tp.Tracer("t"), TrustedProxies: tt.proxies})
			var inHandler trace.SpanContext
			s.HandleFunc("GET /cases/{id}", func(w http.ResponseWriter, r *http.Request) {
				inHandler = trace.SpanContextFromContext(r.Context())
			})
			s.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
			w := do(t, s, tt.method, tt.target, nil, "traceparent", tt.traceparent, "User-Agent", "secret-agent")
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			sp := spans[0]
			if sp.Name != tt.wantName || sp.SpanKind != trace.SpanKindServer {
				t.Errorf("span %q (%v), want %q", sp.Name, sp.SpanKind, tt.wantName)
			}
			if inHandler.IsValid() && inHandler.SpanID() != sp.SpanContext.SpanID() {
				t.Errorf("the handler's context is not in the request's span")
			}
			got := map[string]string{}
			all := sp.Name
			for _, kv := range sp.Attributes {
				got[string(kv.Key)] = kv.Value.String()
				all += " " + kv.Value.String()
			}
			if got["http.route"] != tt.wantName || got["http.response.status_code"] == "" || got["portico.request_id"] != w.Header().Get("X-Request-Id") {
				t.Errorf("attributes %v", got)
			}
			for _, secret := range []string{"ana@example.com", "email=", "secret-agent", "192.0.2.1", "/no/such"} {
				if strings.Contains(all, secret) {
					t.Errorf("%q is in the span: %s", secret, all)
				}
			}
			adopted := sp.Parent.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736"
			if adopted != tt.wantParent {
				t.Errorf("parent %v adopted=%v, want %v", sp.Parent, adopted, tt.wantParent)
			}
			if (sp.Status.Code == codes.Error) != tt.wantError {
				t.Errorf("status %v, want error %v", sp.Status, tt.wantError)
			}
		})
	}
}
