// Package tracing sets up OpenTelemetry traces for a Portico process: a
// tracer provider that exports spans by OTLP over HTTP (protobuf) to a
// collector when one is configured, and nothing at all when none is. It
// also joins logs to traces (LogHandler) and traces background jobs
// (JobMiddleware).
//
// What a span may carry is part of the contract (docs/operations.md,
// "Traces"): route patterns, never raw paths; no query strings, bodies,
// emails, names or account ids. Spans leave the process for a collector
// that is often run by another team, so they are treated like metrics, not
// like the audit log.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of Portico's spans.
const Name = "github.com/portico-gov/portico"

// Config says where spans go.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP base URL
	// (http://collector:4318); spans are posted to its /v1/traces, as
	// with OTEL_EXPORTER_OTLP_ENDPOINT. It wins over the environment.
	Endpoint string
	// FromEnv exports with the exporter's settings read from the standard
	// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout, TLS)
	// when Endpoint is empty.
	FromEnv bool
	// Service, Version and Instance are the resource's service.name,
	// service.version and service.instance.id. OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES override them. Empty Service: "portico";
	// empty Instance: the host name and process id.
	Service, Version, Instance string
	// Sampler decides which traces are kept. Nil: the SDK's choice from
	// OTEL_TRACES_SAMPLER (default: parent-based, always on).
	Sampler sdktrace.Sampler
	// Exporter replaces the OTLP exporter (tests use an in-memory one).
	Exporter sdktrace.SpanExporter
	// Synchronous exports each span when it ends instead of in batches
	// (tests only: it makes every request wait for the collector).
	Synchronous bool
}

// Enabled reports whether c exports spans at all.
func (c Config) Enabled() bool { return c.Endpoint != "" || c.FromEnv || c.Exporter != nil }

// Tracing is a process's tracer and the exporter behind it.
type Tracing struct {
	// Tracer starts Portico's spans. Nil when tracing is off: callers
	// test for nil and skip all tracing work, so an unconfigured process
	// pays nothing per request.
	Tracer   trace.Tracer
	provider *sdktrace.TracerProvider
}

// Propagator is the W3C Trace Context propagation used on incoming
// requests from trusted proxies and on outgoing plug-in calls.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// New returns the process's tracing: off (a nil Tracer) unless c is
// Enabled. It starts no connection: the exporter dials when it first
// sends, so a collector that is down delays nothing at start.
func New(ctx context.Context, c Config) (*Tracing, error) {
	if !c.Enabled() {
		return &Tracing{}, nil
	}
	exp := c.Exporter
	if exp == nil {
		var opts []otlptracehttp.Option
		if c.Endpoint != "" {
			u, err := TracesURL(c.Endpoint)
			if err != nil {
				return nil, err
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u))
		}
		var err error
		if exp, err = otlptracehttp.New(ctx, opts...); err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
	}
	res, err := Resource(ctx, c)
	if err != nil {
		return nil, err
	}
	popts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if c.Synchronous {
		popts = append(popts, sdktrace.WithSyncer(exp))
	} else {
		popts = append(popts, sdktrace.WithBatcher(exp))
	}
	if c.Sampler != nil {
		popts = append(popts, sdktrace.WithSampler(c.Sampler))
	}
	tp := sdktrace.NewTracerProvider(popts...)
	return &Tracing{Tracer: tp.Tracer(Name, trace.WithInstrumentationVersion(c.Version)), provider: tp}, nil
}

// Resource describes the process: service name, version and instance, then
// whatever OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES say.
func Resource(ctx context.Context, c Config) (*resource.Resource, error) {
	service := c.Service
	if service == "" {
		service = "portico"
	}
	instance := c.Instance
	if instance == "" {
		host, _ := os.Hostname()
		instance = host + "-" + strconv.Itoa(os.Getpid())
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(service), semconv.ServiceInstanceID(instance)}
	if c.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(c.Version))
	}
	// Later options win: the environment overrides the defaults above.
	// The schema URL must be the one the SDK's own detectors use
	// (semconv v1.43.0 for SDK v1.47), or merging fails with a conflict.
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL), resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// TracesURL turns a collector's OTLP/HTTP base URL into its traces URL,
// as the exporter does with OTEL_EXPORTER_OTLP_ENDPOINT.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the OpenTelemetry endpoint %q must be an http or https URL of an OTLP/HTTP collector, such as http://localhost:4318", endpoint)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}

// Shutdown sends the spans still buffered and stops the exporter, waiting
// at most until ctx ends. It is a no-op when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// ForceFlush sends the spans buffered so far (tests and the shutdown path).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}
