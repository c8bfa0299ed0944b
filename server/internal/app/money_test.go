package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/signature"
)

// kickbackEnv is Baton as ASP-1: the demo publisher is the media, and the
// offer lands on a downstream network that kicks conversions back.
type kickbackEnv struct {
	*pbEnv
	network *batonv1.Network
	token   string
}

func newKickbackEnv(t *testing.T) *kickbackEnv {
	t.Helper()
	e := newPBEnv(t)
	ctx := context.Background()
	n, err := e.clickEnv.admin.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "ASP-2"})
	if err != nil {
		t.Fatal(err)
	}
	// The offer's clicks go to the network.
	o, err := e.clickEnv.admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "via ASP-2",
		LandingUrl: "https://asp2.example/c", Downstream: &batonv1.DownstreamLink{ClickIdParam: "param1", NetworkId: n.GetNetwork().GetId()},
		Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o.GetOffer().GetId(), PublisherId: app.DemoPublisherID})
	if err != nil {
		t.Fatal(err)
	}
	e.offer, e.link = o.GetOffer(), l.GetLink()
	return &kickbackEnv{pbEnv: e, network: n.GetNetwork(), token: n.GetSecret()}
}

// kick sends a kickback with the network's token and returns the answer.
func (e *kickbackEnv) kick(t *testing.T, q url.Values) (int, string) {
	t.Helper()
	q.Set("token", e.token)
	res, err := http.Get(e.url + "/postback?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b := make([]byte, 1024)
	n, _ := res.Body.Read(b)
	return res.StatusCode, strings.TrimSpace(string(b[:n]))
}

func (e *kickbackEnv) clickOf(t *testing.T, query string) string {
	t.Helper()
	return clickIDFrom(t, e.click(t, nil, query, browserUA), "param1")
}

// Every amount has one unit per name: amount is a decimal in the major unit,
// amount_minor a whole number of the minor unit, exactly, in currencies of
// 0, 2 and 3 decimals.
func TestKickbackAmountsHaveOneUnitPerParameter(t *testing.T) {
	t.Parallel()
	e := newKickbackEnv(t)
	ctx := context.Background()
	cases := []struct {
		currency, amount, minor string
		want                    int64
	}{
		{"JPY", "1980", "", 1980},
		{"JPY", "", "1980", 1980},
		{"USD", "12.50", "", 1250},
		{"USD", "", "1250", 1250},
		{"USD", "12.5", "1250", 1250}, // both, agreeing
		{"KWD", "1.234", "", 1234},
		{"KWD", "", "1234", 1234},
		{"BHD", "0.005", "5", 5},
		{"", "1980", "", 1980}, // no currency: JPY
	}
	for i, tc := range cases {
		order := "K-" + string(rune('A'+i))
		q := url.Values{"click_id": {e.clickOf(t, "param1=m")}, "order_id": {order}, "amount": {tc.amount}, "amount_minor": {tc.minor}, "currency": {tc.currency}}
		if status, body := e.kick(t, q); status != 200 || body != "OK" {
			t.Fatalf("%+v: %d %q", tc, status, body)
		}
		l, err := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: order})
		if err != nil || len(l.GetConversions()) != 1 {
			t.Fatalf("%+v: %v %v", tc, l, err)
		}
		cur := tc.currency
		if cur == "" {
			cur = "JPY"
		}
		if a := l.GetConversions()[0].GetAmount(); a.GetAmountMinor() != tc.want || a.GetCurrencyCode() != cur {
			t.Errorf("%+v: stored %v, want %d %s", tc, a, tc.want, cur)
		}
	}
	// What cannot be read exactly is refused, naming the parameter and unit.
	for _, tc := range []struct{ currency, amount, minor, want string }{
		{"USD", "12.505", "", "amount must be a decimal in USD's major unit with at most 2 decimals"},
		{"JPY", "19.80", "", "amount must be a decimal in JPY's major unit with at most 0 decimals"},
		{"USD", "", "12.50", "amount_minor must be a whole number of USD's minor unit"},
		{"USD", "", "-5", "amount_minor must be a whole number"},
		{"USD", "12.50", "125000", "amount=12.50 and amount_minor=125000 disagree"},
		{"KWD", "1.2345", "", "at most 3 decimals"},
	} {
		q := url.Values{"click_id": {e.clickOf(t, "param1=m")}, "order_id": {"BAD-" + tc.amount + tc.minor}, "amount": {tc.amount}, "amount_minor": {tc.minor}, "currency": {tc.currency}}
		if status, body := e.kick(t, q); status != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%+v: %d %q, want 400 containing %q", tc, status, body, tc.want)
		}
	}
	l, err := e.convEnv.admin.ListRefusals(ctx, &batonv1.ListRefusalsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(refusalsOf(l)); n != 6 {
		t.Fatalf("%d refusals logged, want 6", n)
	}
	for _, r := range refusalsOf(l) {
		if r.GetCode() != "invalid_parameter" || r.GetReason() != batonv1.RefusalCode_REFUSAL_CODE_INVALID_PARAMETER ||
			r.GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_KICKBACK {
			t.Errorf("refusal %v", r)
		}
	}
}

// A kicked-back sale fills every CATS variable at this hop: the user name
// and second order ID travel with the kickback.
func TestKickedBackSaleFillsEveryCATSVariable(t *testing.T) {
	t.Parallel()
	e := newKickbackEnv(t)
	rcv := newReceiver(t)
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/cv?a=##AMOUNT##&p1=##PARA1##&p2=##PARA2##&p3=##PARA3##&p4=##PARA4##&p5=##PARA5##" +
		"&cid=##CID##&sid=##SID##&tuid=##TUID##&u1=##CONTENT_UID1##&u2=##CONTENT_UID2##&minor={amount_minor}&cur={currency}&com={commission}&comm={commission_minor}"})
	click := e.clickOf(t, "param1=S1&param2=S2&param3=S3&param4=S4&param5=S5")
	q := url.Values{"click_id": {click}, "order_id": {"ORD-1"}, "order_id_2": {"ORD-1-B"}, "user_name": {"tarou"}, "amount_minor": {"1234"}, "currency": {"KWD"}}
	if status, body := e.kick(t, q); status != 200 {
		t.Fatalf("%d %q", status, body)
	}
	rcv.await(t, 1, 15*time.Second)
	req, _ := rcv.request(0)
	got := req.URL.Query()
	want := map[string]string{"a": "1.234", "p1": "S1", "p2": "S2", "p3": "S3", "p4": "S4", "p5": "S5", "cid": e.offer.GetId(), "sid": click,
		"tuid": "tarou", "u1": "ORD-1", "u2": "ORD-1-B", "minor": "1234", "cur": "KWD", "com": "0.123", "comm": "123"}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q (query %s)", k, got.Get(k), v, req.URL.RawQuery)
		}
	}
}

// FC2's ts limits a tag's life to an hour; one stamped in the future would
// never expire, so beyond a few minutes of clock skew it is refused.
func TestFC2FutureTimestampIsRefused(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	tag := func(order, ts string) url.Values {
		return fc2Tag(map[string]string{"shopid": "100", "unique_id": order, "amount_y": "1000", "ts": ts}, demoShopPassword)
	}
	future := signature.FormatFC2TS(time.Date(2030, 1, 1, 0, 0, 0, 0, signature.JST))
	e.pixel(t, tag("FUTURE-TAG", future))
	status, body := e.post(t, withPasswd(tag("FUTURE-POST", future)))
	if status != 400 || !strings.Contains(body, "ts 20300101000000 is in the future: more than 5 minutes ahead of Japan time now") {
		t.Fatalf("POST with a 2030 ts: %d %q", status, body)
	}
	q := tag("FUTURE-TEST", future)
	q.Set("test", "on")
	if _, body := e.pixel(t, q); !strings.Contains(body, "is in the future") {
		t.Fatalf("test mode: %q", body)
	}
	// Within the skew: accepted.
	e.pixel(t, tag("SKEW-OK", signature.FormatFC2TS(time.Now().Add(2*time.Minute))))
	e.conversionByOrder(t, "SKEW-OK")
	l, err := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{IncludeTest: true})
	if err != nil || len(l.GetConversions()) != 1 {
		t.Fatalf("only SKEW-OK may count: %v %v", l.GetConversions(), err)
	}
	refs, err := e.adv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{})
	if err != nil || len(refusalsOf(refs)) != 3 {
		t.Fatalf("refusals %v %v", refs, err)
	}
	for _, r := range refusalsOf(refs) {
		if r.GetCode() != "future_timestamp" || r.GetReason() != batonv1.RefusalCode_REFUSAL_CODE_FUTURE_TIMESTAMP {
			t.Errorf("refusal %s %v: %s", r.GetOrderId(), r.GetReason(), r.GetCode())
		}
	}
}

func withPasswd(q url.Values) url.Values {
	q.Del("sh")
	q.Set("passwd", demoShopPassword)
	return q
}

// Every entrance logs its refusals under one documented code, and the code
// and the contract's enum agree.
func TestRefusalCodesAreOneSetAtEveryEntrance(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	base := func(order string) map[string]string {
		return map[string]string{"shopid": "100", "unique_id": order, "amount_y": "500", "ts": nowTS()}
	}
	// Image tag: a forged sh.
	forged := fc2Tag(base("TAG-FORGED"), demoShopPassword)
	forged.Set("amount_y", "50000")
	e.pixel(t, forged)
	// Image tag: a truncated sh.
	short := fc2Tag(base("TAG-SHORT-SH"), demoShopPassword)
	short.Set("sh", short.Get("sh")[:20])
	e.pixel(t, short)
	// Image tag: a malformed amount.
	badAmount := base("TAG-BAD-AMOUNT")
	badAmount["amount_y"] = "12a"
	e.pixel(t, fc2Tag(badAmount, demoShopPassword))
	// Image tag: a click ID that Baton never issued.
	unknown := fc2Tag(base("TAG-UNKNOWN-CLICK"), demoShopPassword)
	unknown.Set("click_id", "not-a-click-of-ours")
	e.pixel(t, unknown)
	// POST: a wrong password, a forged sh, nothing from an unregistered host.
	wrong := fc2Tag(base("POST-WRONG-PASSWD"), "")
	wrong.Set("passwd", "not-the-password")
	if status, _ := e.post(t, wrong); status != 403 {
		t.Errorf("wrong passwd: %d", status)
	}
	forgedPost := fc2Tag(base("POST-FORGED"), demoShopPassword)
	forgedPost.Set("amount_y", "1")
	if status, _ := e.post(t, forgedPost); status != 403 {
		t.Errorf("forged sh: %d", status)
	}
	if status, _ := e.post(t, fc2Tag(base("POST-UNREGISTERED"), "")); status != 403 {
		t.Errorf("unregistered host: %d", status)
	}
	// POST: a stale ts.
	stale := base("POST-STALE")
	stale["ts"] = signature.FormatFC2TS(time.Now().Add(-2 * time.Hour))
	if status, _ := e.post(t, withPasswd(fc2Tag(stale, demoShopPassword))); status != 400 {
		t.Errorf("stale ts: %d", status)
	}
	// API: a bad signature and an unknown click.
	rt := time.Now()
	_, err := e.pubConv.RecordConversion(ctx, &batonv1.RecordConversionRequest{OfferId: e.offer.GetId(), OrderId: "API-BAD-SIG", AmountJpy: yen(1),
		RequestTime: timestamppb.New(rt), Signature: strings.Repeat("ab", 32)})
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("bad signature: %v", err)
	}
	if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: "nope", OrderId: "API-UNKNOWN-CLICK", AmountJpy: yen(1)}); err == nil {
		t.Error("an unknown click was accepted")
	}

	want := map[string]string{
		"TAG-FORGED": "bad_signature", "TAG-SHORT-SH": "bad_signature", "TAG-BAD-AMOUNT": "invalid_parameter", "TAG-UNKNOWN-CLICK": "unknown_click",
		"POST-WRONG-PASSWD": "bad_password", "POST-FORGED": "bad_signature", "POST-UNREGISTERED": "not_authorized", "POST-STALE": "stale_timestamp",
		"API-BAD-SIG": "bad_signature", "API-UNKNOWN-CLICK": "unknown_click",
	}
	l, err := e.admin.ListRefusals(ctx, &batonv1.ListRefusalsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range refusalsOf(l) {
		got[r.GetOrderId()] = r.GetCode()
		if "REFUSAL_CODE_"+strings.ToUpper(r.GetCode()) != r.GetReason().String() {
			t.Errorf("%s: code %q but reason %v", r.GetOrderId(), r.GetCode(), r.GetReason())
		}
	}
	for order, code := range want {
		if got[order] != code {
			t.Errorf("%s logged as %q, want %q", order, got[order], code)
		}
	}
	if len(got) != len(want) {
		t.Errorf("refusals %v, want %v", got, want)
	}
}

// An FC2 POST names an affiliate by ref_userid, not a visitor: where that
// affiliate's clicks carry visitors' IDs up the chain, Baton does not guess
// one of them. It uses the click ID when the shop sends it, and otherwise
// credits the publisher, kicks back nothing and says why.
func TestFC2PostNeverKicksBackAnotherVisitorsID(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t, fastRetries)
	ctx := context.Background()
	rcv := newReceiver(t)
	pb := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	if _, err := pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/cv?sid=##PARA1##&o=##CONTENT_UID1##",
		Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}); err != nil {
		t.Fatal(err)
	}
	// Two visitors of the same media click; A buys, B (the latest) does not.
	resA := e.click(t, nil, "param1=visitor-A", browserUA)
	locA, _ := url.Parse(resA.Header.Get("Location"))
	e.click(t, nil, "param1=visitor-B", browserUA)
	form := func(order string) url.Values {
		return withPasswd(url.Values{"shopid": {"100"}, "unique_id": {order}, "amount_y": {"3000"}, "ts": {nowTS()},
			"ref_userid": {locA.Query().Get("aff_userid")}, "ref_siteid": {locA.Query().Get("aff_siteid")}})
	}
	// Without the click ID (nor the buyer's ip): credited, not guessed.
	if status, body := e.post(t, form("GUESS")); status != 200 || body != "OK" {
		t.Fatalf("POST: %d %q", status, body)
	}
	c := e.conversionByOrder(t, "GUESS")
	if c.GetPublisherId() != app.DemoPublisherID || c.GetClickId() != "" || c.GetUpstreamId() != "" || len(c.GetSubIds()) != 0 ||
		c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_REFERRER_IDS {
		t.Fatalf("conversion without the click ID: %v", c)
	}
	ex, err := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: c.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if s := ex.GetSummary(); !strings.Contains(s, "cannot tell which click was this buyer's") || !strings.Contains(s, "kicks back no click's IDs") {
		t.Fatalf("explanation %q", s)
	}
	// From an ip no click came from: the same.
	f := form("OTHER-IP")
	f.Set("ip", "203.0.113.9")
	e.post(t, f)
	if c := e.conversionByOrder(t, "OTHER-IP"); c.GetClickId() != "" || c.GetUpstreamId() != "" {
		t.Fatalf("conversion from another ip: %v", c)
	}
	// With the click ID from the landing URL: visitor A's click, A's ID.
	f = form("NAMED")
	f.Set("click_id", locA.Query().Get("sid"))
	if status, body := e.post(t, f); status != 200 || body != "OK" {
		t.Fatalf("POST with click_id: %d %q", status, body)
	}
	named := e.conversionByOrder(t, "NAMED")
	if named.GetClickId() != locA.Query().Get("sid") || named.GetUpstreamId() != "visitor-A" ||
		named.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_CLICK_ID {
		t.Fatalf("conversion with click_id: %v", named)
	}
	// Only the named sale was posted back, with visitor A's ID.
	rcv.await(t, 1, 10*time.Second)
	settled(t, e.testServer) // nothing more is on its way
	if rcv.count() != 1 {
		t.Fatalf("media got %d postbacks, want 1", rcv.count())
	}
	if req, _ := rcv.request(0); req.URL.RawQuery != "sid=visitor-A&o=NAMED" {
		t.Fatalf("media got %s", req.URL.RawQuery)
	}
}

// Amounts are never negative, as the contract says: a reversal is a status,
// and its postback and the conversion carry the sale's amount.
func TestReversalsCarryThePositiveAmount(t *testing.T) {
	t.Parallel()
	if err := protovalidate.Validate(&batonv1.Money{CurrencyCode: "USD", AmountMinor: -1}); err == nil {
		t.Error("the contract accepts a negative amount")
	}
	e := newPBEnv(t)
	ctx := context.Background()
	rcv := newReceiver(t)
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/cv?a={amount}&m={amount_minor}&c={commission}&s={status}",
		Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_REVERSED}})
	id := e.clickID(t, "param1=x")
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "REV-1",
		Amount: &batonv1.Money{CurrencyCode: "USD", AmountMinor: 1250}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []batonv1.ConversionStatus{batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED, batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED} {
		if _, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: res.GetConversion().GetId(), Status: st,
			Reason: batonv1.StatusReason_STATUS_REASON_CANCELLATION}); err != nil {
			t.Fatal(err)
		}
	}
	d := e.waitDelivery(t, res.GetConversion().GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	if q := d.GetAttempts()[0].GetUrl(); !strings.HasSuffix(q, "/cv?a=12.50&m=1250&c=0.62&s=reversed") {
		t.Errorf("reversal postback %s", q)
	}
	g, err := e.adv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: res.GetConversion().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if a, c := g.GetConversion().GetAmount(), g.GetConversion().GetCommission(); a.GetAmountMinor() != 1250 || c.GetAmountMinor() != 62 {
		t.Errorf("reversed conversion: amount %v, commission %v", a, c)
	}
}
