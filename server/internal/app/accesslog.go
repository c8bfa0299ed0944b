package app

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/batonhq/baton/server/internal/telemetry"
)

// accessLog writes one INFO line "access" per request: method, route,
// status, duration, bytes written and trace ID. The route is the path for
// RPCs and fixed routes, and the pattern for the click redirect and the
// first-party tag (/c/{link}, /t/c/{id}); never the query, whose values may
// carry IDs and secrets. Click and tag requests are logged with
// probability clickRate; the rest always.
func accessLog(log *slog.Logger, clickRate float64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, click := accessRoute(r.URL.Path)
		if click && (clickRate <= 0 || clickRate < 1 && rand.Float64() >= clickRate) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		ctx, first := telemetry.WithSpanHolder(r.Context())
		rec := &recordingWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		sc := first()
		if !sc.IsValid() {
			// A trace continued from the caller's traceparent (RPCs), even
			// when no span is recorded here.
			sc = trace.SpanContextFromContext(propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		}
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000), slog.Int64("bytes", rec.bytes)}
		if sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "access", attrs...)
	})
}

// accessRoute names the route of path, and says whether it is a click or
// tag route (sampled in the access log, and allowed long request lines).
func accessRoute(path string) (string, bool) {
	switch {
	case strings.HasPrefix(path, "/c/"):
		return "/c/{link}", true
	case strings.HasPrefix(path, "/t/c/"):
		return "/t/c/{id}", true
	case path == "/tracking/tracking_img.php", path == "/t.js":
		return path, true
	}
	if len(path) > 128 {
		path = path[:128]
	}
	return path, false
}

// recordingWriter counts what a handler writes. It passes Flush on (gRPC
// streams) and unwraps for http.ResponseController.
type recordingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
