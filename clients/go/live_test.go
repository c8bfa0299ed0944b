package baton_test

// Tests against a running Baton, given by BATON_URL and BATON_ADMIN_KEY. The
// server must run with BATON_DEMO=true (the demo advertiser, publisher and
// their keys) and accept postbacks to this machine
// (BATON_POSTBACK_ALLOW=127.0.0.0/8): the tests receive postbacks on an
// httptest server on 127.0.0.1. Without the variables they fail, unless
// `go test -short` is given: then they are skipped.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	baton "github.com/batonhq/baton/clients/go"
	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
)

// The demo partners that BATON_DEMO=true seeds.
const (
	demoAdvertiserID  = "adv_demo"
	demoPublisherID   = "pub_demo"
	demoAdvertiserKey = "bk_demo_advertiser_key_0000000000"
	demoPublisherKey  = "bk_demo_publisher_key_00000000000"
)

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"

type liveEnv struct {
	url      string
	adminKey string
	admin    *baton.Client
}

// live returns the server under test, or ends the test: skipped with
// -short, failed otherwise, when BATON_URL or BATON_ADMIN_KEY is unset.
func live(t *testing.T) *liveEnv {
	t.Helper()
	u, key := os.Getenv("BATON_URL"), os.Getenv("BATON_ADMIN_KEY")
	if u == "" || key == "" {
		if testing.Short() {
			t.Skip("live test skipped (-short): BATON_URL and BATON_ADMIN_KEY are not set")
		}
		t.Fatal("live tests need a running Baton: set BATON_URL (e.g. http://127.0.0.1:8080) and BATON_ADMIN_KEY " +
			"for a server started with BATON_DEMO=true and BATON_POSTBACK_ALLOW=127.0.0.0/8, " +
			"or run `go test -short ./...` to skip them")
	}
	return &liveEnv{url: u, adminKey: key, admin: baton.New(u, key)}
}

// as returns a client calling with a demo key, checking once that the
// server has the demo data.
func (e *liveEnv) as(t *testing.T, key string) *baton.Client {
	t.Helper()
	c := baton.New(e.url, key)
	if _, err := c.Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{}); err != nil {
		t.Fatalf("the demo key %s is refused (%v): start Baton with BATON_DEMO=true", key, err)
	}
	return c
}

// suffix makes names and order IDs unique across runs on one server.
func suffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// offer creates an offer of the demo advertiser (as admin): landing
// https://shop.example.com/lp, Baton's click ID passed on as sid, 5% payout.
func (e *liveEnv) offer(t *testing.T) *batonv1.Offer {
	t.Helper()
	res, err := e.admin.Config.CreateOffer(context.Background(), &batonv1.CreateOfferRequest{
		AdvertiserId: demoAdvertiserID,
		Name:         "Go client test " + suffix(),
		LandingUrl:   "https://shop.example.com/lp",
		Downstream:   &batonv1.DownstreamLink{ClickIdParam: "sid"},
		Payout:       &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}},
	})
	if err != nil {
		t.Fatalf("CreateOffer: %v", err)
	}
	return res.GetOffer()
}

func (e *liveEnv) link(t *testing.T, offerID, publisherID string) *batonv1.TrackingLink {
	t.Helper()
	res, err := e.admin.Clicks.CreateTrackingLink(context.Background(), &batonv1.CreateTrackingLinkRequest{OfferId: offerID, PublisherId: publisherID})
	if err != nil {
		t.Fatalf("CreateTrackingLink: %v", err)
	}
	return res.GetLink()
}

// postbackReceiver is a publisher's postback URL on 127.0.0.1.
type postbackReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
	signal chan struct{}
}

func newReceiver(t *testing.T) *postbackReceiver {
	t.Helper()
	r := &postbackReceiver{signal: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, req)
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
		r.signal <- struct{}{}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *postbackReceiver) requests() ([]*http.Request, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), slices.Clone(r.bodies)
}

// waitRequest waits up to 10 s for the receiver's first request.
func (r *postbackReceiver) waitRequest(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	select {
	case <-r.signal:
	case <-time.After(10 * time.Second):
		t.Fatal("no postback arrived within 10 s (is BATON_POSTBACK_ALLOW=127.0.0.0/8 set on the server?)")
	}
	got, bodies := r.requests()
	return got[0], bodies[0]
}

func TestLiveWhoAmIOverEveryProtocol(t *testing.T) {
	t.Parallel()
	e := live(t)
	for _, p := range []baton.Protocol{baton.ProtocolConnect, baton.ProtocolConnectJSON, baton.ProtocolGRPC, baton.ProtocolGRPCWeb} {
		res, err := baton.New(e.url, e.adminKey, baton.WithProtocol(p)).Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{})
		if err != nil {
			t.Errorf("%v: WhoAmI: %v", p, err)
			continue
		}
		if got := res.GetKey().GetRole(); got != batonv1.Role_ROLE_ADMIN {
			t.Errorf("%v: role %v, want ROLE_ADMIN", p, got)
		}
	}
}

func TestLiveWrongKeyIsUnauthenticated(t *testing.T) {
	t.Parallel()
	e := live(t)
	_, err := baton.New(e.url, e.adminKey+"-wrong").Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{})
	be, ok := baton.AsError(err)
	if !ok || be.Code != connect.CodeUnauthenticated {
		t.Fatalf("wrong key: %v, want unauthenticated", err)
	}
}

func TestLiveValidationErrorNamesTheField(t *testing.T) {
	t.Parallel()
	e := live(t)
	_, err := e.admin.Config.CreatePublisher(context.Background(), &batonv1.CreatePublisherRequest{Name: "", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
	be, ok := baton.AsError(err)
	if !ok || be.Code != connect.CodeInvalidArgument {
		t.Fatalf("empty name: %v, want invalid_argument", err)
	}
	i := slices.IndexFunc(be.Violations, func(v baton.Violation) bool { return v.Field == "name" })
	if i < 0 {
		t.Fatalf("no violation on the field name: %+v", be.Violations)
	}
	if v := be.Violations[i]; v.RuleID == "" || v.Message == "" {
		t.Errorf("violation without rule or message: %+v", v)
	}
}

// TestLiveClickConversionPostback walks a sale through Baton: an offer and a
// link, a click recorded over the API and one through the redirect, a
// postback endpoint, a conversion, and the delivery it caused.
func TestLiveClickConversionPostback(t *testing.T) {
	t.Parallel()
	e := live(t)
	ctx := context.Background()
	pub := e.as(t, demoPublisherKey)
	adv := e.as(t, demoAdvertiserKey)

	offer := e.offer(t)
	link := e.link(t, offer.GetId(), demoPublisherID)
	if link.GetPublisherId() != demoPublisherID || link.GetOfferId() != offer.GetId() {
		t.Fatalf("link %v", link)
	}

	// A click over the API, with the demo publisher's key.
	rc, err := pub.Clicks.RecordClick(ctx, &batonv1.RecordClickRequest{
		LinkId: link.GetId(), SubIds: []string{"api session"}, Ip: "203.0.113.7", UserAgent: browserUA})
	if err != nil {
		t.Fatalf("RecordClick: %v", err)
	}
	apiClick := rc.GetClick()
	if apiClick.GetSource() != batonv1.ClickSource_CLICK_SOURCE_API || !slices.Equal(apiClick.GetSubIds(), []string{"api session"}) {
		t.Errorf("API click %v", apiClick)
	}
	if ru, err := url.Parse(rc.GetRedirectUrl()); err != nil || ru.Host != "shop.example.com" || ru.Query().Get("sid") != apiClick.GetId() {
		t.Errorf("API click redirect URL %q, want the landing page with sid=%s", rc.GetRedirectUrl(), apiClick.GetId())
	}

	// A click through the tracking link, as a browser follows it.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baton.TrackingLink(e.url, link.GetId(), []string{"media session あ&1"}, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", browserUA)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	_ = resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "shop.example.com" || loc.Query().Get("sid") == "" {
		t.Fatalf("GET %s: %s, Location %q; want 302 to the landing page with sid", req.URL, resp.Status, resp.Header.Get("Location"))
	}
	sid := loc.Query().Get("sid")
	gc, err := pub.Clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: sid})
	if err != nil {
		t.Fatalf("GetClick(%s): %v", sid, err)
	}
	if c := gc.GetClick(); c.GetSource() != batonv1.ClickSource_CLICK_SOURCE_REDIRECT || c.GetLinkId() != link.GetId() ||
		!slices.Equal(c.GetSubIds(), []string{"media session あ&1"}) || c.GetUserAgent() != browserUA {
		t.Errorf("redirect click %v", c)
	}

	// The demo publisher's postback endpoint, for this offer only.
	rcv := newReceiver(t)
	ep, err := pub.Postbacks.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{
		OfferId:     offer.GetId(),
		Events:      []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING},
		Method:      batonv1.PostbackMethod_POSTBACK_METHOD_GET,
		UrlTemplate: rcv.URL + "/pb?o={order_id}",
	})
	if err != nil {
		t.Fatalf("CreatePostbackEndpoint: %v", err)
	}
	endpoint := ep.GetEndpoint()
	t.Cleanup(func() {
		if _, err := pub.Postbacks.DeletePostbackEndpoint(context.Background(), &batonv1.DeletePostbackEndpointRequest{Id: endpoint.GetId()}); err != nil {
			t.Errorf("DeletePostbackEndpoint: %v", err)
		}
	})

	// The shop reports the sale of the redirect click.
	order := "go-" + suffix()
	cv, err := adv.Conversions.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: sid, OrderId: order, AmountJpy: proto.Int64(1980)})
	if err != nil {
		t.Fatalf("RecordConversion: %v", err)
	}
	conv := cv.GetConversion()
	if conv.GetClickId() != sid || conv.GetPublisherId() != demoPublisherID || conv.GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_PENDING ||
		conv.GetCommission().GetAmountMinor() != 99 || conv.GetCommission().GetCurrencyCode() != "JPY" {
		t.Errorf("conversion %v; want pending, attributed to %s through %s, commission 99 JPY", conv, demoPublisherID, sid)
	}

	// The delivery it caused, until it succeeds.
	var delivery *batonv1.Delivery
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		var deliveries []*batonv1.Delivery
		for d, err := range baton.All(ctx, pub.Postbacks.ListDeliveries, &batonv1.ListDeliveriesRequest{ConversionId: conv.GetId()}, (*batonv1.ListDeliveriesResponse).GetDeliveries) {
			if err != nil {
				t.Fatalf("ListDeliveries: %v", err)
			}
			deliveries = append(deliveries, d)
		}
		if len(deliveries) > 1 {
			t.Fatalf("%d deliveries for one endpoint and one event: %v", len(deliveries), deliveries)
		}
		if len(deliveries) == 1 {
			delivery = deliveries[0]
			if s := delivery.GetState(); s == batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED {
				break
			} else if s == batonv1.DeliveryState_DELIVERY_STATE_FAILED || s == batonv1.DeliveryState_DELIVERY_STATE_CANCELLED {
				t.Fatalf("delivery %v (a blocked address means the server needs BATON_POSTBACK_ALLOW=127.0.0.0/8)", delivery)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no succeeded delivery of %s within 10 s; last seen: %v", conv.GetId(), delivery)
		}
		<-poll.C
	}
	if delivery.GetEndpointId() != endpoint.GetId() || delivery.GetEvent() != batonv1.PostbackEvent_POSTBACK_EVENT_PENDING ||
		delivery.GetPublisherId() != demoPublisherID || delivery.GetAttemptCount() < 1 {
		t.Errorf("delivery %v", delivery)
	}
	got, _ := rcv.waitRequest(t)
	if got.Method != http.MethodGet || got.URL.Path != "/pb" || got.URL.Query().Get("o") != order || got.Header.Get("X-Baton-Delivery") != delivery.GetId() {
		t.Errorf("postback received: %s %s (X-Baton-Delivery %q), want GET /pb?o=%s from delivery %s",
			got.Method, got.URL, got.Header.Get("X-Baton-Delivery"), order, delivery.GetId())
	}

	// Both clicks, one per page, through All.
	pages := 0
	listClicks := func(ctx context.Context, req *batonv1.ListClicksRequest) (*batonv1.ListClicksResponse, error) {
		pages++
		return pub.Clicks.ListClicks(ctx, req)
	}
	var ids []string
	for c, err := range baton.All(ctx, listClicks, &batonv1.ListClicksRequest{LinkId: link.GetId(), PageSize: 1}, (*batonv1.ListClicksResponse).GetClicks) {
		if err != nil {
			t.Fatalf("ListClicks: %v", err)
		}
		ids = append(ids, c.GetId())
	}
	slices.Sort(ids)
	want := []string{apiClick.GetId(), sid}
	slices.Sort(want)
	if !slices.Equal(ids, want) || pages < 2 {
		t.Errorf("ListClicks by pages of 1: %v in %d calls, want %v in at least 2", ids, pages, want)
	}
}

// TestReadmeExample runs Example_readme, the README's example, against the
// live server: it sets the example's inputs (a fresh publisher with a signed
// JSON postback endpoint, a click, and a postback that endpoint already
// received) and checks what the example prints. It cannot run in parallel:
// it captures os.Stdout.
func TestReadmeExample(t *testing.T) {
	e := live(t)
	ctx := context.Background()
	adv := e.as(t, demoAdvertiserKey)

	// A publisher of its own, so that the example sees exactly the
	// deliveries of the endpoint below.
	p, err := e.admin.Config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "Go README " + suffix(), Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
	if err != nil {
		t.Fatalf("CreatePublisher: %v", err)
	}
	publisherID := p.GetPublisher().GetId()
	offer := e.offer(t)
	link := e.link(t, offer.GetId(), publisherID)
	rcv := newReceiver(t)
	ep, err := e.admin.Postbacks.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{
		PublisherId: publisherID,
		OfferId:     offer.GetId(),
		Events:      []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING},
		Method:      batonv1.PostbackMethod_POSTBACK_METHOD_POST_JSON,
		UrlTemplate: rcv.URL + "/hook",
	})
	if err != nil {
		t.Fatalf("CreatePostbackEndpoint: %v", err)
	}
	t.Cleanup(func() {
		_, _ = e.admin.Postbacks.DeletePostbackEndpoint(context.Background(), &batonv1.DeletePostbackEndpointRequest{Id: ep.GetEndpoint().GetId()})
	})
	click := func(ip string) string {
		t.Helper()
		res, err := e.admin.Clicks.RecordClick(ctx, &batonv1.RecordClickRequest{LinkId: link.GetId(), Ip: ip, UserAgent: browserUA})
		if err != nil {
			t.Fatalf("RecordClick: %v", err)
		}
		return res.GetClick().GetId()
	}

	// A first sale, whose signed postback the example verifies.
	if _, err := adv.Conversions.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: click("198.51.100.1"), OrderId: "go-readme-" + suffix(), AmountJpy: proto.Int64(500)}); err != nil {
		t.Fatalf("RecordConversion: %v", err)
	}
	hook, hookBody := rcv.waitRequest(t)
	if hook.Header.Get("webhook-signature") == "" {
		t.Fatalf("the POST_JSON postback carries no webhook-signature: %v", hook.Header)
	}

	batonURL, advertiserKey = e.url, demoAdvertiserKey
	clickID, orderID = click("198.51.100.2"), "go-readme-"+suffix()
	webhookSecret, webhook, webhookBody = ep.GetSecret(), hook, hookBody

	out := captureStdout(t, Example_readme)
	if want := fmt.Sprintf("POSTBACK_EVENT_PENDING to %s\nsignature valid: true\n", ep.GetEndpoint().GetId()); out != want {
		t.Errorf("Example_readme printed\n%s\nwant\n%s", out, want)
	}
}

// captureStdout returns what f prints to os.Stdout, as go test does for
// examples.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	func() {
		defer func() { os.Stdout = saved; _ = w.Close() }()
		f()
	}()
	return <-out
}
