package delivery

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// Propagating makes c send the trace context (traceparent) of the attempt,
// so that the receiver can continue the trace. It records no span of its
// own: the worker's baton.postback.deliver span is the client span, with the
// masked URL only. (An otelhttp transport would record url.full, the sent
// URL with every secret in it, and a server.address label per partner host.)
func Propagating(c *http.Client) *http.Client {
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = propagatingTransport{next: next}
	return c
}

type propagatingTransport struct{ next http.RoundTripper }

func (t propagatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	otel.GetTextMapPropagator().Inject(req.Context(), propagation.HeaderCarrier(r.Header))
	return t.next.RoundTrip(r)
}
