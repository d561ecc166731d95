package web

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/portico-gov/portico/internal/platform"
)

// traceContext is the W3C Trace Context propagator (traceparent,
// tracestate).
var traceContext = propagation.TraceContext{}

// startSpan starts the request's server span. Its name is the method until
// routing tells the pattern (endSpan renames it). A traceparent is
// believed only from a trusted proxy, as X-Request-Id is: from anyone else
// it would let a client choose the trace its request is recorded in and
// force sampling.
//
// What is recorded is deliberately little: the method, the route pattern,
// the status and the request id. Never the raw path (it carries ids and
// references), the query string, headers, bodies or the client's address.
func (s *Server) startSpan(ctx context.Context, r *http.Request) (context.Context, trace.Span) {
	if fromTrustedProxy(r.RemoteAddr, s.cfg.TrustedProxies) {
		ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	method := r.Method
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "_OTHER"
	}
	return s.cfg.Tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("portico.request_id", platform.RequestIDFrom(ctx)),
		))
}

// endSpan names the span by route (the mux pattern, "GET /cases/{id}",
// or "unmatched"), records the status and ends it. A 5xx marks the span
// an error; a client's mistake (4xx) does not.
func endSpan(span trace.Span, route string, status int) {
	span.SetName(route)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if status >= 500 && status != StatusClientClosedRequest {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
