package app_test

// Hostile input, one test per kind of attack. Each counts the cases it tried
// and the ones that got through (proof.Tally), and checks that nothing was
// written for a refused case: the row counts of every table that holds
// business data are unchanged (the refusal log, which exists to record
// refusals, is the only table allowed to grow).

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/signature"
	"github.com/batonhq/baton/server/internal/testwait"
)

// businessTables hold what Baton is paid by and configured with. The refusal
// log (conversion_refusals) is deliberately absent: refusing writes to it.
var businessTables = []string{
	"api_keys", "advertisers", "publishers", "sites", "networks", "offers", "offer_payout_overrides", "tracking_links",
	"clicks", "conversions", "conversion_status_changes", "used_signatures",
	"postback_endpoints", "postback_deliveries", "postback_attempts",
}

// rows counts the rows of every business table, read straight from the
// database (not through Baton's API, which could hide a stray write).
func (s *testServer) rows(t testing.TB) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]int64{}
	for _, table := range businessTables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("counting %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// written lists the tables whose row count changed between two snapshots.
func written(before, after map[string]int64) []string {
	var out []string
	for _, table := range businessTables {
		if before[table] != after[table] {
			out = append(out, fmt.Sprintf("%s %+d", table, after[table]-before[table]))
		}
	}
	return out
}

func (e *fc2Env) refusalCount(t testing.TB) int {
	t.Helper()
	l, err := e.admin.ListRefusals(context.Background(), &batonv1.ListRefusalsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range l.GetRefusals() {
		n += int(r.GetCount())
	}
	return n
}

// TestHostileForgedAndTruncatedSh sends image tags and server POSTs whose sh
// is forged (tampered fields, another password, a flipped digit, another
// hash) or truncated: the tag still answers its image, the POST a one-line
// 403, and no conversion is written for any of them.
func TestHostileForgedAndTruncatedSh(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	e.click(t, e.client, "param1=sh-media", browserUA) // a cookie, so a good tag would be attributed
	signed := func(order string) url.Values {
		return fc2Tag(map[string]string{"shopid": "100", "unique_id": order, "uname": "tarou", "amount_y": "1980", "ts": nowTS()}, demoShopPassword)
	}
	// The genuine tag is counted: the refusals below are the sh's doing.
	e.pixel(t, signed("SH-GENUINE"))
	e.conversionByOrder(t, "SH-GENUINE")

	flip := func(sh string, i int) string {
		b := []byte(sh)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	forgeries := []struct {
		name string
		make func(order string) url.Values
	}{
		{"amount changed after signing", func(o string) url.Values { q := signed(o); q.Set("amount_y", "198000"); return q }},
		{"order ID changed after signing", func(o string) url.Values { q := signed(o + "-x"); q.Set("unique_id", o); return q }},
		{"uname changed after signing", func(o string) url.Values { q := signed(o); q.Set("uname", "jiro"); return q }},
		{"ts changed after signing", func(o string) url.Values {
			q := signed(o)
			q.Set("ts", signature.FormatFC2TS(time.Now().Add(-time.Minute)))
			return q
		}},
		{"shop ID changed after signing", func(o string) url.Values { q := signed(o); q.Set("shopid", "101"); return q }},
		{"signed with another password", func(o string) url.Values {
			return fc2Tag(map[string]string{"shopid": "100", "unique_id": o, "uname": "tarou", "amount_y": "1980", "ts": nowTS()}, "guessed-password")
		}},
		{"signed without the password", func(o string) url.Values {
			q := signed(o)
			h := sha1.Sum([]byte(q.Get("shopid") + o + "tarou" + "1980" + q.Get("ts")))
			q.Set("sh", hex.EncodeToString(h[:]))
			return q
		}},
		{"first hex digit flipped", func(o string) url.Values { q := signed(o); q.Set("sh", flip(q.Get("sh"), 0)); return q }},
		{"last hex digit flipped", func(o string) url.Values { q := signed(o); q.Set("sh", flip(q.Get("sh"), 39)); return q }},
		{"16-character form flipped", func(o string) url.Values { q := signed(o); q.Set("sh", flip(q.Get("sh")[:16], 15)); return q }},
		{"truncated to 39", func(o string) url.Values { q := signed(o); q.Set("sh", q.Get("sh")[:39]); return q }},
		{"truncated to 20", func(o string) url.Values { q := signed(o); q.Set("sh", q.Get("sh")[:20]); return q }},
		{"truncated to 15", func(o string) url.Values { q := signed(o); q.Set("sh", q.Get("sh")[:15]); return q }},
		{"truncated to 1", func(o string) url.Values { q := signed(o); q.Set("sh", q.Get("sh")[:1]); return q }},
		{"the last 16 characters", func(o string) url.Values { q := signed(o); q.Set("sh", q.Get("sh")[24:]); return q }},
		{"one character too many", func(o string) url.Values { q := signed(o); q.Set("sh", q.Get("sh")+"0"); return q }},
		{"40 non-hex characters", func(o string) url.Values { q := signed(o); q.Set("sh", strings.Repeat("z", 40)); return q }},
		{"all zeros", func(o string) url.Values { q := signed(o); q.Set("sh", strings.Repeat("0", 40)); return q }},
		{"a SHA-256 instead of SHA-1", func(o string) url.Values { q := signed(o); q.Set("sh", strings.Repeat("ab", 32)); return q }},
		{"sh given twice, forged first", func(o string) url.Values {
			q := signed(o)
			q["sh"] = []string{strings.Repeat("0", 40), q.Get("sh")}
			return q
		}},
	}
	before, refusedBefore := e.rows(t), e.refusalCount(t)
	tried, lost := 0, 0
	for i, f := range forgeries {
		// The image tag: the picture loads, nothing is counted.
		tried++
		q := f.make(fmt.Sprintf("SH-TAG-%d", i))
		res, body := e.pixel(t, q)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/gif" || len(body) != 43 {
			lost++
			t.Errorf("tag, %s: %d %s %q", f.name, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		// The server POST (no passwd, not a registered host): a one-line 403
		// (400 for the shop ID that is not a shop).
		tried++
		form := f.make(fmt.Sprintf("SH-POST-%d", i))
		status, text := e.post(t, form)
		if (status != http.StatusForbidden && status != http.StatusBadRequest) || !strings.HasPrefix(text, "ERROR: ") || strings.Contains(text, "\n") {
			lost++
			t.Errorf("POST, %s: %d %q", f.name, status, text)
		}
	}
	if w := written(before, e.rows(t)); len(w) > 0 {
		lost += len(w)
		t.Errorf("forged sh wrote rows: %v", w)
	}
	if got := e.refusalCount(t) - refusedBefore; got != tried {
		t.Errorf("%d refusals logged for %d forged reports", got, tried)
	}
	// Each is logged for what it is: a bad signature (the shop ID that is
	// not a shop: an unknown shop, only counted, what it sent not kept).
	refusals, err := e.admin.ListRefusals(context.Background(), &batonv1.ListRefusalsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	unknownShops := int64(0)
	for _, r := range refusalsOf(refusals) {
		codes[r.GetOrderId()] = r.GetCode()
		if r.GetAdvertiserId() == "" && r.GetCode() == "unknown_shop" {
			unknownShops += r.GetCount()
		}
	}
	if unknownShops != 2 {
		lost++
		t.Errorf("%d unknown-shop refusals counted, want 2 (tag and POST)", unknownShops)
	}
	// The others are counted per code and minute, the first few kept as
	// samples: those kept are each under their code.
	badSignatures := int64(0)
	for _, r := range refusals.GetRefusals() {
		if r.GetCode() == "bad_signature" {
			badSignatures += r.GetCount()
		}
	}
	if want := int64(2 * (len(forgeries) - 1)); badSignatures != want {
		lost++
		t.Errorf("%d bad_signature refusals counted, want %d", badSignatures, want)
	}
	for i, f := range forgeries {
		want := "bad_signature"
		if f.name == "shop ID changed after signing" {
			want = "" // counted above, not kept
		}
		for _, order := range []string{fmt.Sprintf("SH-TAG-%d", i), fmt.Sprintf("SH-POST-%d", i)} {
			if code, sampled := codes[order]; (sampled || want == "") && code != want {
				lost++
				t.Errorf("%s (%s) logged as %q, want %q", order, f.name, codes[order], want)
			}
		}
	}
	proof.Tally(t, "hostile: forged and truncated sh", tried, lost,
		fmt.Sprintf("%d forgeries by image tag and by POST: every one refused and logged, 0 rows written", len(forgeries)))
}

// TestHostileReplayedTimestamps replays reports: old and future
// timestamps, and the very same signed request sent again.
func TestHostileReplayedTimestamps(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	if _, err := e.clickEnv.admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: e.offer.GetId(), DedupeOrderId: false},
		UpdateMask: fieldMask("dedupe_order_id")}); err != nil {
		t.Fatal(err)
	}
	id := e.clickID(t, "param1=replay-media")
	signedAt := func(order string, at time.Time) *batonv1.RecordConversionRequest {
		r := &batonv1.RecordConversionRequest{ClickId: id, OrderId: order, AmountJpy: yen(500), RequestTime: timestamppb.New(at)}
		r.Signature = sign(demoShopPassword, r)
		return r
	}
	// One genuine signed report, accepted once.
	genuine := signedAt("RP-GENUINE", time.Now())
	if _, err := e.pubConv.RecordConversion(ctx, genuine); err != nil {
		t.Fatal(err)
	}
	tag := func(order string, at time.Time) url.Values {
		return fc2Tag(map[string]string{"shopid": "100", "unique_id": order, "amount_y": "500", "ts": signature.FormatFC2TS(at)}, demoShopPassword)
	}
	before := e.rows(t)
	tried, lost := 0, 0
	refused := func(name string, err error, codes ...connect.Code) {
		tried++
		if !slices.Contains(codes, connect.CodeOf(err)) {
			lost++
			t.Errorf("%s: %v, want one of %v", name, err, codes)
		}
	}
	refused("the same signed request again", func() error { _, err := e.pubConv.RecordConversion(ctx, genuine); return err }(), connect.CodeAlreadyExists)
	for _, age := range []time.Duration{61 * time.Minute, 24 * time.Hour, 400 * 24 * time.Hour} {
		_, err := e.pubConv.RecordConversion(ctx, signedAt("RP-OLD-"+age.String(), time.Now().Add(-age)))
		refused("request_time "+age.String()+" old", err, connect.CodeInvalidArgument)
	}
	for _, ahead := range []time.Duration{61 * time.Minute, 30 * 24 * time.Hour} {
		_, err := e.pubConv.RecordConversion(ctx, signedAt("RP-FUTURE-"+ahead.String(), time.Now().Add(ahead)))
		refused("request_time "+ahead.String()+" ahead", err, connect.CodeInvalidArgument)
	}
	// The FC2 tag ignores a ts more than an hour old (its documented rule),
	// by image tag and by POST.
	for _, age := range []time.Duration{61 * time.Minute, 24 * time.Hour, 10 * 365 * 24 * time.Hour} {
		tried++
		order := "RP-TAG-" + age.String()
		if res, _ := e.pixel(t, tag(order, time.Now().Add(-age))); res.StatusCode != http.StatusOK {
			lost++
			t.Errorf("stale tag %s: %d", age, res.StatusCode)
		}
		tried++
		if status, text := e.post(t, tag(order+"-post", time.Now().Add(-age))); status != http.StatusBadRequest || !strings.Contains(text, "more than one hour old") {
			lost++
			t.Errorf("stale POST %s: %d %q", age, status, text)
		}
	}
	// A ts in the future would never expire: refused beyond the clock skew.
	for _, ahead := range []time.Duration{61 * time.Minute, 4 * 365 * 24 * time.Hour} {
		tried++
		order := "RP-TAG-FUTURE-" + ahead.String()
		if res, _ := e.pixel(t, tag(order, time.Now().Add(ahead))); res.StatusCode != http.StatusOK {
			lost++
			t.Errorf("future tag %s: %d", ahead, res.StatusCode)
		}
		tried++
		if status, text := e.post(t, tag(order+"-post", time.Now().Add(ahead))); status != http.StatusBadRequest || !strings.Contains(text, "is in the future") {
			lost++
			t.Errorf("future POST %s: %d %q", ahead, status, text)
		}
	}
	if w := written(before, e.rows(t)); len(w) > 0 {
		lost += len(w)
		t.Errorf("replays wrote rows: %v", w)
	}
	// Each refusal is logged under its own code.
	refusals, err := e.admin.ListRefusals(ctx, &batonv1.ListRefusalsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refusalsOf(refusals) {
		want := "stale_timestamp"
		switch o := r.GetOrderId(); {
		case o == "RP-GENUINE":
			want = "replayed"
		case strings.Contains(o, "FUTURE"):
			want = "future_timestamp"
		}
		if r.GetCode() != want {
			lost++
			t.Errorf("%s logged as %q, want %q", r.GetOrderId(), r.GetCode(), want)
		}
	}
	// A saved thank-you page reloaded within the hour (dedupe on): one sale.
	if _, err := e.clickEnv.admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: e.offer.GetId(), DedupeOrderId: true},
		UpdateMask: fieldMask("dedupe_order_id")}); err != nil {
		t.Fatal(err)
	}
	reload := tag("RP-RELOAD", time.Now().Add(-30*time.Minute))
	for range 5 {
		tried++
		e.pixel(t, reload)
	}
	e.conversionByOrder(t, "RP-RELOAD")
	proof.Tally(t, "hostile: replayed timestamps and requests", tried, lost,
		"stale/future request_time, the same signed request twice, stale and future FC2 ts by tag and POST refused with 0 rows written, each logged under its code; a page reloaded 5 times counted once")
}

// TestHostilePostbackTargetsOnPrivateAddresses points postback endpoints at
// loopback, private, link-local (cloud metadata), CGNAT and unspecified
// addresses, by IP and by names that resolve to them. Without an allow list
// no request reaches any of them, and every delivery ends failed.
func TestHostilePostbackTargetsOnPrivateAddresses(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t, func(c *config.Config) { c.PostbackSchedule = "50ms" })
	rcv := newReceiver(t)
	u, _ := url.Parse(rcv.URL)
	port := u.Port()
	targets := []string{
		"http://127.0.0.1:" + port + "/pb",
		"http://localhost:" + port + "/pb",  // a name resolving to loopback, with a live receiver behind it
		"http://localhost.:" + port + "/pb", // the same, fully qualified
		"http://[::1]:" + port + "/pb",
		"http://[::ffff:127.0.0.1]:" + port + "/pb", // IPv4-mapped IPv6
		"http://0.0.0.0:" + port + "/pb",
		"http://127.1:" + port + "/pb",      // short form some resolvers expand
		"http://2130706433:" + port + "/pb", // decimal form of 127.0.0.1
		"http://10.0.0.1/pb", "http://172.16.0.1/pb", "http://192.168.0.1/pb",
		"http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/pb", "http://100.64.0.1/pb",
		"http://[fd00::1]/pb", "http://[64:ff9b::7f00:1]/pb", "http://[2002:7f00:1::]/pb",
	}
	// Names some resolvers expand and Go's does not ("127.1", a decimal
	// address) and "localhost." (looked up in DNS, which this machine may
	// not have) may instead fail to resolve; every other target must be
	// blocked for its address.
	mayNotResolve := map[string]bool{"127.1": true, "2130706433": true, "localhost.": true}
	targetOf := map[string]string{} // endpoint ID -> host
	tried, lost, atCreation := 0, 0, 0
	for _, target := range targets {
		tried++
		ep, err := e.pb.CreatePostbackEndpoint(context.Background(), &batonv1.CreatePostbackEndpointRequest{UrlTemplate: target + "?cv={order_id}",
			Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET})
		if err != nil {
			atCreation++
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				lost++
				t.Errorf("%s: %v", target, err)
			}
			continue
		}
		u, _ := url.Parse(target)
		targetOf[ep.GetEndpoint().GetId()] = u.Hostname()
	}
	c := e.sale(t, "ssrf", "SSRF-ALL")
	var ds []*batonv1.Delivery
	testwait.Poll(30*time.Second, func() bool {
		l, err := e.pb.ListDeliveries(context.Background(), &batonv1.ListDeliveriesRequest{ConversionId: c.GetId(), PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		ds = l.GetDeliveries()
		done := len(ds) == tried-atCreation
		for _, d := range ds {
			done = done && d.GetState() != batonv1.DeliveryState_DELIVERY_STATE_PENDING
		}
		return done
	})
	blocked := 0
	for _, d := range ds {
		full, err := e.pb.GetDelivery(context.Background(), &batonv1.GetDeliveryRequest{Id: d.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if full.GetDelivery().GetState() != batonv1.DeliveryState_DELIVERY_STATE_FAILED {
			lost++
			t.Errorf("delivery %s: %v %v", full.GetDelivery().GetId(), full.GetDelivery().GetState(), full.GetDelivery().GetAttempts())
		}
		isBlocked := slices.ContainsFunc(full.GetDelivery().GetAttempts(), func(a *batonv1.Attempt) bool {
			return a.GetOutcome() == batonv1.AttemptOutcome_ATTEMPT_OUTCOME_BLOCKED_ADDRESS
		})
		if isBlocked {
			blocked++
		} else if host := targetOf[d.GetEndpointId()]; !mayNotResolve[host] {
			lost++
			t.Errorf("delivery to %s was not blocked for its address: %v", host, full.GetDelivery().GetAttempts())
		}
	}
	if len(ds) != tried-atCreation {
		lost++
		t.Errorf("%d deliveries for %d endpoints", len(ds), tried-atCreation)
	}
	if n := rcv.count(); n != 0 {
		lost += n
		t.Errorf("the loopback receiver got %d requests", n)
	}
	proof.Tally(t, "hostile: postback targets on private addresses", tried, lost,
		fmt.Sprintf("%d refused when created, %d deliveries failed (%d blocked by address, the rest unresolvable here), 0 requests reached the receiver",
			atCreation, len(ds), blocked))
}

// TestHostileOtherPartnersIDsAndKeys uses one partner's key on another
// partner's records, and keys that are revoked, made up or sent the wrong
// way: each is refused and nothing is written.
func TestHostileOtherPartnersIDsAndKeys(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	admin := e.clickEnv.admin
	// Another advertiser with its own offer, clicked through pub_demo2's
	// link, converted, with a postback endpoint of pub_demo2's.
	adv2 := mustOK(admin.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "other shop"}))(t)
	offer2 := mustOK(admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: adv2.GetAdvertiser().GetId(), Name: "other offer",
		LandingUrl: "https://other.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}}))(t)
	link2 := mustOK(e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: offer2.GetOffer().GetId(), PublisherId: app.DemoPublisher2ID}))(t)
	res := mustOK(noFollow(nil).Get(link2.GetLink().GetUrl()))(t)
	res.Body.Close()
	click2 := clickIDFrom(t, res, "sid")
	conv2 := mustOK(e.convEnv.admin.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: click2, OrderId: "OTHER-1", AmountJpy: yen(1000)}))(t)
	pb2 := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisher2Key))
	ep2 := mustOK(pb2.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: "https://pub2.example/pb?o={order_id}",
		Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}))(t)
	// A second network, and a click of ours sent to the first one.
	n1 := mustOK(admin.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "net one"}))(t)
	n2 := mustOK(admin.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "net two"}))(t)
	netOffer := mustOK(admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "via net one",
		LandingUrl: "https://net-one.example/c", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", NetworkId: n1.GetNetwork().GetId()},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}}))(t)
	netLink := mustOK(e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: netOffer.GetOffer().GetId(), PublisherId: app.DemoPublisherID}))(t)
	res = mustOK(noFollow(nil).Get(netLink.GetLink().GetUrl()))(t)
	res.Body.Close()
	netClick := clickIDFrom(t, res, "sid")
	ownClick := e.clickID(t, "param1=mine")
	own := mustOK(e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: ownClick, OrderId: "OWN-1", AmountJpy: yen(100)}))(t)
	// A key that is revoked.
	revoked := mustOK(admin.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "old", Role: batonv1.Role_ROLE_ADVERTISER, PartnerId: app.DemoAdvertiserID}))(t)
	mustOK(admin.RevokeApiKey(ctx, &batonv1.RevokeApiKeyRequest{Id: revoked.GetApiKey().GetId()}))(t)

	pubConfig, pubClicks := e.config(app.DemoPublisherKey), batonv1connect.NewClickServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	advConfig := e.config(app.DemoAdvertiserKey)
	conv := func(key string) batonv1connect.ConversionServiceClient {
		return batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(key))
	}
	kickback := func(q url.Values) (int, string) {
		res, err := http.Get(e.url + "/postback?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b := make([]byte, 512)
		n, _ := res.Body.Read(b)
		return res.StatusCode, strings.TrimSpace(string(b[:n]))
	}
	denied := []connect.Code{connect.CodePermissionDenied, connect.CodeNotFound, connect.CodeUnauthenticated}
	// Each attempt is a valid request but for whose it is: a refusal for
	// any other reason (a missing field) would prove nothing.
	type attempt struct {
		name string
		call func() error
	}
	attempts := []attempt{
		{"publisher reads another publisher's click", func() error {
			_, err := pubClicks.GetClick(ctx, &batonv1.GetClickRequest{Id: click2})
			return err
		}},
		{"publisher lists another publisher's clicks", func() error {
			l, err := pubClicks.ListClicks(ctx, &batonv1.ListClicksRequest{PublisherId: app.DemoPublisher2ID})
			if err == nil && len(l.GetClicks()) > 0 {
				return fmt.Errorf("listed %d clicks", len(l.GetClicks()))
			}
			return err
		}},
		{"publisher records a click on another publisher's link", func() error {
			_, err := pubClicks.RecordClick(ctx, &batonv1.RecordClickRequest{LinkId: link2.GetLink().GetId()})
			return err
		}},
		{"publisher makes a link for another publisher", func() error {
			_, err := pubClicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: app.DemoOfferID, PublisherId: app.DemoPublisher2ID})
			return err
		}},
		{"publisher adds a site to another publisher", func() error {
			_, err := pubConfig.CreateSite(ctx, &batonv1.CreateSiteRequest{PublisherId: app.DemoPublisher2ID, Name: "x", Url: "https://x.example/"})
			return err
		}},
		{"publisher makes a key for another publisher", func() error {
			_, err := pubConfig.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "x", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: app.DemoPublisher2ID})
			return err
		}},
		{"publisher makes itself an admin key", func() error {
			_, err := pubConfig.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "x", Role: batonv1.Role_ROLE_ADMIN})
			return err
		}},
		{"publisher reads another publisher's conversion", func() error {
			_, err := e.pubConv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: conv2.GetConversion().GetId()})
			return err
		}},
		{"publisher lists another publisher's conversions", func() error {
			l, err := e.pubConv.ListConversions(ctx, &batonv1.ListConversionsRequest{PublisherId: app.DemoPublisher2ID})
			if err == nil && len(l.GetConversions()) > 0 {
				return fmt.Errorf("listed %d conversions", len(l.GetConversions()))
			}
			return err
		}},
		{"publisher approves its own conversion", func() error {
			_, err := e.pubConv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: own.GetConversion().GetId(), Status: batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED,
				Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE})
			return err
		}},
		{"publisher reports a sale without the shop's signature", func() error {
			_, err := e.pubConv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: ownClick, OrderId: "OWN-FAKE", AmountJpy: yen(100000)})
			return err
		}},
		{"publisher signs a sale with another shop's secret", func() error {
			r := &batonv1.RecordConversionRequest{ClickId: ownClick, OrderId: "OWN-SIGNED", AmountJpy: yen(100), RequestTime: timestamppb.Now()}
			r.Signature = sign(adv2.GetSecret(), r)
			_, err := e.pubConv.RecordConversion(ctx, r)
			return err
		}},
		{"publisher adds an endpoint for another publisher", func() error {
			_, err := e.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: app.DemoPublisher2ID, UrlTemplate: "https://x.example/pb",
				Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET})
			return err
		}},
		{"publisher reads another publisher's endpoint", func() error {
			_, err := e.pb.GetPostbackEndpoint(ctx, &batonv1.GetPostbackEndpointRequest{Id: ep2.GetEndpoint().GetId()})
			return err
		}},
		{"publisher deletes another publisher's endpoint", func() error {
			_, err := e.pb.DeletePostbackEndpoint(ctx, &batonv1.DeletePostbackEndpointRequest{Id: ep2.GetEndpoint().GetId()})
			return err
		}},
		{"publisher lists another publisher's deliveries", func() error {
			l, err := e.pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{PublisherId: app.DemoPublisher2ID})
			if err == nil && len(l.GetDeliveries()) > 0 {
				return fmt.Errorf("listed %d deliveries", len(l.GetDeliveries()))
			}
			return err
		}},
		{"advertiser reports a sale on another advertiser's click", func() error {
			_, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: click2, OrderId: "STEAL-1", AmountJpy: yen(100)})
			return err
		}},
		{"advertiser reads another advertiser's conversion", func() error {
			_, err := e.adv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: conv2.GetConversion().GetId()})
			return err
		}},
		{"advertiser rejects another advertiser's conversion", func() error {
			_, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: conv2.GetConversion().GetId(), Status: batonv1.ConversionStatus_CONVERSION_STATUS_REJECTED,
				Reason: batonv1.StatusReason_STATUS_REASON_FRAUD})
			return err
		}},
		{"advertiser lists another advertiser's refusals", func() error {
			l, err := e.adv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{AdvertiserId: adv2.GetAdvertiser().GetId()})
			if err == nil && len(l.GetRefusals()) > 0 {
				return fmt.Errorf("listed %d refusals", len(l.GetRefusals()))
			}
			return err
		}},
		{"advertiser builds a tag for another advertiser", func() error {
			_, err := e.adv.BuildFc2Tag(ctx, &batonv1.BuildFc2TagRequest{AdvertiserId: adv2.GetAdvertiser().GetId(), UniqueId: "x", AmountY: proto.Int64(1),
				Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE})
			return err
		}},
		{"advertiser rotates another advertiser's secret", func() error {
			_, err := advConfig.RotateAdvertiserSecret(ctx, &batonv1.RotateAdvertiserSecretRequest{Id: adv2.GetAdvertiser().GetId()})
			return err
		}},
		{"advertiser changes another advertiser's offer", func() error {
			_, err := advConfig.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: offer2.GetOffer().GetId(), Name: "mine now"}, UpdateMask: fieldMask("name")})
			return err
		}},
		{"a revoked key", func() error {
			_, err := conv(revoked.GetKey()).RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: ownClick, OrderId: "REVOKED", AmountJpy: yen(1)})
			return err
		}},
		{"a made-up key", func() error {
			_, err := conv("bk_"+strings.Repeat("a", 32)).RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: ownClick, OrderId: "MADEUP", AmountJpy: yen(1)})
			return err
		}},
		{"the admin key in upper case", func() error {
			_, err := e.config(strings.ToUpper(adminKey)).CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "x", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
			return err
		}},
		{"the admin key with a character cut", func() error {
			_, err := e.config(adminKey[:len(adminKey)-1]).CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "x", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
			return err
		}},
		{"the admin key as Basic auth", func() error {
			c := batonv1connect.NewConfigServiceClient(e.client, e.url, connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					req.Header().Set("Authorization", "Basic "+adminKey)
					return next(ctx, req)
				}
			})))
			_, err := c.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "x", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
			return err
		}},
	}
	// Kickbacks: network two's token for network one's click, network one's
	// ID with network two's token, a click never sent to any network.
	kickbacks := []struct {
		name string
		q    url.Values
		want int
	}{
		{"network two reports network one's click", url.Values{"token": {n2.GetSecret()}, "click_id": {netClick}, "order_id": {"KB-1"}}, 403},
		{"network one's ID with network two's token", url.Values{"network": {n1.GetNetwork().GetId()}, "token": {n2.GetSecret()}, "click_id": {netClick}, "order_id": {"KB-2"}}, 401},
		{"network one's ID with no token, not from its addresses", url.Values{"network": {n1.GetNetwork().GetId()}, "click_id": {netClick}, "order_id": {"KB-3"}}, 401},
		{"network one reports a click not sent to any network", url.Values{"token": {n1.GetSecret()}, "click_id": {ownClick}, "order_id": {"KB-4"}}, 403},
		{"network one reports another advertiser's click", url.Values{"token": {n1.GetSecret()}, "click_id": {click2}, "order_id": {"KB-5"}}, 403},
		{"a made-up token", url.Values{"token": {"nt_" + strings.Repeat("b", 30)}, "click_id": {netClick}, "order_id": {"KB-6"}}, 401},
	}
	before := e.rows(t)
	tried, lost := 0, 0
	for _, a := range attempts {
		tried++
		if err := a.call(); !slices.Contains(denied, connect.CodeOf(err)) {
			lost++
			t.Errorf("%s: %v", a.name, err)
		}
	}
	tried++
	if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: "06h0000000000000000000000000g", OrderId: "NOCLICK",
		AmountJpy: yen(1)}); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "not issued by this network") {
		lost++
		t.Errorf("a click ID this network never issued: %v", err)
	}
	for _, k := range kickbacks {
		tried++
		if status, text := kickback(k.q); status != k.want {
			lost++
			t.Errorf("kickback, %s: %d %q", k.name, status, text)
		}
	}
	if w := written(before, e.rows(t)); len(w) > 0 {
		lost += len(w)
		t.Errorf("refused requests wrote rows: %v", w)
	}
	// The other partner's records are untouched.
	if c := mustOK(e.convEnv.admin.GetConversion(ctx, &batonv1.GetConversionRequest{Id: conv2.GetConversion().GetId()}))(t); c.GetConversion().GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_PENDING {
		lost++
		t.Errorf("another advertiser's conversion is now %v", c.GetConversion().GetStatus())
	}
	if _, err := pb2.GetPostbackEndpoint(ctx, &batonv1.GetPostbackEndpointRequest{Id: ep2.GetEndpoint().GetId()}); err != nil {
		lost++
		t.Errorf("another publisher's endpoint: %v", err)
	}
	proof.Tally(t, "hostile: another partner's IDs and keys", tried, lost,
		fmt.Sprintf("%d API calls across publishers, advertisers and keys, %d kickbacks across networks: all refused, 0 rows written", len(attempts)+1, len(kickbacks)))
}

// mustOK unwraps (value, error): mustOK(call(...))(t) fails the test on an
// error and returns the value.
func mustOK[V any](v V, err error) func(testing.TB) V {
	return func(t testing.TB) V {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func fieldMask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
