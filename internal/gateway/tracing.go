package gateway

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceContext propagates the call's span to the plug-in as a W3C
// traceparent header, so the plug-in's own spans join the citizen's
// request.
var traceContext = propagation.TraceContext{}

// startSpan starts the span of one call (all its attempts): the plug-in,
// the operation and the calling agency and service, all identifiers an
// agency published. Never the person, the case, the data carried or the
// bodies.
func (g *Gateway) startSpan(ctx context.Context, req Request) (context.Context, trace.Span) {
	return g.cfg.Tracer.Start(ctx, "plugin.call "+req.Plugin+"."+req.Operation, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("portico.plugin.id", req.Plugin),
			attribute.String("portico.plugin.operation", req.Operation),
			attribute.String("portico.agency", req.Agency),
			attribute.String("portico.service", req.Service),
		))
}

// traceOutcome records a call's outcome (OutcomeOK, …), its attempts and
// the plug-in's last HTTP status on the call's span. Without a tracer the
// span in ctx is the caller's (the request's), which is left alone.
func (g *Gateway) traceOutcome(ctx context.Context, outcome string, attempts, status int) {
	if g.cfg.Tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("portico.plugin.outcome", outcome), attribute.Int("portico.plugin.attempts", attempts))
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if outcome != OutcomeOK {
		span.SetStatus(codes.Error, outcome)
	}
}
