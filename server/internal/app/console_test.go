package app_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestConsoleIsServedAtTheRoot: "/" is the console page, its script and
// style load from /console/ (gzip when asked), and every other path is
// still a 404, so the console shadows none of Baton's routes.
func TestConsoleIsServedAtTheRoot(t *testing.T) {
	t.Parallel()
	s := start(t)
	get := func(path string, gz bool) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r io.Reader = res.Body
		if res.Header.Get("Content-Encoding") == "gzip" {
			if r, err = gzip.NewReader(res.Body); err != nil {
				t.Fatal(err)
			}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(b)
	}
	res, page := get("/", false)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, `<div id="app">`) {
		t.Fatalf("GET / = %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	refs := regexp.MustCompile(`/console/app-[0-9a-f]{12}\.(js|css)`).FindAllString(page, -1)
	if len(refs) != 2 {
		t.Fatalf("the page names %v, want one script and one style", refs)
	}
	for _, ref := range refs {
		res, body := get(ref, true)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" || len(body) < 100 ||
			!strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d, encoding %q, cache %q, %d bytes", ref, res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("Cache-Control"), len(body))
		}
	}
	for _, path := range []string{"/nope", "/console/", "/console/nope.js", "/console/index.html", "/c/", "/index.html"} {
		if res, _ := get(path, false); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, res.StatusCode)
		}
	}
	if res, body := get("/healthz", false); res.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", res.StatusCode, body)
	}
}

// TestSendTestPostback: a publisher's "send test postback" reaches the
// endpoint's URL at once, as a test, with the attempt in the delivery log;
// it is never counted, and another publisher cannot send one to it.
func TestSendTestPostback(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	rcv := newReceiver(t)
	// An endpoint for approvals only, not a test endpoint, with no offer:
	// the test is sent anyway, under the offer of the publisher's link.
	ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{
		UrlTemplate: rcv.URL + "/cv?sid={sub1}&amount={amount}&status={status}&oid={order_id}",
		Events:      []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_APPROVED}})
	res, err := e.pb.SendTestPostback(ctx, &batonv1.SendTestPostbackRequest{EndpointId: ep.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	d := res.GetDelivery()
	if d.GetEndpointId() != ep.GetId() || !d.GetTest() || d.GetEvent() != batonv1.PostbackEvent_POSTBACK_EVENT_PENDING {
		t.Fatalf("delivery %v", d)
	}
	got := e.waitDelivery(t, d.GetConversionId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	if got.GetId() != d.GetId() || len(got.GetAttempts()) != 1 || got.GetAttempts()[0].GetStatusCode() != 200 {
		t.Fatalf("delivery after the attempt %v", got)
	}
	req, _ := rcv.request(0)
	if q := req.URL.Query(); q.Get("amount") != "1980" || q.Get("status") != "pending" || !strings.HasPrefix(q.Get("oid"), "TEST-") {
		t.Errorf("the receiver got %s", req.URL.RawQuery)
	}
	conv, err := e.convEnv.admin.GetConversion(ctx, &batonv1.GetConversionRequest{Id: d.GetConversionId()})
	if err != nil {
		t.Fatal(err)
	}
	if !conv.GetConversion().GetTest() || conv.GetConversion().GetCommission().GetAmountMinor() != 0 {
		t.Errorf("the test conversion %v", conv.GetConversion())
	}
	// Another publisher, an advertiser: refused, nothing sent.
	other := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisher2Key))
	adv := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	for name, c := range map[string]batonv1connect.PostbackServiceClient{"publisher2": other, "advertiser": adv} {
		_, err := c.SendTestPostback(ctx, &batonv1.SendTestPostbackRequest{EndpointId: ep.GetId()})
		if ce := new(connect.Error); !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
			t.Errorf("%s: %v, want permission_denied", name, err)
		}
	}
	// A disabled endpoint: a clear failed_precondition.
	if _, err := e.pb.UpdatePostbackEndpoint(ctx, &batonv1.UpdatePostbackEndpointRequest{
		Endpoint:   &batonv1.PostbackEndpoint{Id: ep.GetId(), State: batonv1.EndpointState_ENDPOINT_STATE_DISABLED},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.pb.SendTestPostback(ctx, &batonv1.SendTestPostbackRequest{EndpointId: ep.GetId()})
	if ce := new(connect.Error); !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition || !strings.Contains(ce.Message(), "enable it") {
		t.Errorf("disabled endpoint: %v", err)
	}
	if n := rcv.count(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1", n)
	}
}

// TestGetDeliveryQueue: the admin sees how many postbacks wait and since
// when, and a receiver that refuses makes its endpoint count as failing; a
// partner's key is refused.
func TestGetDeliveryQueue(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t, func(c *config.Config) {
		c.PostbackAllow = "127.0.0.0/8, ::1/128"
		c.PostbackSchedule = "1h" // the failed first attempt waits: pending
	})
	ctx := context.Background()
	empty, err := e.admin.GetDeliveryQueue(ctx, &batonv1.GetDeliveryQueueRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if empty.GetPendingCount() != 0 || empty.GetOldestPendingTime() != nil || empty.GetFailingEndpointCount() != 0 {
		t.Fatalf("an empty queue: %v", empty)
	}
	rcv := newReceiver(t, 503)     // retried in an hour: pending
	refuses := newReceiver(t, 400) // refused for good: its endpoint is failing
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/cv?o={order_id}"})
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: refuses.URL + "/cv?o={order_id}"})
	before := time.Now().Add(-time.Second)
	c := e.sale(t, "s", "QUEUE-1")
	var q *batonv1.GetDeliveryQueueResponse
	if !testwait.Poll(15*time.Second, func() bool {
		if q, err = e.admin.GetDeliveryQueue(ctx, &batonv1.GetDeliveryQueueRequest{}); err != nil {
			t.Fatal(err)
		}
		return rcv.count() == 1 && refuses.count() == 1 && q.GetFailingEndpointCount() == 1
	}) {
		t.Fatalf("after a 503: %v (receiver got %d)", q, rcv.count())
	}
	if q.GetPendingCount() != 1 || q.GetOldestPendingTime().AsTime().Before(before) || q.GetDisabledFailingEndpointCount() != 0 {
		t.Errorf("queue %v for conversion %s", q, c.GetId())
	}
	for name, key := range map[string]string{"publisher": app.DemoPublisherKey, "advertiser": app.DemoAdvertiserKey} {
		_, err := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(key)).GetDeliveryQueue(ctx, &batonv1.GetDeliveryQueueRequest{})
		if ce := new(connect.Error); !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
			t.Errorf("%s key: %v, want permission_denied", name, err)
		}
	}
}
