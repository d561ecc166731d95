package tracing

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// JobMiddleware is a River worker middleware that runs each job attempt in
// a span named "job KIND", with the job's kind, attempt, queue and id. Job
// arguments are never recorded: they may carry personal data.
type JobMiddleware struct {
	river.MiddlewareDefaults
	Tracer trace.Tracer
}

var _ rivertype.WorkerMiddleware = (*JobMiddleware)(nil)

// Work implements rivertype.WorkerMiddleware.
func (m *JobMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	ctx, span := m.Tracer.Start(ctx, "job "+job.Kind, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("portico.job.kind", job.Kind),
			attribute.Int("portico.job.attempt", job.Attempt),
			attribute.Int64("portico.job.id", job.ID),
			attribute.String("portico.job.queue", job.Queue),
		))
	defer span.End()
	err := doInner(ctx)
	if err != nil {
		// The error's text may name a person (an address a mail server
		// refused): only that the attempt failed is recorded.
		span.SetStatus(codes.Error, "job attempt failed")
	}
	return err
}
