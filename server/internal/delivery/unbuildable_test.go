package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/postback"
)

// TestUnbuildableRequestIsPermanent: a rendered postback whose header value
// holds a control character (an order ID stored before intake refused them)
// cannot be sent at all. It is a permanent failure saying why, not a
// network error retried on the whole two-day schedule.
func TestUnbuildableRequestIsPermanent(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	w := &worker{client: srv.Client(), now: time.Now}
	for _, h := range []http.Header{
		{"X-Order": {"ORD\x01-1"}},
		{"X-Order": {"ORD\r\nX-Injected: 1"}},
		{"X-Bad Name": {"v"}},
	} {
		var a domain.Attempt
		outcome, _ := w.send(context.Background(), Request{Method: http.MethodGet, URL: srv.URL + "/cv", MaskedURL: srv.URL + "/cv", Header: h}, domain.Delivery{ID: "dlv_x"}, 1, &a)
		if outcome != postback.Refuse || a.Outcome != "refused" || !strings.Contains(a.Error, "cannot build the request") {
			t.Errorf("header %q: outcome %v, attempt %+v; want refused, saying the request cannot be built", h, outcome, a)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
}
