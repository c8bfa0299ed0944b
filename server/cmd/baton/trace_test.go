package main

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestGetTraceReadsJaeger: a click's trace ID is on the click, and GetTrace
// answers its spans as the real Jaeger stored them (the console's chain
// view draws them); without BATON_JAEGER_URL it says so.
func TestGetTraceReadsJaeger(t *testing.T) {
	jaeger := startJaeger(t)
	if jaeger == nil {
		t.Skip("no Jaeger (BATON_JAEGER_BIN unset; make test builds it, BATON_REQUIRE_JAEGER=1 makes this a failure)")
	}
	chainT = t
	ctx := context.Background()
	h := newHop(t, "traced", "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+jaeger.otlpHTTP, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_SERVICE_NAME=baton-trace-test", "OTEL_BSP_SCHEDULE_DELAY=100", "BATON_JAEGER_URL=http://"+jaeger.query)
	base := "http://" + h.addr
	adv := must(h.config.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "shop"}))
	pub := must(h.config.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "media", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA}))
	offer := must(h.config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: adv.GetAdvertiser().GetId(), Name: "o",
		LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}}))
	link := must(h.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: offer.GetOffer().GetId(), PublisherId: pub.GetPublisher().GetId()}))
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, base+"/c/"+link.GetLink().GetId()+"?param1=media-77", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (trace test)")
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	clickID := res.Header.Get("Location")[strings.Index(res.Header.Get("Location"), "sid=")+4:]
	var click *batonv1.Click
	var clickErr error
	if !testwait.Poll(10*time.Second, func() bool {
		var c *batonv1.GetClickResponse
		if c, clickErr = h.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: clickID}); clickErr == nil {
			click = c.GetClick()
		}
		return clickErr == nil
	}) {
		t.Fatalf("GetClick %s: %v", clickID, clickErr)
	}
	if len(click.GetTraceId()) != 32 {
		t.Fatalf("click trace ID %q", click.GetTraceId())
	}
	attr := batonv1connect.NewAttributionServiceClient(http.DefaultClient, base, bearerKey(chainAdminKey))
	// A trace reaches Jaeger in export batches: poll until the click's own
	// span is in it, not only until the trace exists.
	var spans []*batonv1.TraceSpan
	clickSpan := func() bool {
		for _, sp := range spans {
			if sp.GetName() == "baton.click" && sp.GetService() == "baton-trace-test" && sp.GetAttributes()["baton.click_id"] == clickID &&
				sp.GetAttributes()["baton.upstream_id"] == "media-77" && sp.GetStartTime().IsValid() {
				return true
			}
		}
		return false
	}
	if !testwait.Poll(30*time.Second, func() bool {
		tr, err := attr.GetTrace(ctx, &batonv1.GetTraceRequest{TraceId: click.GetTraceId()})
		if err == nil {
			spans = tr.GetSpans()
			return clickSpan()
		}
		if ce := new(connect.Error); !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound {
			t.Fatalf("GetTrace: %v", err)
		}
		return false
	}) {
		t.Errorf("no baton.click span with the click's IDs after 30s in %v", spans)
	}
	// A log line names the trace and span it was written in, as Jaeger
	// has them: a refused conversion's WARN line.
	conv := batonv1connect.NewConversionServiceClient(http.DefaultClient, base, bearerKey(chainAdminKey))
	if _, err := conv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: "06h0000000000000000000000000g", OrderId: "LOG-TRACE",
		AmountJpy: proto.Int64(1)}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("unknown click: %v", err)
	}
	line := regexp.MustCompile(`msg="conversion refused".*order_id=LOG-TRACE.*trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16})`)
	var m []string
	testwait.Until(t, 10*time.Second, "a refusal log line with trace and span IDs", func() bool {
		m = line.FindStringSubmatch(h.logs.String())
		return m != nil
	})
	var tr *batonv1.GetTraceResponse
	if !testwait.Poll(30*time.Second, func() bool {
		tr, err = attr.GetTrace(ctx, &batonv1.GetTraceRequest{TraceId: m[1]})
		return err == nil && slices.ContainsFunc(tr.GetSpans(), func(sp *batonv1.TraceSpan) bool { return sp.GetSpanId() == m[2] })
	}) {
		t.Fatalf("Jaeger has no span %s in trace %s: %v %v", m[2], m[1], tr, err)
	}
	// A partner's key may not read traces; a Baton without BATON_JAEGER_URL says why not.
	key := must(h.config.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "p", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: pub.GetPublisher().GetId()}))
	_, err = batonv1connect.NewAttributionServiceClient(http.DefaultClient, base, bearerKey(key.GetKey())).
		GetTrace(ctx, &batonv1.GetTraceRequest{TraceId: click.GetTraceId()})
	if ce := new(connect.Error); !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
		t.Errorf("publisher key: %v, want permission_denied", err)
	}
	plain := newHop(t, "untraced")
	_, err = batonv1connect.NewAttributionServiceClient(http.DefaultClient, "http://"+plain.addr, bearerKey(chainAdminKey)).
		GetTrace(ctx, &batonv1.GetTraceRequest{TraceId: click.GetTraceId()})
	if ce := new(connect.Error); !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition || !strings.Contains(ce.Message(), "BATON_JAEGER_URL") {
		t.Errorf("without BATON_JAEGER_URL: %v", err)
	}
}
