package oidcweb

import (
	"context"
	"sync"

	"github.com/zitadel/oidc/v3/pkg/op"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// The provider library starts a span of its own around each step of a
// request (about ten per token grant) with OpenTelemetry's global tracer.
// Portico sets no global tracer provider (ADR 62: its own spans, passed
// explicitly), so those spans were never recorded, yet each still cost a
// span and a context allocated per step: a few percent of a
// client-credentials grant's allocations (docs/performance.md, issue 14).
// libraryTracer records nothing either, and allocates nothing: it hands
// back the caller's context unchanged, so the request's own span (when
// tracing is on) stays the current one for the log lines and plug-in
// calls made inside the library's calls, and a span whose End does
// nothing, so the library cannot end Portico's span.
type libraryTracer struct{ embedded.Tracer }

func (libraryTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	return ctx, quietSpan
}

// quietSpan is every span libraryTracer hands out: it records nothing.
var quietSpan trace.Span = noop.Span{}

// quietLibrarySpans installs libraryTracer as the library's tracer, once
// per process, before the first provider serves (op.Tracer is the
// library's package variable; setting it once, before use, is race-free).
var quietLibrarySpans = sync.OnceFunc(func() { op.Tracer = libraryTracer{} })
