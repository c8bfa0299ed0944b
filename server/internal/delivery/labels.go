package delivery

import "sync"

// DefaultMetricEndpoints is how many endpoints get a label of their own on
// the attempt counter; the rest are counted under OtherEndpoint. Endpoints
// are created by partners, so their number has no bound of its own.
const DefaultMetricEndpoints = 200

// OtherEndpoint is the endpoint label of every endpoint past the cap.
const OtherEndpoint = "other"

// endpointLabels hands out the endpoint label of the attempt counter: the
// endpoint ID (Baton's, never a URL or host from partner input) for the
// first max endpoints seen, "other" after that, so the label set on
// /metrics stays bounded however many endpoints exist.
type endpointLabels struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newEndpointLabels(limit int) *endpointLabels {
	if limit <= 0 {
		limit = DefaultMetricEndpoints
	}
	return &endpointLabels{max: limit, seen: map[string]struct{}{}}
}

func (l *endpointLabels) label(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[id]; ok {
		return id
	}
	if len(l.seen) >= l.max {
		return OtherEndpoint
	}
	l.seen[id] = struct{}{}
	return id
}
