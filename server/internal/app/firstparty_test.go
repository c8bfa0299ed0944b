package app_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
)

// The first-party tag's files: /t.js (cacheable, gzipped, revalidated) and
// /t/c/{id}, which tells the tag until when a click can earn a sale.
func TestFirstPartyTagIsServed(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	req, _ := http.NewRequest(http.MethodGet, e.url+"/t.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(zr)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age=") ||
		!strings.Contains(string(js), "window.BatonTag") {
		t.Fatalf("/t.js: %d %v (%d bytes)", res.StatusCode, res.Header, len(js))
	}
	req, _ = http.NewRequest(http.MethodGet, e.url+"/t.js", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %v %v", res, err)
	}

	sid := clickIDFrom(t, e.click(t, nil, "param1=m", browserUA), "sid")
	res, err = http.Get(e.url + "/t/c/" + sid)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		ExpiresAt int64 `json:"expires_at"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	cl, err := e.clicks.GetClick(context.Background(), &batonv1.GetClickRequest{Id: sid})
	if err != nil {
		t.Fatal(err)
	}
	want := cl.GetClick().GetCreateTime().AsTime().Add(e.offer.GetAttributionWindow().AsDuration()).UnixMilli()
	if res.StatusCode != http.StatusOK || body.ExpiresAt != want || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("/t/c/%s: %d %v %d, want expires_at %d", sid, res.StatusCode, res.Header, body.ExpiresAt, want)
	}
	// Anything else: not a click that can earn (a 200, so a shop's console
	// shows no failed request).
	for _, id := range []string{"nope", strings.Repeat("0", 29), sid[:28] + "z"} {
		res, err := http.Get(e.url + "/t/c/" + id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != `{"expires_at":null}` {
			t.Errorf("/t/c/%s: %d %s", id, res.StatusCode, b)
		}
	}
}

// A thank-you page's image tag loads without the click when third-party
// cookies are blocked; the first-party tag's copy of it carries the click.
// In either order of arrival, and whether or not the offer deduplicates
// order IDs, the sale counts once, attributed by the first-party path, and
// the media is posted back once.
func TestFirstPartyCopyAndImageTagCountOnce(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t, fastRetries)
	ctx := context.Background()
	rcv := newReceiver(t)
	e.pbEndpoint(t, rcv.URL+"/cv?sid=##PARA1##&o=##CONTENT_UID1##")
	noCookies := noFollow(nil)
	tag := func(order string) url.Values {
		return fc2Tag(map[string]string{"shopid": "100", "unique_id": order, "amount_y": "1980", "ts": nowTS()}, demoShopPassword)
	}
	copyOf := func(q url.Values, sid string) url.Values {
		c := url.Values{}
		for k, v := range q {
			c[k] = v
		}
		c.Set("click_id", sid)
		c.Set("via", "t.js")
		return c
	}
	load := func(q url.Values) {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/tracking/tracking_img.php?"+q.Encode(), nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (from another network)")
		res, err := noCookies.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	for _, dedupe := range []bool{true, false} {
		// No IP matching: everything here comes from 127.0.0.1, and the tag
		// alone must find no click, as in a browser blocking the cookie.
		if _, err := e.clickEnv.admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: e.offer.GetId(), DedupeOrderId: dedupe,
			IpMatchWindow: durationpb.New(0)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"dedupe_order_id", "ip_match_window"}}}); err != nil {
			t.Fatal(err)
		}
		for _, copyFirst := range []bool{false, true} {
			order := "FP-" + map[bool]string{true: "dedupe", false: "nodedupe"}[dedupe] + map[bool]string{true: "-copy-first", false: "-tag-first"}[copyFirst]
			session := "visitor-" + order
			sid := clickIDFrom(t, e.click(t, nil, "param1="+session, browserUA), "sid")
			q := tag(order)
			if copyFirst {
				load(copyOf(q, sid))
				load(q)
			} else {
				load(q)
				if c := e.conversionByOrder(t, order); c.GetClickId() != "" {
					t.Fatalf("%s: the tag alone was attributed (%v): the test needs it not to be", order, c.GetAttributionPath())
				}
				load(copyOf(q, sid))
			}
			c := e.conversionByOrder(t, order)
			if c.GetClickId() != sid || c.GetPublisherId() != app.DemoPublisherID || c.GetUpstreamId() != session ||
				c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_FIRST_PARTY_TAG || c.GetCommission().GetAmountMinor() != 99 {
				t.Fatalf("%s: %v", order, c)
			}
			if !copyFirst && !strings.Contains(c.GetAttributionSummary(), "completed conversion "+c.GetId()) {
				t.Errorf("%s: summary %q", order, c.GetAttributionSummary())
			}
		}
	}
	// Each sale posted back once, with its own visitor's ID.
	rcv.await(t, 4, 15*time.Second)
	settled(t, e.testServer) // nothing more is on its way
	if rcv.count() != 4 {
		t.Fatalf("media got %d postbacks, want 4", rcv.count())
	}
	for i := range 4 {
		req, _ := rcv.request(i)
		if q := req.URL.Query(); q.Get("sid") != "visitor-"+q.Get("o") {
			t.Errorf("postback %s", req.URL.RawQuery)
		}
	}
	// The report counts sales by the path that found them.
	day := time.Now()
	rep, err := e.attr.GetReport(ctx, &batonv1.GetReportRequest{TimeRange: &batonv1.TimeRange{Start: timestamppb.New(day.Add(-24 * time.Hour)), End: timestamppb.New(day.Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	var firstParty int64
	for _, r := range rep.GetRows() {
		for _, pc := range r.GetConversionsByPath() {
			if pc.GetPath() == batonv1.AttributionPath_ATTRIBUTION_PATH_FIRST_PARTY_TAG {
				firstParty += pc.GetConversions()
			}
		}
	}
	if firstParty != 4 {
		t.Fatalf("report: %d conversions by the first-party path, want 4: %v", firstParty, rep.GetRows())
	}
}

// pbEndpoint registers a pending-event GET endpoint for the demo publisher.
func (e *fc2Env) pbEndpoint(t testing.TB, tmpl string) {
	t.Helper()
	pb := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	if _, err := pb.CreatePostbackEndpoint(context.Background(), &batonv1.CreatePostbackEndpointRequest{UrlTemplate: tmpl,
		Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}); err != nil {
		t.Fatal(err)
	}
}

// An advertiser's own tracking host: set by an admin only, a host name
// (and port) only, and then its links and tags point there.
func TestShopsOwnTrackingHost(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	set := func(c batonv1connect.ConfigServiceClient, host string) error {
		_, err := c.UpdateAdvertiser(ctx, &batonv1.UpdateAdvertiserRequest{Advertiser: &batonv1.Advertiser{Id: app.DemoAdvertiserID, TrackingDomain: host},
			UpdateMask: fieldMask("tracking_domain")})
		return err
	}
	if err := set(e.config(app.DemoAdvertiserKey), "track.shop.example"); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("an advertiser set its own tracking host: %v", err)
	}
	for _, bad := range []string{"https://track.shop.example", "track.shop.example/c", "Track.Shop.Example", "localhost", "track shop.example"} {
		if err := set(e.clickEnv.admin, bad); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("tracking_domain %q: %v", bad, err)
		}
	}
	if err := set(e.clickEnv.admin, "track.shop.example"); err != nil {
		t.Fatal(err)
	}
	l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: e.offer.GetId(), PublisherId: app.DemoPublisherID})
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://track.shop.example/c/" + l.GetLink().GetId(); l.GetLink().GetUrl() != want {
		t.Errorf("link %s, want %s", l.GetLink().GetUrl(), want)
	}
	tag, err := e.adv.BuildFc2Tag(ctx, &batonv1.BuildFc2TagRequest{AdvertiserId: app.DemoAdvertiserID, Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE,
		UniqueId: "1", AmountY: proto.Int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tag.GetUrl(), "http://track.shop.example/tracking/tracking_img.php?") {
		t.Errorf("tag %s", tag.GetUrl())
	}
	// Created with one, by an admin.
	a, err := e.clickEnv.admin.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "own host", TrackingDomain: "t.other.example"})
	if err != nil || a.GetAdvertiser().GetTrackingDomain() != "t.other.example" {
		t.Fatalf("create with a tracking host: %v %v", a, err)
	}
}

// Behind a TLS-terminating proxy that Baton trusts, the click cookie is
// SameSite=None; Secure, as over Baton's own TLS; the same header from any
// other peer changes nothing.
func TestClickCookieBehindATLSProxy(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}},
		func(c *config.Config) { c.TrustedProxies = "127.0.0.1/32" })
	for _, c := range []struct {
		name   string
		client *http.Client
		secure bool
	}{{"trusted proxy", fromAddr("127.0.0.1"), true}, {"untrusted peer", fromAddr("127.0.0.2"), false}} {
		req, _ := http.NewRequest(http.MethodGet, e.link.GetUrl(), nil)
		req.Header.Set("User-Agent", browserUA)
		req.Header.Set("X-Forwarded-Proto", "https")
		res, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		set := res.Header.Get("Set-Cookie")
		got := strings.Contains(set, "; Secure") && strings.Contains(set, "SameSite=None")
		if got != c.secure || (!c.secure && !strings.Contains(set, "SameSite=Lax")) {
			t.Errorf("%s: Set-Cookie %q", c.name, set)
		}
	}
}
