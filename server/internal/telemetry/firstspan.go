package telemetry

import (
	"context"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// A request's spans are started inside its handlers, so middleware around
// them (the access log) never sees one in its own context. WithSpanHolder
// gives it a holder that the first span started under the context fills.

type spanHolderKey struct{}

type spanHolder struct {
	mu sync.Mutex
	sc trace.SpanContext
}

// WithSpanHolder returns ctx carrying a holder, and a function reporting the
// first span started under it (invalid if none was, or when traces are not
// recorded).
func WithSpanHolder(ctx context.Context) (context.Context, func() trace.SpanContext) {
	h := &spanHolder{}
	return context.WithValue(ctx, spanHolderKey{}, h), func() trace.SpanContext {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.sc
	}
}

// firstSpan is the span processor that fills holders.
type firstSpan struct{}

func (firstSpan) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	h, _ := parent.Value(spanHolderKey{}).(*spanHolder)
	if h == nil {
		return
	}
	h.mu.Lock()
	if !h.sc.IsValid() {
		h.sc = s.SpanContext()
	}
	h.mu.Unlock()
}

func (firstSpan) OnEnd(sdktrace.ReadOnlySpan)      {}
func (firstSpan) Shutdown(context.Context) error   { return nil }
func (firstSpan) ForceFlush(context.Context) error { return nil }
