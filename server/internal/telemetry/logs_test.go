package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/batonhq/baton/server/internal/testwait"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		_ = json.Unmarshal([]byte(line), &m)
		out = append(out, m)
	}
	return out
}

// TestRateLimitedWritesTheFirstThenASummary: per kind of line, the first
// Burst of an interval are written, the rest counted into one summary line
// at the end of the interval; other kinds, and INFO, are not held back.
func TestRateLimitedWritesTheFirstThenASummary(t *testing.T) {
	var buf lockedBuffer
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rl := NewRateLimited(slog.NewJSONHandler(&buf, nil), LogLimit{MinLevel: slog.LevelWarn, Burst: 3, Interval: time.Hour, Now: clock})
	log := slog.New(rl).With("component", "x")
	for i := range 1000 {
		log.Warn("conversion refused", "i", i)
		log.Info("postback attempt", "i", i)
	}
	log.Error("another kind")
	count := map[string]int{}
	for _, l := range buf.lines() {
		count[l["msg"].(string)]++
	}
	if count["conversion refused"] != 3 || count["postback attempt"] != 1000 || count["another kind"] != 1 || count["log lines suppressed"] != 0 {
		t.Fatalf("lines written: %v", count)
	}
	// The interval ends: the next line of that kind is written after one
	// summary of the 997 dropped.
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	log.Warn("conversion refused", "i", "next")
	lines := buf.lines()
	summary, next := lines[len(lines)-2], lines[len(lines)-1]
	if summary["msg"] != "log lines suppressed" || summary["message"] != "conversion refused" || summary["suppressed"] != float64(997) ||
		summary["level"] != "WARN" || summary["component"] != "x" || next["i"] != "next" {
		t.Fatalf("summary %v, then %v", summary, next)
	}
	// Flush writes what is pending at once (the window holds "next", two
	// more written, three dropped).
	for range 5 {
		log.Warn("conversion refused")
	}
	rl.Flush()
	lines = buf.lines()
	if last := lines[len(lines)-1]; last["msg"] != "log lines suppressed" || last["suppressed"] != float64(3) {
		t.Fatalf("after Flush: %v", last)
	}
}

// TestRateLimitedSummaryComesOnItsOwn: when the flood stops, the summary
// is still written when the interval ends (no further line needed).
func TestRateLimitedSummaryComesOnItsOwn(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(NewRateLimited(slog.NewJSONHandler(&buf, nil), LogLimit{MinLevel: slog.LevelWarn, Burst: 1, Interval: 50 * time.Millisecond}))
	for range 10 {
		log.Warn("flood")
	}
	if !testwait.Poll(10*time.Second, func() bool {
		lines := buf.lines()
		last := lines[len(lines)-1]
		return last["msg"] == "log lines suppressed" && last["suppressed"] == float64(9)
	}) {
		t.Fatalf("no summary: %v", buf.lines())
	}
}

// TestLogLinesCarryTheExportedSpansIDs: a line logged with a span's
// context names the trace and span that the exporter received.
func TestLogLinesCarryTheExportedSpansIDs(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var buf lockedBuffer
	log := slog.New(WithTraceIDs(slog.NewJSONHandler(&buf, nil))).With("component", "gateway")
	ctx, span := tp.Tracer("test").Start(context.Background(), "baton.click")
	log.WarnContext(ctx, "inside the span")
	span.End()
	log.Warn("no context")
	log.WarnContext(context.Background(), "a context without a span")
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans exported", len(ended))
	}
	lines := buf.lines()
	if lines[0]["trace_id"] != ended[0].SpanContext().TraceID().String() || lines[0]["span_id"] != ended[0].SpanContext().SpanID().String() ||
		lines[0]["component"] != "gateway" {
		t.Errorf("line %v, span %s/%s", lines[0], ended[0].SpanContext().TraceID(), ended[0].SpanContext().SpanID())
	}
	for _, l := range lines[1:] {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("a line without a span has a trace ID: %v", l)
		}
	}
}
