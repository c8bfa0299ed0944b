package rpc

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/traces"
)

// WithTraces lets GetTrace read spans from Jaeger (nil: not configured).
func (s *ConversionServer) WithTraces(j *traces.Jaeger) *ConversionServer {
	s.traces = j
	return s
}

// traceIDOf is the trace ID of a W3C traceparent ("00-<trace>-<span>-<flags>"),
// or "" when there is none.
func traceIDOf(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || parts[1] == strings.Repeat("0", 32) {
		return ""
	}
	for _, c := range parts[1] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	return parts[1]
}

// GetTrace returns a trace's spans from Jaeger, for admin keys.
func (s *ConversionServer) GetTrace(ctx context.Context, req *batonv1.GetTraceRequest) (*batonv1.GetTraceResponse, error) {
	return unary(ctx, s.errs, func(p domain.Principal) (*batonv1.GetTraceResponse, error) {
		if !p.IsAdmin() {
			return nil, domain.Denied("only an admin key may read traces: a trace spans partners")
		}
		spans, err := s.traces.Trace(ctx, req.GetTraceId())
		if err != nil {
			return nil, err
		}
		out := &batonv1.GetTraceResponse{TraceId: req.GetTraceId()}
		for _, sp := range spans {
			out.Spans = append(out.Spans, &batonv1.TraceSpan{SpanId: sp.SpanID, ParentSpanId: sp.ParentSpanID, Name: sp.Name,
				Service: sp.Service, StartTime: timestamppb.New(sp.Start), Duration: durationpb.New(sp.Duration),
				Attributes: sp.Attributes, Error: sp.Error})
		}
		return out, nil
	})
}
