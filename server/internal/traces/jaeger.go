// Package traces reads a trace's spans from the Jaeger query API
// (GET {base}/api/traces/{id}), for the operator's chain view: Jaeger built
// from its Go module has no UI of its own, and the console draws the spans.
package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// ErrNotConfigured: no Jaeger URL was given.
var ErrNotConfigured = fmt.Errorf("%w: BATON_JAEGER_URL is not set: Baton does not know where Jaeger's query API is", domain.ErrFailedPrecondition)

// errExportedInBatches is why a trace may be missing yet: for logs (the
// caller is told only that Jaeger has no such trace).
var errExportedInBatches = errors.New("spans are exported in batches: try again in a few seconds")

// ErrUnavailable: Jaeger did not answer, or answered something else than
// a trace.
var ErrUnavailable = fmt.Errorf("%w: jaeger query API", domain.ErrUnavailable)

// Span is one span of a trace.
type Span struct {
	SpanID, ParentSpanID, Name, Service string
	Start                               time.Time
	Duration                            time.Duration
	Attributes                          map[string]string
	Error                               bool
}

// Jaeger is a client of one Jaeger query API.
type Jaeger struct {
	base   string
	client *http.Client
}

// New returns a client of the query API at base ("http://127.0.0.1:16686"),
// or nil when base is empty.
func New(base string) *Jaeger {
	if base == "" {
		return nil
	}
	return &Jaeger{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 10 * time.Second}}
}

type jaegerAnswer struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			References    []struct {
				RefType string `json:"refType"`
				TraceID string `json:"traceID"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			StartTime int64 `json:"startTime"` // µs since the epoch
			Duration  int64 `json:"duration"`  // µs
			Tags      []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
			ProcessID string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

// Trace returns the spans of trace id, sorted by start time.
func (j *Jaeger) Trace(ctx context.Context, id string) ([]Span, error) {
	if j == nil {
		return nil, ErrNotConfigured
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.base+"/api/traces/"+id, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	res, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, domain.Wrap(domain.ErrNotFound, errExportedInBatches, "Jaeger has no trace %s", id)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: query API answered %d", ErrUnavailable, res.StatusCode)
	}
	var a jaegerAnswer
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: unreadable answer: %w", ErrUnavailable, err)
	}
	var out []Span
	for _, tr := range a.Data {
		for _, sp := range tr.Spans {
			s := Span{SpanID: sp.SpanID, Name: sp.OperationName, Service: tr.Processes[sp.ProcessID].ServiceName,
				Start: time.UnixMicro(sp.StartTime).UTC(), Duration: time.Duration(sp.Duration) * time.Microsecond,
				Attributes: map[string]string{}}
			for _, r := range sp.References {
				if r.RefType == "CHILD_OF" && r.TraceID == tr.TraceID {
					s.ParentSpanID = r.SpanID
				}
			}
			for _, tg := range sp.Tags {
				v := fmt.Sprint(tg.Value)
				s.Attributes[tg.Key] = v
				if (tg.Key == "error" && v == "true") || (tg.Key == "otel.status_code" && v == "ERROR") {
					s.Error = true
				}
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: Jaeger has no spans for trace %s yet", domain.ErrNotFound, id)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Start.Before(out[b].Start) })
	return out, nil
}
