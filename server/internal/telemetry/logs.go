package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// WithTraceIDs wraps h so that every record logged with a context holding
// a span carries that span's trace_id and span_id: a log line can be
// found from the trace in Jaeger, and the trace from the line.
func WithTraceIDs(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ next slog.Handler }

func (t traceHandler) Enabled(ctx context.Context, l slog.Level) bool { return t.next.Enabled(ctx, l) }

func (t traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return t.next.Handle(ctx, r)
}

func (t traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{t.next.WithAttrs(as)}
}
func (t traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{t.next.WithGroup(name)}
}

// LogLimit bounds how many records of one kind (same level and message) are
// written per interval.
type LogLimit struct {
	// MinLevel: records below it are never limited (the default, 0, is
	// INFO: only INFO and above would be limited; use slog.LevelWarn to
	// leave INFO alone).
	MinLevel slog.Level
	// Burst records of a kind are written per Interval; the rest are
	// counted and one summary line says how many were suppressed.
	Burst    int
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// DefaultLogLimit is what Baton runs with: at WARN and above, 20 lines of
// one kind per minute, then one summary. A flood of refused garbage (one
// WARN per request) writes a few lines a minute instead of megabytes.
var DefaultLogLimit = LogLimit{MinLevel: slog.LevelWarn, Burst: 20, Interval: time.Minute}

// RateLimited is a handler that writes, per kind of record (level and
// message), the first Burst of each interval and drops the rest; when an
// interval in which some were dropped ends, it writes one record "log lines
// suppressed" with the message and how many.
type RateLimited struct {
	next  slog.Handler
	state *limitState
}

type limitKey struct {
	level slog.Level
	msg   string
}

type limitWindow struct {
	start      time.Time
	n          int
	suppressed int
	handler    slog.Handler // the one that first suppressed, for the summary
	timer      *time.Timer
}

type limitState struct {
	limit LogLimit
	mu    sync.Mutex
	kinds map[limitKey]*limitWindow
}

// NewRateLimited wraps h with limit.
func NewRateLimited(h slog.Handler, limit LogLimit) *RateLimited {
	if limit.Now == nil {
		limit.Now = time.Now
	}
	return &RateLimited{next: h, state: &limitState{limit: limit, kinds: map[limitKey]*limitWindow{}}}
}

func (l *RateLimited) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

func (l *RateLimited) Handle(ctx context.Context, r slog.Record) error {
	st := l.state
	if r.Level < st.limit.MinLevel || st.limit.Burst <= 0 {
		return l.next.Handle(ctx, r)
	}
	key := limitKey{r.Level, r.Message}
	now := st.limit.Now()
	st.mu.Lock()
	w := st.kinds[key]
	var summary *limitWindow
	if w != nil && now.Sub(w.start) >= st.limit.Interval {
		if w.suppressed > 0 {
			summary = w
			if w.timer != nil {
				w.timer.Stop()
			}
		}
		w = nil
	}
	if w == nil {
		w = &limitWindow{start: now}
		st.kinds[key] = w
	}
	w.n++
	pass := w.n <= st.limit.Burst
	if !pass {
		w.suppressed++
		if w.suppressed == 1 {
			w.handler = l.next
			w.timer = time.AfterFunc(st.limit.Interval-now.Sub(w.start), func() { st.flush(key, w) })
		}
	}
	st.mu.Unlock()
	if summary != nil {
		st.summarize(key, summary)
	}
	if !pass {
		return nil
	}
	return l.next.Handle(ctx, r)
}

// flush writes w's summary if w is still the current window of key.
func (st *limitState) flush(key limitKey, w *limitWindow) {
	st.mu.Lock()
	if st.kinds[key] != w || w.suppressed == 0 {
		st.mu.Unlock()
		return
	}
	delete(st.kinds, key)
	st.mu.Unlock()
	st.summarize(key, w)
}

func (st *limitState) summarize(key limitKey, w *limitWindow) {
	r := slog.NewRecord(st.limit.Now(), key.level, "log lines suppressed", 0)
	r.AddAttrs(slog.String("message", key.msg), slog.Int("suppressed", w.suppressed),
		slog.Int("written", st.limit.Burst), slog.String("interval", st.limit.Interval.String()))
	_ = w.handler.Handle(context.Background(), r)
}

// Flush writes the summaries of the current windows now (at shutdown, and
// for tests), and starts new windows.
func (l *RateLimited) Flush() {
	st := l.state
	st.mu.Lock()
	var pending []limitKey
	var windows []*limitWindow
	for k, w := range st.kinds {
		if w.suppressed > 0 {
			if w.timer != nil {
				w.timer.Stop()
			}
			pending, windows = append(pending, k), append(windows, w)
		}
		delete(st.kinds, k)
	}
	st.mu.Unlock()
	for i, k := range pending {
		st.summarize(k, windows[i])
	}
}

func (l *RateLimited) WithAttrs(as []slog.Attr) slog.Handler {
	return &RateLimited{next: l.next.WithAttrs(as), state: l.state}
}

func (l *RateLimited) WithGroup(name string) slog.Handler {
	return &RateLimited{next: l.next.WithGroup(name), state: l.state}
}
