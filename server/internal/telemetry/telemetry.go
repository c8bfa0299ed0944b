// Package telemetry sets up OpenTelemetry for Baton: traces exported as
// the standard OTEL_* environment variables say (nothing exported, at
// near-zero cost, when none is set), errors always kept whatever the
// sampler decides, W3C trace context propagation, and metrics served for
// Prometheus.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys that follow an ID through every hop. They are stable: an
// operator searches Jaeger by them.
const (
	ClickID      = "baton.click_id"
	UpstreamID   = "baton.upstream_id"
	DownstreamID = "baton.downstream_id"
	ConversionID = "baton.conversion_id"
	OrderID      = "baton.order_id"
	OfferID      = "baton.offer_id"
	PublisherID  = "baton.publisher_id"
	Partner      = "baton.partner"
	DeliveryID   = "baton.delivery_id"
	Attempt      = "baton.attempt"
	LinkID       = "baton.link_id"
)

// Telemetry is the process's providers.
type Telemetry struct {
	// Metrics serves /metrics in the Prometheus format.
	Metrics http.Handler
	// Exporting says whether traces leave the process.
	Exporting bool
	shutdown  []func(context.Context) error
}

// Shutdown flushes what the providers hold (on a graceful stop).
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// exportConfigured reports whether any OTEL_* variable asks for traces to
// be exported.
func exportConfigured() bool {
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

var (
	setupOnce sync.Once
	setupTel  *Telemetry
	setupErr  error
)

// Setup installs the global tracer and meter providers and the W3C
// propagator, once per process (OpenTelemetry's providers are global:
// instruments bind to the first one installed); later calls return the same
// Telemetry. serviceName is used unless OTEL_SERVICE_NAME is set.
func Setup(ctx context.Context, serviceName string) (*Telemetry, error) {
	setupOnce.Do(func() { setupTel, setupErr = setup(ctx, serviceName) })
	return setupTel, setupErr
}

func setup(ctx context.Context, serviceName string) (*Telemetry, error) {
	t := &Telemetry{}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(serviceName)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		merged, err := resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(v)))
		if err != nil {
			return nil, fmt.Errorf("telemetry resource (OTEL_SERVICE_NAME): %w", err)
		}
		res = merged
	}

	if exportConfigured() {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("trace exporter (OTEL_* variables): %w", err)
		}
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			// The sampler the environment asks for, but spans it drops are
			// still recorded, so that errorsKept can export the failed ones.
			sdktrace.WithSampler(recordAll{sdktrace.ParentBased(envSampler())}),
			sdktrace.WithSpanProcessor(&errorsKept{next: sdktrace.NewBatchSpanProcessor(exp)}),
			sdktrace.WithSpanProcessor(firstSpan{}),
		)
		otel.SetTracerProvider(tp)
		t.Exporting = true
		// Flush, not shut down: the providers live as long as the process.
		t.shutdown = append(t.shutdown, tp.ForceFlush)
	}

	reg := prometheus.NewRegistry()
	// The Go runtime (goroutines, GC, memory) and the process (CPU, RSS,
	// open files), as every Prometheus target has them.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pe, err := promexporter.New(promexporter.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(pe)}
	if v := os.Getenv("OTEL_METRICS_EXPORTER"); v != "" && v != "none" && v != "prometheus" {
		// Also push metrics by OTLP (or as the variable says).
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("metric exporter (OTEL_* variables): %w", err)
		}
		mopts = append(mopts, sdkmetric.WithReader(reader))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	otel.SetMeterProvider(mp)
	t.shutdown = append(t.shutdown, mp.ForceFlush)
	t.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return t, nil
}

// envSampler reads OTEL_TRACES_SAMPLER(_ARG) for the root decision
// (always_on, always_off, traceidratio and their parentbased_ forms).
func envSampler() sdktrace.Sampler {
	name := strings.TrimPrefix(os.Getenv("OTEL_TRACES_SAMPLER"), "parentbased_")
	switch name {
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		var ratio float64 = 1
		if _, err := fmt.Sscan(os.Getenv("OTEL_TRACES_SAMPLER_ARG"), &ratio); err != nil {
			ratio = 1
		}
		return sdktrace.TraceIDRatioBased(ratio)
	}
	return sdktrace.AlwaysSample()
}

// recordAll turns a Drop into RecordOnly: the span is not sampled (not
// propagated as sampled, not exported) unless it ends in error.
type recordAll struct{ sdktrace.Sampler }

func (r recordAll) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	res := r.Sampler.ShouldSample(p)
	if res.Decision == sdktrace.Drop {
		res.Decision = sdktrace.RecordOnly
	}
	return res
}

func (r recordAll) Description() string { return "RecordAll{" + r.Sampler.Description() + "}" }

// errorsKept exports sampled spans and, whatever the sampler said, spans
// that ended in error.
type errorsKept struct{ next sdktrace.SpanProcessor }

func (e *errorsKept) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) { e.next.OnStart(ctx, s) }

func (e *errorsKept) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() || s.Status().Code == codes.Error {
		e.next.OnEnd(s)
	}
}

func (e *errorsKept) Shutdown(ctx context.Context) error   { return e.next.Shutdown(ctx) }
func (e *errorsKept) ForceFlush(ctx context.Context) error { return e.next.ForceFlush(ctx) }

// TraceParent returns the W3C traceparent of the span in ctx ("" when
// there is none), for storing with a record that later spans link to.
func TraceParent(ctx context.Context) string {
	// Every click calls this: with no span (nothing exported) it must cost
	// nothing, so skip the propagator and its map.
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// LinkTo returns a link to the span a stored traceparent names.
func LinkTo(traceparent string) (trace.Link, bool) {
	if traceparent == "" {
		return trace.Link{}, false
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return trace.Link{}, false
	}
	return trace.Link{SpanContext: sc}, true
}

// ContextFrom returns ctx with the remote parent a stored traceparent
// names, so a span started from it continues that trace.
func ContextFrom(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
