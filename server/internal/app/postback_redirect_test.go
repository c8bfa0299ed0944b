package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestPostbackRedirectsAreNotFollowed: a receiver answering 301, 302, 307
// or 308, to another host or its own, does not get the postback sent on:
// no body, signature or custom header reaches the target, nothing carries
// a Referer, and the attempt says why the delivery failed.
func TestPostbackRedirectsAreNotFollowed(t *testing.T) {
	e := newPBEnv(t)
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, fmt.Sprintf("%s %s key=%q sig=%q referer=%q", r.Method, r.URL, r.Header.Get("X-Api-Key"), r.Header.Get("Webhook-Signature"), r.Referer()))
		mu.Unlock()
	}))
	t.Cleanup(other.Close)
	var referers []string
	tried, lost := 0, 0
	for i, c := range []struct {
		status    int
		crossHost bool
	}{{307, true}, {308, true}, {302, true}, {301, true}, {307, false}, {302, false}} {
		tried++
		target := other.URL + "/stolen"
		var self *httptest.Server
		self = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if r.URL.Path == "/stolen" {
				leaked = append(leaked, fmt.Sprintf("same host %s %s", r.Method, r.URL))
			}
			referers = append(referers, r.Referer())
			mu.Unlock()
			if !c.crossHost {
				target = self.URL + "/stolen"
			}
			http.Redirect(w, r, target, c.status)
		}))
		t.Cleanup(self.Close)
		method := batonv1.PostbackMethod_POSTBACK_METHOD_POST_JSON
		if i%2 == 1 {
			method = batonv1.PostbackMethod_POSTBACK_METHOD_GET
		}
		ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{Method: method,
			UrlTemplate: self.URL + "/cv?token=tok-secret-" + fmt.Sprint(i) + "&o={order_id}",
			Headers:     []*batonv1.Header{{Name: "X-Api-Key", Value: "api-secret"}}})
		conv := e.sale(t, "sub", fmt.Sprintf("REDIR-%d", i))
		d := e.waitEndpointDelivery(t, conv.GetId(), ep.GetId())
		a := d.GetLastAttempt()
		if d.GetAttemptCount() != 1 || a.GetStatusCode() != int32(c.status) || a.GetOutcome() != batonv1.AttemptOutcome_ATTEMPT_OUTCOME_REFUSED ||
			!strings.Contains(a.GetError(), "redirect") {
			lost++
			t.Errorf("%d (cross host %v, endpoint %s): %d attempts, last %v; want one refused attempt with the %d and why", c.status, c.crossHost, ep.GetId(), d.GetAttemptCount(), a, c.status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range leaked {
		lost++
		t.Errorf("the redirect was followed: %s", l)
	}
	for _, r := range referers {
		if r != "" {
			lost++
			t.Errorf("a postback carried Referer %q", r)
		}
	}
	proof.Tally(t, "hostile: postback receiver redirects", tried, lost,
		"301/302/307/308 to another host and to the same host: none followed (no body, signature, X-Api-Key or Referer sent on), each a failed delivery saying why")
}

// waitEndpointDelivery polls until the conversion's delivery to endpoint
// leaves pending, and returns it with its attempts.
func (e *pbEnv) waitEndpointDelivery(t testing.TB, conversionID, endpoint string) *batonv1.Delivery {
	t.Helper()
	var l *batonv1.ListDeliveriesResponse
	var found string
	if !testwait.Poll(15*time.Second, func() bool {
		var err error
		if l, err = e.pb.ListDeliveries(context.Background(), &batonv1.ListDeliveriesRequest{ConversionId: conversionID}); err != nil {
			t.Fatal(err)
		}
		for _, d := range l.GetDeliveries() {
			if d.GetEndpointId() == endpoint && d.GetState() != batonv1.DeliveryState_DELIVERY_STATE_PENDING {
				found = d.GetId()
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no settled delivery of %s to %s: %v", conversionID, endpoint, l.GetDeliveries())
	}
	got, err := e.pb.GetDelivery(context.Background(), &batonv1.GetDeliveryRequest{Id: found})
	if err != nil {
		t.Fatal(err)
	}
	return got.GetDelivery()
}
