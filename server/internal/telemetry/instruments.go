package telemetry

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// Int64Counter is m.Int64Counter for a package's instruments, declared once
// at start. Its only error is an invalid instrument name or option, a
// programming mistake that the metrics test catches; the instrument it
// returns then still works (as a no-op), so the error goes to
// OpenTelemetry's global error handler, as the SDK does with its own,
// instead of being dropped.
func Int64Counter(m metric.Meter, name string, opts ...metric.Int64CounterOption) metric.Int64Counter {
	c, err := m.Int64Counter(name, opts...)
	if err != nil {
		otel.Handle(err)
	}
	return c
}

// Float64Histogram is Int64Counter's counterpart for histograms.
func Float64Histogram(m metric.Meter, name string, opts ...metric.Float64HistogramOption) metric.Float64Histogram {
	h, err := m.Float64Histogram(name, opts...)
	if err != nil {
		otel.Handle(err)
	}
	return h
}
