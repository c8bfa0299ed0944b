package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

const chainAdminKey = "chain-test-admin-key-0123"

// hop is one Baton process (one network) of the chain.
type hop struct {
	t      *testing.T
	env    []string
	name   string
	addr   string
	dbURL  string
	data   string
	cmd    *exec.Cmd
	logs   *hopLog // what the hop wrote to stderr (its log)
	config batonv1connect.ConfigServiceClient
	clicks batonv1connect.ClickServiceClient
	pb     batonv1connect.PostbackServiceClient
}

func bearerKey(key string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}))
}

func newHop(t *testing.T, name string, env ...string) *hop {
	h := &hop{t: t, name: name, addr: freeAddr(t), dbURL: testdb.URL(t), data: t.TempDir(), env: env}
	base := "http://" + h.addr
	h.config = batonv1connect.NewConfigServiceClient(http.DefaultClient, base, bearerKey(chainAdminKey))
	h.clicks = batonv1connect.NewClickServiceClient(http.DefaultClient, base, bearerKey(chainAdminKey))
	h.pb = batonv1connect.NewPostbackServiceClient(http.DefaultClient, base, bearerKey(chainAdminKey))
	h.start()
	return h
}

func (h *hop) start() {
	h.t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BATON_TEST_AS_MAIN=1", "BATON_DATABASE_URL="+h.dbURL, "BATON_DATA_DIR="+h.data,
		"BATON_ADDR="+h.addr, "BATON_ADMIN_KEY="+chainAdminKey, "BATON_LOG_LEVEL=warn",
		"BATON_POSTBACK_ALLOW=127.0.0.0/8", "BATON_POSTBACK_SCHEDULE=200ms,300ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms")
	cmd.Env = append(cmd.Env, h.env...)
	h.logs = &hopLog{}
	cmd.Stderr = h.logs
	if testing.Verbose() {
		cmd.Stderr = io.MultiWriter(h.logs, os.Stderr)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.cmd = cmd
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	testwait.Until(h.t, 30*time.Second, h.name+" becomes ready", func() bool {
		res, err := http.Get("http://" + h.addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// hopLog keeps a hop's log.
type hopLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *hopLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

func (l *hopLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func (h *hop) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	_, _ = h.cmd.Process.Wait()
}

// chainT is the running chain test, for must (the test is not parallel).
var chainT *testing.T

func must[T any](v T, err error) T {
	chainT.Helper()
	if err != nil {
		chainT.Fatal(err)
	}
	return v
}

// mediaStub records the postbacks a media receives.
type mediaStub struct {
	*httptest.Server
	mu  sync.Mutex
	got []url.Values
}

// chainEnds starts the two ends of a chain: the media's postback receiver
// and the advertiser's landing page.
func chainEnds(t *testing.T) (*mediaStub, *httptest.Server) {
	media := &mediaStub{}
	media.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		media.mu.Lock()
		media.got = append(media.got, r.URL.Query())
		media.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(media.Close)
	advertiser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "landing page") }))
	t.Cleanup(advertiser.Close)
	return media, advertiser
}

func (m *mediaStub) received() []url.Values {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]url.Values(nil), m.got...)
}

func (m *mediaStub) waitFor(t *testing.T, n int, timeout time.Duration) []url.Values {
	t.Helper()
	if !testwait.Poll(timeout, func() bool { return len(m.received()) >= n }) {
		t.Fatalf("media received %d postbacks, want %d: %v", len(m.received()), n, m.received())
	}
	return m.received()
}

// TestThreeHopChain runs media → ASP-1 (Baton) → ASP-2 (Baton) → advertiser
// as separate processes over loopback, each Baton with its own database: a
// click passes each hop's ID on, the sale reported to ASP-2 is kicked back to
// ASP-1 and from there to the media with the media's ID, amount and order ID
// intact; the rejection travels the same way; a duplicate report is posted
// back once; and with ASP-1 down for a while, the kickback arrives when it is
// back.
func TestThreeHopChain(t *testing.T) {
	chainT = t
	ctx := context.Background()
	media, advertiser := chainEnds(t)

	jaeger := startJaeger(t)
	otelEnv := func(service string) []string {
		if jaeger == nil {
			return nil
		}
		return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + jaeger.otlpHTTP, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
			"OTEL_SERVICE_NAME=" + service, "OTEL_BSP_SCHEDULE_DELAY=100"}
	}
	asp1, asp2 := newHop(t, "ASP-1", otelEnv("asp-1")...), newHop(t, "ASP-2", otelEnv("asp-2")...)

	// ASP-1: the media is its publisher; its offer lands on ASP-2's link and
	// passes ASP-1's click ID in param1; ASP-2 is its downstream network.
	// ASP-2 is trusted to carry trace context: a kickback continues its trace.
	n2 := must(asp1.config.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "ASP-2", TrustTraceContext: true}))
	adv1 := must(asp1.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "programme via ASP-2"}))
	mediaPub := must(asp1.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "Media", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA}))

	// ASP-2: ASP-1 is a publisher of kind network; the shop is the advertiser.
	adv2 := must(asp2.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "Cosmetics shop"}))
	asp1Pub := must(asp2.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "ASP-1", Kind: batonv1.PublisherKind_PUBLISHER_KIND_NETWORK}))
	o2 := must(asp2.config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: adv2.GetAdvertiser().GetId(), Name: "cosmetics",
		LandingUrl: advertiser.URL + "/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 1000}}}))
	l2 := must(asp2.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o2.GetOffer().GetId(), PublisherId: asp1Pub.GetPublisher().GetId()}))
	all := []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING, batonv1.PostbackEvent_POSTBACK_EVENT_APPROVED, batonv1.PostbackEvent_POSTBACK_EVENT_REJECTED}
	must(asp2.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: asp1Pub.GetPublisher().GetId(), Events: all,
		Method:      batonv1.PostbackMethod_POSTBACK_METHOD_GET,
		UrlTemplate: "http://" + asp1.addr + "/postback?token=" + n2.GetSecret() + "&click_id={sub1}&order_id={order_id}&amount={amount}&currency={currency}&status={status}&transaction_id={click_id}"}))

	o1 := must(asp1.config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: adv1.GetAdvertiser().GetId(), Name: "cosmetics via ASP-2",
		LandingUrl: l2.GetLink().GetUrl(), Downstream: &batonv1.DownstreamLink{ClickIdParam: "param1", NetworkId: n2.GetNetwork().GetId()},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}}))
	l1 := must(asp1.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o1.GetOffer().GetId(), PublisherId: mediaPub.GetPublisher().GetId()}))
	// The media's postback URL, CATS style.
	must(asp1.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: mediaPub.GetPublisher().GetId(), Events: all,
		Method:      batonv1.PostbackMethod_POSTBACK_METHOD_GET,
		UrlTemplate: media.URL + "/cv?sid=##PARA1##&amount=##AMOUNT##&oid=##CONTENT_UID1##&st={status}"}))

	// The advertiser reports sales to ASP-2 with its own key.
	advKey := must(asp2.config.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "shop", Role: batonv1.Role_ROLE_ADVERTISER, PartnerId: adv2.GetAdvertiser().GetId()}))
	shop := batonv1connect.NewConversionServiceClient(http.DefaultClient, "http://"+asp2.addr, bearerKey(advKey.GetKey()))

	// A person clicks the media's banner: media → ASP-1 → ASP-2 → landing.
	click := func(session string) (id1, id2 string) {
		browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		next := l1.GetLink().GetUrl() + "?param1=" + session
		var hops []string
		for range 3 {
			req, _ := http.NewRequest(http.MethodGet, next, nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0")
			res := must(browser.Do(req))
			res.Body.Close()
			if res.StatusCode != http.StatusFound {
				break
			}
			next = res.Header.Get("Location")
			hops = append(hops, next)
		}
		if len(hops) != 2 || !strings.HasPrefix(hops[0], l2.GetLink().GetUrl()+"?param1=") || !strings.HasPrefix(hops[1], advertiser.URL+"/lp?sid=") {
			t.Fatalf("the click went %v", hops)
		}
		u1, _ := url.Parse(hops[0])
		u2, _ := url.Parse(hops[1])
		return u1.Query().Get("param1"), u2.Query().Get("sid")
	}
	id1, id2 := click("MEDIA-SESSION-1")
	c2 := must(asp2.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: id2}))
	if c2.GetClick().GetUpstream().GetId() != id1 {
		t.Fatalf("ASP-2 did not keep ASP-1's ID as upstream: %v", c2.GetClick().GetUpstream())
	}

	sale := must(shop.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id2, OrderId: "ORDER-1", AmountJpy: ptr(int64(5000))}))
	got := media.waitFor(t, 1, 20*time.Second)
	if q := got[0]; q.Get("sid") != "MEDIA-SESSION-1" || q.Get("amount") != "5000" || q.Get("oid") != "ORDER-1" || q.Get("st") != "pending" {
		t.Fatalf("media got %v", q)
	}

	if jaeger != nil {
		jaeger.checkChainTrace(t, id1, id2, "ORDER-1")
	}

	// A duplicate report: posted back once.
	dup := must(shop.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id2, OrderId: "ORDER-1", AmountJpy: ptr(int64(5000))}))
	if !dup.GetDuplicate() {
		t.Fatal("the second report of ORDER-1 is not a duplicate")
	}

	// The shop rejects the sale: the rejection travels the same way.
	must(shop.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: sale.GetConversion().GetId(),
		Status: batonv1.ConversionStatus_CONVERSION_STATUS_REJECTED, Reason: batonv1.StatusReason_STATUS_REASON_CANCELLATION}))
	got = media.waitFor(t, 2, 20*time.Second)
	if q := got[1]; q.Get("sid") != "MEDIA-SESSION-1" || q.Get("oid") != "ORDER-1" || q.Get("st") != "rejected" {
		t.Fatalf("media got %v", q)
	}

	// ASP-1 down for a while: ASP-2 keeps retrying; delivered once it is back.
	_, id2b := click("MEDIA-SESSION-2")
	asp1.stop()
	sale2 := must(shop.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id2b, OrderId: "ORDER-2", AmountJpy: ptr(int64(1200))}))
	testwait.Until(t, 30*time.Second, "ASP-2 has failed twice to reach ASP-1 while it is down", func() bool {
		l, err := asp2.pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{ConversionId: sale2.GetConversion().GetId()})
		return err == nil && len(l.GetDeliveries()) > 0 && l.GetDeliveries()[0].GetAttemptCount() >= 2
	})
	asp1.start()
	got = media.waitFor(t, 3, 30*time.Second)
	if q := got[2]; q.Get("sid") != "MEDIA-SESSION-2" || q.Get("amount") != "1200" || q.Get("oid") != "ORDER-2" || q.Get("st") != "pending" {
		t.Fatalf("media got %v", q)
	}
	// Nothing more is on its way once neither network has a pending delivery.
	idle := func(h *hop) bool {
		q, err := h.pb.GetDeliveryQueue(ctx, &batonv1.GetDeliveryQueueRequest{})
		return err == nil && q.GetPendingCount() == 0
	}
	testwait.Until(t, 30*time.Second, "both networks' postback queues settle", func() bool { return idle(asp2) && idle(asp1) })
	if n := len(media.received()); n != 3 {
		t.Fatalf("media received %d postbacks, want exactly 3: %v", n, media.received())
	}
	proof.Tally(t, "fault: three-hop chain, ASP-1 down and back", 3, 0,
		"the media received each of 3 kickbacks exactly once (sale, rejection, sale while ASP-1 was down), the duplicate not at all")
}

func ptr[T any](v T) *T { return &v }

// jaegerProc is a real Jaeger (v2, in-memory) started for the test.
type jaegerProc struct {
	query    string // host:port of the query API
	otlpHTTP string
}

// startJaeger starts Jaeger from BATON_JAEGER_BIN (built by make), or
// returns nil when there is none — unless BATON_REQUIRE_JAEGER=1 (CI),
// which makes a missing Jaeger a failure.
func startJaeger(t *testing.T) *jaegerProc {
	bin, cfg := os.Getenv("BATON_JAEGER_BIN"), os.Getenv("BATON_JAEGER_CONFIG")
	if bin == "" || cfg == "" {
		if os.Getenv("BATON_REQUIRE_JAEGER") == "1" {
			t.Fatal("BATON_JAEGER_BIN and BATON_JAEGER_CONFIG are required (make test builds Jaeger)")
		}
		t.Log("no Jaeger (BATON_JAEGER_BIN unset): the chain runs without checking its trace")
		return nil
	}
	j := &jaegerProc{query: freeAddr(t), otlpHTTP: freeAddr(t)}
	port := func(a string) string { return a[strings.LastIndex(a, ":")+1:] }
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "JAEGER_QUERY_PORT="+port(j.query), "JAEGER_QUERY_GRPC_PORT="+port(freeAddr(t)),
		"JAEGER_OTLP_GRPC_PORT="+port(freeAddr(t)), "JAEGER_OTLP_HTTP_PORT="+port(j.otlpHTTP))
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	testwait.Until(t, 30*time.Second, "Jaeger starts", func() bool {
		res, err := http.Get("http://" + j.query + "/api/services")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return j
}

type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		StartTime     int64  `json:"startTime"`
		Tags          []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// checkChainTrace asks Jaeger's query API for the trace of a sale by ASP-1's
// click ID and checks that it holds both networks' spans, in order, with
// the IDs as attributes.
func (j *jaegerProc) checkChainTrace(t *testing.T, id1, id2, order string) {
	t.Helper()
	q := url.Values{"service": {"asp-1"}, "tags": {`{"baton.click_id":"` + id1 + `"}`}, "limit": {"20"}, "lookback": {"1h"}}
	var traces int
	if !testwait.Poll(30*time.Second, func() bool {
		var body struct {
			Data []jaegerTrace `json:"data"`
		}
		res, err := http.Get("http://" + j.query + "/api/traces?" + q.Encode())
		if err == nil {
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
		}
		for _, tr := range body.Data {
			type found struct {
				start int64
				tags  map[string]string
			}
			spans := map[string]found{}
			services := map[string]bool{}
			for _, sp := range tr.Spans {
				svc := tr.Processes[sp.ProcessID].ServiceName
				services[svc] = true
				tags := map[string]string{}
				for _, tg := range sp.Tags {
					tags[tg.Key] = fmt.Sprint(tg.Value)
				}
				spans[svc+" "+sp.OperationName] = found{sp.StartTime, tags}
			}
			deliver, okD := spans["asp-2 baton.postback.deliver"]
			kick, okK := spans["asp-1 baton.kickback"]
			rec2, okR := spans["asp-2 baton.conversion.record"]
			if !services["asp-1"] || !services["asp-2"] || !okD || !okK || !okR {
				continue
			}
			if rec2.start > deliver.start || deliver.start > kick.start {
				t.Fatalf("spans out of order: ASP-2 record %d, ASP-2 deliver %d, ASP-1 kickback %d", rec2.start, deliver.start, kick.start)
			}
			if kick.tags["baton.click_id"] != id1 || kick.tags["baton.order_id"] != order || rec2.tags["baton.click_id"] != id2 ||
				rec2.tags["baton.upstream_id"] != id1 || deliver.tags["baton.delivery_id"] == "" {
				t.Fatalf("IDs as attributes: kickback %v, ASP-2 record %v, deliver %v", kick.tags, rec2.tags, deliver.tags)
			}
			fmt.Printf("jaeger: trace %s spans %d spans across asp-2 and asp-1; found by baton.click_id=%s\n", tr.TraceID, len(tr.Spans), id1)
			return true
		}
		traces = len(body.Data)
		return false
	}) {
		t.Fatalf("Jaeger has no trace for baton.click_id=%s with spans of both networks (%d traces found)", id1, traces)
	}
}

// batonToBatonTemplate is the kickback template a downstream Baton uses for
// an upstream Baton (README, "Chaining two Batons"): every field a CATS
// variable at the upstream hop needs, money as an exact whole number of the
// minor unit with its currency.
const batonToBatonTemplate = "/postback?token=%s&click_id={upstream_id}&order_id={order_id}&order_id_2={order_id_2}" +
	"&amount_minor={amount_minor}&currency={currency}&status={status}&user_name={buyer_user_name}&transaction_id={click_id}"

// TestChainCarriesExactMoneyAndEveryCATSVariable sends sales in JPY (0
// decimals), USD (2) and KWD (3) through two chained Batons: the media
// receives each amount exactly as the advertiser reported it, and every
// CATS variable is filled at ASP-1 for a kicked-back sale.
func TestChainCarriesExactMoneyAndEveryCATSVariable(t *testing.T) {
	chainT = t
	ctx := context.Background()
	media, advertiser := chainEnds(t)
	asp1, asp2 := newHop(t, "ASP-1"), newHop(t, "ASP-2")

	n2 := must(asp1.config.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "ASP-2"}))
	adv1 := must(asp1.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "programme via ASP-2"}))
	mediaPub := must(asp1.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "Media", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA}))
	adv2 := must(asp2.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "shop"}))
	asp1Pub := must(asp2.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "ASP-1", Kind: batonv1.PublisherKind_PUBLISHER_KIND_NETWORK}))
	o2 := must(asp2.config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: adv2.GetAdvertiser().GetId(), Name: "shop offer",
		LandingUrl: advertiser.URL + "/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 1000}}}))
	l2 := must(asp2.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o2.GetOffer().GetId(), PublisherId: asp1Pub.GetPublisher().GetId()}))
	pending := []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}
	must(asp2.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: asp1Pub.GetPublisher().GetId(), Events: pending,
		Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET, UrlTemplate: "http://" + asp1.addr + fmt.Sprintf(batonToBatonTemplate, n2.GetSecret())}))
	o1 := must(asp1.config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: adv1.GetAdvertiser().GetId(), Name: "via ASP-2",
		LandingUrl: l2.GetLink().GetUrl(), Downstream: &batonv1.DownstreamLink{ClickIdParam: "param1", NetworkId: n2.GetNetwork().GetId()},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}}))
	l1 := must(asp1.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o1.GetOffer().GetId(), PublisherId: mediaPub.GetPublisher().GetId()}))
	// Every CATS variable, and the money variables in both units.
	must(asp1.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: mediaPub.GetPublisher().GetId(), Events: pending,
		Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET,
		UrlTemplate: media.URL + "/cv?amount=##AMOUNT##&p1=##PARA1##&p2=##PARA2##&p3=##PARA3##&p4=##PARA4##&p5=##PARA5##&cid=##CID##&sid=##SID##" +
			"&tuid=##TUID##&u1=##CONTENT_UID1##&u2=##CONTENT_UID2##&minor={amount_minor}&cur={currency}&com={commission}&com_minor={commission_minor}"}))
	advKey := must(asp2.config.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "shop", Role: batonv1.Role_ROLE_ADVERTISER, PartnerId: adv2.GetAdvertiser().GetId()}))
	shop := batonv1connect.NewConversionServiceClient(http.DefaultClient, "http://"+asp2.addr, bearerKey(advKey.GetKey()))
	conv1 := batonv1connect.NewConversionServiceClient(http.DefaultClient, "http://"+asp1.addr, bearerKey(chainAdminKey))

	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	click := func(session string) (id1, id2 string) {
		next := l1.GetLink().GetUrl() + "?param1=" + session + "&param2=b-" + session + "&param3=c&param4=d&param5=e"
		var hops []string
		for range 2 {
			req, _ := http.NewRequest(http.MethodGet, next, nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0")
			res := must(browser.Do(req))
			res.Body.Close()
			next = res.Header.Get("Location")
			hops = append(hops, next)
		}
		u1, _ := url.Parse(hops[0])
		u2, _ := url.Parse(hops[1])
		return u1.Query().Get("param1"), u2.Query().Get("sid")
	}
	sales := []struct {
		currency        string
		minor           int64
		amount, com     string
		comMinor, order string
	}{
		{"JPY", 1980, "1980", "99", "99", "ORDER-JPY"},    // ¥1,980; ASP-1 pays the media 5%
		{"USD", 1250, "12.50", "0.62", "62", "ORDER-USD"}, // $12.50
		{"KWD", 1234, "1.234", "0.061", "61", "ORDER-KWD"},
	}
	for i, s := range sales {
		id1, id2 := click(fmt.Sprintf("MEDIA-%d", i))
		must(shop.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id2, OrderId: s.order, OrderId_2: s.order + "-2",
			Amount: &batonv1.Money{CurrencyCode: s.currency, AmountMinor: s.minor}, Buyer: &batonv1.Buyer{UserName: "tarou"}}))
		q := media.waitFor(t, i+1, 20*time.Second)[i]
		want := map[string]string{"amount": s.amount, "minor": fmt.Sprint(s.minor), "cur": s.currency, "com": s.com, "com_minor": s.comMinor,
			"p1": fmt.Sprintf("MEDIA-%d", i), "p2": fmt.Sprintf("b-MEDIA-%d", i), "p3": "c", "p4": "d", "p5": "e",
			"cid": o1.GetOffer().GetId(), "sid": id1, "tuid": "tarou", "u1": s.order, "u2": s.order + "-2"}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("%s: the media got %s=%q, want %q (%v)", s.order, k, q.Get(k), v, q)
			}
		}
		// ASP-1 stored the same money, in the same unit.
		l := must(conv1.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: s.order}))
		if len(l.GetConversions()) != 1 {
			t.Fatalf("ASP-1 has %d conversions for %s", len(l.GetConversions()), s.order)
		}
		if a := l.GetConversions()[0].GetAmount(); a.GetCurrencyCode() != s.currency || a.GetAmountMinor() != s.minor {
			t.Errorf("%s: ASP-1 stored %v, want %d %s", s.order, a, s.minor, s.currency)
		}
	}
}
