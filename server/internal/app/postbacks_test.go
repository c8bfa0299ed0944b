package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// receiver is a partner's postback URL: it records what it gets and answers
// with the statuses it is told to, in order (then 200).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []*http.Request
	bodies   []string
	statuses []int
	// hold makes the receiver answer only when the sender gives up (its
	// timeout): a partner slower than any timeout.
	hold bool
	// arrived is closed (and replaced) at each arrival: await's signal.
	arrived chan struct{}
}

func newReceiver(t testing.TB, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses, arrived: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, req)
		r.bodies = append(r.bodies, string(b))
		close(r.arrived)
		r.arrived = make(chan struct{})
		status := 200
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		if status == 429 {
			w.Header().Set("Retry-After", "1")
		}
		hold := r.hold
		r.mu.Unlock()
		if hold {
			<-req.Context().Done()
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer "+http.StatusText(status))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// await waits until the receiver has had at least n requests.
func (r *receiver) await(t testing.TB, n int, within time.Duration) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		r.mu.Lock()
		got, arrived := len(r.got), r.arrived
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("the receiver got %d postbacks in %v, want %d", got, within, n)
		}
	}
}

// settled waits until no delivery is pending: every postback owed so far
// has been attempted and its answer recorded. After it, a receiver's count
// is final (for deliveries that succeed or fail for good).
func settled(t testing.TB, s *testServer) {
	t.Helper()
	pb := batonv1connect.NewPostbackServiceClient(s.client, s.url, withKey(adminKey))
	testwait.Until(t, 15*time.Second, "every delivery settled", func() bool {
		q, err := pb.GetDeliveryQueue(context.Background(), &batonv1.GetDeliveryQueueRequest{})
		return err == nil && q.GetPendingCount() == 0
	})
}

func (r *receiver) request(i int) (*http.Request, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[i], r.bodies[i]
}

type pbEnv struct {
	*convEnv
	pb    batonv1connect.PostbackServiceClient // the demo publisher's key
	admin batonv1connect.PostbackServiceClient
}

func fastRetries(c *config.Config) {
	c.PostbackAllow = "127.0.0.0/8, ::1/128"
	c.PostbackSchedule = "100ms,200ms,300ms"
}

func newPBEnv(t testing.TB, mutate ...func(*config.Config)) *pbEnv {
	t.Helper()
	if len(mutate) == 0 {
		mutate = []func(*config.Config){fastRetries}
	}
	return pbEnvOn(newClickEnv(t, pbOffer(), mutate...))
}

// pbOffer is the offer of a pbEnv: its links pass the click ID as sid.
func pbOffer() *batonv1.CreateOfferRequest {
	return &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}}
}

// pbEnvOn is newPBEnv on a clickEnv already made.
func pbEnvOn(e *clickEnv) *pbEnv {
	ce := &convEnv{clickEnv: e,
		adv:     batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey)),
		admin:   batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(adminKey)),
		attr:    batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey)),
		pubConv: batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoPublisherKey)),
	}
	return &pbEnv{convEnv: ce,
		pb:    batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisherKey)),
		admin: batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(adminKey))}
}

func (e *pbEnv) endpoint(t testing.TB, req *batonv1.CreatePostbackEndpointRequest) (*batonv1.PostbackEndpoint, string) {
	t.Helper()
	if len(req.Events) == 0 {
		req.Events = []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}
	}
	if req.Method == 0 {
		req.Method = batonv1.PostbackMethod_POSTBACK_METHOD_GET
	}
	res, err := e.pb.CreatePostbackEndpoint(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.GetEndpoint(), res.GetSecret()
}

// sale records a conversion on a fresh click with param1=sub and returns it.
func (e *pbEnv) sale(t testing.TB, sub, order string) *batonv1.Conversion {
	t.Helper()
	id := e.clickID(t, "param1="+url.QueryEscape(sub))
	res, err := e.adv.RecordConversion(context.Background(), &batonv1.RecordConversionRequest{ClickId: id, OrderId: order, AmountJpy: yen(1980)})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetConversion()
}

// waitDelivery polls until the conversion's delivery leaves pending.
func (e *pbEnv) waitDelivery(t testing.TB, conversionID string, want batonv1.DeliveryState) *batonv1.Delivery {
	t.Helper()
	ctx := context.Background()
	var l *batonv1.ListDeliveriesResponse
	if !testwait.Poll(15*time.Second, func() bool {
		var err error
		if l, err = e.pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{ConversionId: conversionID}); err != nil {
			t.Fatal(err)
		}
		return len(l.GetDeliveries()) > 0 && l.GetDeliveries()[0].GetState() == want
	}) {
		t.Fatalf("delivery of %s never reached %v: %v", conversionID, want, l.GetDeliveries())
	}
	d, err := e.pb.GetDelivery(ctx, &batonv1.GetDeliveryRequest{Id: l.GetDeliveries()[0].GetId()})
	if err != nil {
		t.Fatal(err)
	}
	return d.GetDelivery()
}

func TestCATSPostbackIsDeliveredWithTheMediasID(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	rcv := newReceiver(t)
	ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{
		UrlTemplate: rcv.URL + "/cv?sid=##PARA1##&amount=##AMOUNT##&oid=##CONTENT_UID1##&ad=##CID##&our={click_id}"})
	c := e.sale(t, "media session あ&1", "ORD/1 #2")
	d := e.waitDelivery(t, c.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	req, _ := rcv.request(0)
	if got, want := req.URL.RawQuery, "sid=media%20session%20%E3%81%82%261&amount=1980&oid=ORD%2F1%20%232&ad="+e.offer.GetId()+"&our="+c.GetClickId(); got != want {
		t.Errorf("query %s\n want %s", got, want)
	}
	if req.Header.Get("X-Baton-Delivery") != d.GetId() || d.GetEndpointId() != ep.GetId() || d.GetAttemptCount() != 1 {
		t.Errorf("delivery %v, header %q", d, req.Header.Get("X-Baton-Delivery"))
	}
	a := d.GetAttempts()[0]
	if a.GetStatusCode() != 200 || a.GetOutcome() != batonv1.AttemptOutcome_ATTEMPT_OUTCOME_SUCCESS || a.GetResponseExcerpt() != "answer OK" || !strings.HasPrefix(a.GetUrl(), rcv.URL+"/cv?sid=") {
		t.Errorf("attempt %v", a)
	}
}

func TestUnknownTemplateVariablesAreRefusedByName(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	for tpl, name := range map[string]string{
		"https://m.example/cv?x=##PARA9##":        "##PARA9##",
		"https://m.example/cv?x={clickid}":        "{clickid}",
		"https://m.example/cv?x={sub1}&y=##FOO##": "##FOO##",
	} {
		_, err := e.pb.CreatePostbackEndpoint(context.Background(), &batonv1.CreatePostbackEndpointRequest{UrlTemplate: tpl,
			Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET})
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), name) || !slices.Contains(violationFields(t, err), "url_template") {
			t.Errorf("%s: %v, want invalid_argument naming %s", tpl, err, name)
		}
	}
	// A dry run renders without sending.
	res, err := e.pb.RenderPostback(context.Background(), &batonv1.RenderPostbackRequest{
		UrlTemplate: "https://m.example/cv?s=##PARA1##&a={amount}&c={currency}",
		Sample:      &batonv1.SampleConversion{SubIds: []string{"a b"}, Amount: &batonv1.Money{CurrencyCode: "USD", AmountMinor: 1999}}})
	if err != nil || res.GetUrl() != "https://m.example/cv?s=a%20b&a=19.99&c=USD" || res.GetVariables()["sub1"] != "a b" {
		t.Fatalf("dry run: %v %v", res, err)
	}
}

func TestRetryRules(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	type tc struct {
		name     string
		statuses []int
		state    batonv1.DeliveryState
		attempts int
	}
	cases := []tc{
		{"500 then 200", []int{500, 200}, batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED, 2},
		{"408, 429 (Retry-After), 503, then 200", []int{408, 429, 503, 200}, batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED, 4},
		{"410 is final", []int{410}, batonv1.DeliveryState_DELIVERY_STATE_FAILED, 1},
		{"400 is final", []int{400}, batonv1.DeliveryState_DELIVERY_STATE_FAILED, 1},
		{"always 500: four attempts then failed", []int{500, 500, 500, 500, 500}, batonv1.DeliveryState_DELIVERY_STATE_FAILED, 4},
	}
	wrong := 0
	for i, c := range cases {
		rcv := newReceiver(t, c.statuses...)
		// Each case its own publisher endpoint scoped to its own offer.
		o, err := e.clickEnv.admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: c.name,
			LandingUrl: "https://shop.example/", Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}, Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
		if err != nil {
			t.Fatal(err)
		}
		e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{OfferId: o.GetOffer().GetId(), UrlTemplate: rcv.URL + "/?n={order_id}"})
		l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o.GetOffer().GetId(), PublisherId: app.DemoPublisherID})
		if err != nil {
			t.Fatal(err)
		}
		creq, _ := http.NewRequest(http.MethodGet, l.GetLink().GetUrl(), nil)
		creq.Header.Set("User-Agent", browserUA)
		r, err := noFollow(nil).Do(creq)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		conv, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: clickIDFrom(t, r, "sid"), OrderId: "R" + string(rune('a'+i)), AmountJpy: yen(100)})
		if err != nil {
			t.Fatal(err)
		}
		d := e.waitDelivery(t, conv.GetConversion().GetId(), c.state)
		if int(d.GetAttemptCount()) != c.attempts || rcv.count() != c.attempts {
			wrong++
			t.Errorf("%s: %d attempts logged, %d received, want %d", c.name, d.GetAttemptCount(), rcv.count(), c.attempts)
		}
		ids := map[string]bool{}
		for j := range rcv.count() {
			req, _ := rcv.request(j)
			ids[req.Header.Get("X-Baton-Delivery")] = true
		}
		if len(ids) != 1 {
			wrong++
			t.Errorf("%s: every attempt must carry the same delivery ID, got %v", c.name, ids)
		}
	}
	proof.Tally(t, "fault: receiver answers 500/408/429/503/410/400", len(cases), wrong,
		"each delivery ended succeeded or failed after the right number of attempts, all with one delivery ID")
}

func TestReceiverDownOrSlowThenRedelivered(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t, fastRetries, func(c *config.Config) { c.PostbackTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	// A port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: dead + "/pb?c={click_id}&token=s3cret"})
	c := e.sale(t, "x", "DOWN-1")
	d := e.waitDelivery(t, c.GetId(), batonv1.DeliveryState_DELIVERY_STATE_FAILED)
	if d.GetAttemptCount() != 4 || d.GetAttempts()[0].GetOutcome() != batonv1.AttemptOutcome_ATTEMPT_OUTCOME_NETWORK_ERROR {
		t.Fatalf("down receiver: %v", d)
	}
	if a := d.GetAttempts()[0]; strings.Contains(a.GetUrl(), "s3cret") || strings.Contains(a.GetError(), "s3cret") || !strings.Contains(a.GetUrl(), "token=xxxxx") {
		t.Fatalf("secrets must be masked in the log: %v", a)
	}
	// The receiver is back (same port): redeliver by hand, same delivery ID.
	rcv := newReceiver(t)
	if _, err := e.pb.UpdatePostbackEndpoint(ctx, &batonv1.UpdatePostbackEndpointRequest{
		Endpoint: &batonv1.PostbackEndpoint{Id: ep.GetId(), UrlTemplate: rcv.URL + "/pb?c={click_id}"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"url_template"}}}); err != nil {
		t.Fatal(err)
	}
	rd, err := e.pb.Redeliver(ctx, &batonv1.RedeliverRequest{EndpointId: ep.GetId()})
	if err != nil || rd.GetQueuedCount() != 1 {
		t.Fatalf("redeliver: %v %v", rd, err)
	}
	d = e.waitDelivery(t, c.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	if req, _ := rcv.request(0); req.Header.Get("X-Baton-Delivery") != d.GetId() || d.GetAttemptCount() != 5 {
		t.Fatalf("redelivered: %v", d)
	}
	// A receiver slower than the timeout: timeouts, then failed.
	slow := newReceiver(t)
	slow.hold = true
	if _, err := e.pb.UpdatePostbackEndpoint(ctx, &batonv1.UpdatePostbackEndpointRequest{
		Endpoint: &batonv1.PostbackEndpoint{Id: ep.GetId(), UrlTemplate: slow.URL + "/pb"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"url_template"}}}); err != nil {
		t.Fatal(err)
	}
	c2 := e.sale(t, "y", "SLOW-1")
	d2 := e.waitDelivery(t, c2.GetId(), batonv1.DeliveryState_DELIVERY_STATE_FAILED)
	if d2.GetAttemptCount() != 4 || d2.GetAttempts()[0].GetOutcome() != batonv1.AttemptOutcome_ATTEMPT_OUTCOME_TIMEOUT {
		t.Fatalf("slow receiver: %v", d2.GetAttempts())
	}
	proof.Tally(t, "fault: receiver down, then back; receiver slow", 2, 0,
		"down: 4 network errors then failed, redelivered by hand once back (same delivery ID); slow: 4 timeouts then failed")
}

func TestSignedJSONAndSecretRotation(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	rcv := newReceiver(t)
	ep, secret := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/hook", Method: batonv1.PostbackMethod_POSTBACK_METHOD_POST_JSON})
	c := e.sale(t, "m1", "JSON-1")
	e.waitDelivery(t, c.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	req, body := rcv.request(0)
	verify := func(secrets []string, req *http.Request, body string) error {
		return postback.Verify(secrets, req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), []byte(body),
			req.Header.Get("webhook-signature"), time.Now(), 5*time.Minute)
	}
	if err := verify([]string{secret}, req, body); err != nil || !strings.Contains(body, `"order_id":"JSON-1"`) || !strings.Contains(body, `"sub1":"m1"`) {
		t.Fatalf("standard webhooks: %v %s", err, body)
	}
	if err := verify([]string{postback.NewSecret()}, req, body); err == nil {
		t.Fatal("verified with another secret")
	}
	rot, err := e.pb.RotatePostbackEndpointSecret(ctx, &batonv1.RotatePostbackEndpointSecretRequest{Id: ep.GetId(), Overlap: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c2 := e.sale(t, "m2", "JSON-2")
	e.waitDelivery(t, c2.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	req, body = rcv.request(1)
	if verify([]string{secret}, req, body) != nil || verify([]string{rot.GetSecret()}, req, body) != nil {
		t.Fatalf("during the overlap both secrets must verify: %q", req.Header.Get("webhook-signature"))
	}
}

func TestStatusChangesAndTestEndpoints(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	pending, approved, testRcv := newReceiver(t), newReceiver(t), newReceiver(t)
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: pending.URL + "/p?s={status}&o={order_id}"})
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: approved.URL + "/a?s={status}&c={commission}",
		Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_APPROVED, batonv1.PostbackEvent_POSTBACK_EVENT_REJECTED}})
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: testRcv.URL + "/t?s={status}", Test: true})
	c := e.sale(t, "m", "ST-1")
	e.waitDelivery(t, c.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	if _, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: c.GetId(),
		Status: batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED, Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE}); err != nil {
		t.Fatal(err)
	}
	approved.await(t, 1, 10*time.Second)
	if req, _ := approved.request(0); req.URL.RawQuery != "s=approved&c=99" {
		t.Fatalf("approved postback %s", req.URL.RawQuery)
	}
	// A test conversion goes to the test endpoint only.
	id := e.clickID(t, "")
	if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "ST-T", AmountJpy: yen(1), Test: true}); err != nil {
		t.Fatal(err)
	}
	testRcv.await(t, 1, 10*time.Second)
	settled(t, e.testServer) // nothing more is on its way
	if testRcv.count() != 1 || pending.count() != 1 || approved.count() != 1 {
		t.Fatalf("test: %d, pending: %d, approved: %d", testRcv.count(), pending.count(), approved.count())
	}
	// Another publisher sees none of this.
	pub2 := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisher2Key))
	if l, err := pub2.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{}); err != nil || len(l.GetDeliveries()) != 0 {
		t.Fatalf("another publisher's deliveries: %v %v", l, err)
	}
	if l, err := pub2.ListPostbackEndpoints(ctx, &batonv1.ListPostbackEndpointsRequest{}); err != nil || len(l.GetEndpoints()) != 0 {
		t.Fatalf("another publisher's endpoints: %v %v", l, err)
	}
}
