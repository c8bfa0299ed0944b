package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestErrorsAreKeptWhateverTheSampler: with a sampler that drops
// everything, a span that ends in error is still exported, and a normal one
// is not.
func TestErrorsAreKeptWhateverTheSampler(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(recordAll{sdktrace.NeverSample()}),
		sdktrace.WithSpanProcessor(&errorsKept{next: rec}),
	)
	tr := tp.Tracer("test")
	_, ok := tr.Start(context.Background(), "fine")
	ok.End()
	_, bad := tr.Start(context.Background(), "broken")
	bad.SetStatus(codes.Error, "boom")
	bad.End()
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Name() != "broken" {
		var names []string
		for _, s := range ended {
			names = append(names, s.Name())
		}
		t.Fatalf("exported %v, want only the failed span", names)
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "click")
	defer span.End()
	tpHeader := TraceParent(ctx)
	if len(tpHeader) != 55 {
		t.Fatalf("traceparent %q", tpHeader)
	}
	l, ok := LinkTo(tpHeader)
	if !ok || l.SpanContext.TraceID() != span.SpanContext().TraceID() || l.SpanContext.SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("link %v", l)
	}
	if _, ok := LinkTo("garbage"); ok {
		t.Fatal("a malformed traceparent made a link")
	}
	if TraceParent(context.Background()) != "" {
		t.Fatal("no span, no traceparent")
	}
}
