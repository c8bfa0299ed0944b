package app_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/signature"
)

const demoShopPassword = "demo-shop-password"

// fc2Tag builds an image tag query the way a shop's PHP library would.
func fc2Tag(p map[string]string, password string) url.Values {
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	if password != "" {
		h := sha1.Sum([]byte(password + p["shopid"] + p["unique_id"] + p["uname"] + p["email"] + p["amount_y"] + p["amount_d"] +
			p["ts"] + p["recurring"] + p["item_code"] + p["unit_num"]))
		q.Set("sh", hex.EncodeToString(h[:]))
	}
	return q
}

func nowTS() string { return signature.FormatFC2TS(time.Now()) }

type fc2Env struct {
	*convEnv
	jar    http.CookieJar
	client *http.Client
}

func newFC2Env(t testing.TB, mutate ...func(*config.Config)) *fc2Env {
	t.Helper()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", Fc2Params: true}}, mutate...)
	jar, _ := cookiejar.New(nil)
	return &fc2Env{convEnv: e, jar: jar, client: noFollow(jar)}
}

// pixel loads the image tag with the browser's cookies.
func (e *fc2Env) pixel(t testing.TB, q url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/tracking/tracking_img.php?"+q.Encode(), nil)
	req.Header.Set("User-Agent", browserUA)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (e *fc2Env) post(t testing.TB, form url.Values) (int, string) {
	t.Helper()
	res, err := http.PostForm(e.url+"/tracking/tracking_post.php", form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, strings.TrimSpace(string(b))
}

func (e *fc2Env) conversionByOrder(t testing.TB, order string) *batonv1.Conversion {
	t.Helper()
	l, err := e.adv.ListConversions(context.Background(), &batonv1.ListConversionsRequest{OrderId: order, IncludeTest: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.GetConversions()) != 1 {
		t.Fatalf("order %s: %d conversions, want 1", order, len(l.GetConversions()))
	}
	return l.GetConversions()[0]
}

func (e *fc2Env) refusalCodes(t testing.TB) []string {
	t.Helper()
	l, err := e.adv.ListRefusals(context.Background(), &batonv1.ListRefusalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, r := range refusalsOf(l) {
		codes = append(codes, r.GetCode()+": "+r.GetMessage())
	}
	return codes
}

func TestFC2ImageTagAfterABannerClick(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	// The banner click sets the cookie on the tracking host.
	click := e.click(t, e.client, "param1=media-9", browserUA)
	loc, _ := url.Parse(click.Header.Get("Location"))
	if loc.Query().Get("aff_userid") != "1000" || loc.Query().Get("aff_siteid") != "1000" {
		t.Fatalf("FC2 ids on the landing URL: %s", loc)
	}
	res, body := e.pixel(t, fc2Tag(map[string]string{"shopid": "100", "unique_id": "ORD-#1/2&x", "uname": "tarou", "email": "tarou@hogehoge.com",
		"amount_y": "1980", "ts": nowTS(), "recurring": "0", "item_code": "sample1", "unit_num": "1"}, demoShopPassword))
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/gif" || !bytes.HasPrefix([]byte(body), []byte("GIF89a")) || len(body) != 43 ||
		!strings.Contains(res.Header.Get("Cache-Control"), "no-cache") {
		t.Fatalf("pixel answer %d %v %q", res.StatusCode, res.Header, body)
	}
	c := e.conversionByOrder(t, "ORD-#1/2&x")
	if c.GetClickId() != loc.Query().Get("sid") || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_COOKIE ||
		c.GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_PIXEL || c.GetAmount().GetAmountMinor() != 1980 || c.GetUpstreamId() != "media-9" {
		t.Fatalf("conversion %v", c)
	}
	// Reloading the thank-you page does not count twice.
	e.pixel(t, fc2Tag(map[string]string{"shopid": "100", "unique_id": "ORD-#1/2&x", "uname": "tarou", "email": "tarou@hogehoge.com",
		"amount_y": "1980", "ts": nowTS(), "recurring": "0", "item_code": "sample1", "unit_num": "1"}, demoShopPassword))
	e.conversionByOrder(t, "ORD-#1/2&x")
}

func TestFC2ShAndTimestampRules(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	base := map[string]string{"shopid": "100", "amount_y": "0", "ts": nowTS()}
	tag := func(order string, mutate func(map[string]string)) url.Values {
		p := map[string]string{}
		for k, v := range base {
			p[k] = v
		}
		p["unique_id"] = order
		if mutate != nil {
			mutate(p)
		}
		return fc2Tag(p, demoShopPassword)
	}
	// The 16-character form of sh is accepted; amount_y=0 is valid.
	q := tag("SHORT", nil)
	q.Set("sh", q.Get("sh")[:16])
	e.pixel(t, q)
	e.conversionByOrder(t, "SHORT")
	// A wrong sh: the image still loads, nothing is counted, the refusal is visible.
	q = tag("FORGED", nil)
	q.Set("amount_y", "100000") // tampered after signing
	if res, body := e.pixel(t, q); res.Header.Get("Content-Type") != "image/gif" || len(body) != 43 {
		t.Fatal("a refused tag must still answer the image")
	}
	// A ts more than an hour old is ignored.
	e.pixel(t, tag("STALE", func(p map[string]string) { p["ts"] = signature.FormatFC2TS(time.Now().Add(-61 * time.Minute)) }))
	// A shop that requires sh refuses a tag without it.
	if _, err := e.clickEnv.admin.UpdateAdvertiser(ctx, &batonv1.UpdateAdvertiserRequest{Advertiser: &batonv1.Advertiser{Id: app.DemoAdvertiserID, RequireSignature: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"require_signature"}}}); err != nil {
		t.Fatal(err)
	}
	unsigned := tag("UNSIGNED", nil)
	unsigned.Del("sh")
	e.pixel(t, unsigned)

	l, _ := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{IncludeTest: true})
	if len(l.GetConversions()) != 1 {
		t.Fatalf("%d conversions; only SHORT may count", len(l.GetConversions()))
	}
	codes := strings.Join(e.refusalCodes(t), "\n")
	for _, want := range []string{"bad_signature: sh does not match", "stale_timestamp: ts", "bad_signature: sh is required by this shop"} {
		if !strings.Contains(codes, want) {
			t.Errorf("refusals lack %q:\n%s", want, codes)
		}
	}
}

func TestFC2TestModeShowsMessages(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	// email test@fc2.com: recorded without a click, as a test sale, text answer.
	res, body := e.pixel(t, fc2Tag(map[string]string{"shopid": "100", "unique_id": "T-1", "amount_y": "500", "email": "test@fc2.com", "ts": nowTS()}, demoShopPassword))
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "TEST MODE") || !strings.Contains(body, "OK: recorded conversion") {
		t.Fatalf("test mode answer %q", body)
	}
	if c := e.conversionByOrder(t, "T-1"); !c.GetTest() || c.GetCommission().GetAmountMinor() != 0 {
		t.Fatalf("test sale %v", c)
	}
	// Every broken rule is listed.
	q := url.Values{"shopid": {"100"}, "unique_id": {strings.Repeat("x", 81)}, "amount_y": {"12a"}, "amount_d": {"1.5"},
		"uname": {"taro-u"}, "recurring": {"2"}, "item_code": {"コード"}, "unit_num": {"-1"}, "ts": {"2026-11-22"}, "sh": {"abc"}, "test": {"on"}}
	_, body = e.pixel(t, q)
	for _, want := range []string{"unique_id must be at most 80", "exactly one of amount_y", "uname must be", "recurring must be 0",
		"item_code must be", "unit_num must be", "ts must be", "sh must be the 40"} {
		if !strings.Contains(body, want) {
			t.Errorf("test mode output lacks %q:\n%s", want, body)
		}
	}
	_, body = e.pixel(t, url.Values{"shopid": {"99999"}, "unique_id": {"x"}, "amount_y": {"1"}, "test": {"on"}})
	if !strings.Contains(body, "shopid 99999 is not a shop") {
		t.Errorf("unknown shop: %q", body)
	}
}

func TestFC2ServerPost(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	click := e.click(t, nil, "param1=post-media", browserUA)
	loc, _ := url.Parse(click.Header.Get("Location"))
	form := func(order string, extra map[string]string) url.Values {
		v := url.Values{"shopid": {"100"}, "unique_id": {order}, "amount_y": {"3000"}, "uname": {"hanako"}, "ts": {nowTS()},
			"ref_userid": {loc.Query().Get("aff_userid")}, "ref_siteid": {loc.Query().Get("aff_siteid")}}
		for k, x := range extra {
			v.Set(k, x)
		}
		return v
	}
	// passwd: OK, attributed through ref_userid/ref_siteid.
	if status, body := e.post(t, form("P-1", map[string]string{"passwd": demoShopPassword})); status != 200 || body != "OK" {
		t.Fatalf("POST with passwd: %d %q", status, body)
	}
	c := e.conversionByOrder(t, "P-1")
	if c.GetPublisherId() != app.DemoPublisherID || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_REFERRER_IDS ||
		c.GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_SERVER_POST {
		t.Fatalf("POST conversion %v", c)
	}
	// Wrong passwd, and neither passwd nor sh from an unregistered host: 403, one line.
	if status, body := e.post(t, form("P-2", map[string]string{"passwd": "nope"})); status != 403 || body != "ERROR: passwd is wrong" {
		t.Fatalf("wrong passwd: %d %q", status, body)
	}
	if status, body := e.post(t, form("P-3", nil)); status != 403 || !strings.Contains(body, "not a registered host") || strings.Contains(body, "\n") {
		t.Fatalf("unregistered host: %d %q", status, body)
	}
	// sh instead of passwd.
	sh := fc2Tag(map[string]string{"shopid": "100", "unique_id": "P-4", "uname": "hanako", "amount_y": "3000", "ts": form("P-4", nil).Get("ts")}, demoShopPassword).Get("sh")
	if status, body := e.post(t, form("P-4", map[string]string{"sh": sh})); status != 200 || body != "OK" {
		t.Fatalf("POST with sh: %d %q", status, body)
	}
	// From a registered host, nothing else is needed.
	if _, err := e.clickEnv.admin.UpdateAdvertiser(ctx, &batonv1.UpdateAdvertiserRequest{Advertiser: &batonv1.Advertiser{Id: app.DemoAdvertiserID, RegisteredHosts: []string{"127.0.0.1"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"registered_hosts"}}}); err != nil {
		t.Fatal(err)
	}
	if status, body := e.post(t, form("P-5", nil)); status != 200 || body != "OK" {
		t.Fatalf("registered host: %d %q", status, body)
	}
	// A continuing charge (recurring=1) finds the user's previous sale.
	rec := form("P-6", map[string]string{"recurring": "1"})
	rec.Del("ref_userid")
	rec.Del("ref_siteid")
	if status, body := e.post(t, rec); status != 200 || body != "OK" {
		t.Fatalf("recurring: %d %q", status, body)
	}
	if c := e.conversionByOrder(t, "P-6"); c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_RECURRING_USER || c.GetPublisherId() != app.DemoPublisherID || !c.GetRecurring() {
		t.Fatalf("recurring conversion %v", c)
	}
	// A bad parameter: 400, one line.
	if status, body := e.post(t, url.Values{"shopid": {"100"}, "unique_id": {"P-7"}, "passwd": {demoShopPassword}}); status != 400 || !strings.HasPrefix(body, "ERROR: give exactly one of amount_y") {
		t.Fatalf("missing amount: %d %q", status, body)
	}
	// The same order by POST again: counted once.
	if status, _ := e.post(t, form("P-1", map[string]string{"passwd": demoShopPassword})); status != 200 {
		t.Fatal("repeat POST")
	}
	e.conversionByOrder(t, "P-1")
}

func TestFC2TagBuilder(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ts := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	res, err := e.adv.BuildFc2Tag(context.Background(), &batonv1.BuildFc2TagRequest{AdvertiserId: app.DemoAdvertiserID,
		Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE, UniqueId: "A&B 1", AmountY: proto.Int64(1980), Uname: "tarou",
		Email: "tarou@hogehoge.com", ItemCode: "sample1", UnitNum: 1, Ts: timestamppb.New(ts)})
	if err != nil {
		t.Fatal(err)
	}
	want := fc2Tag(map[string]string{"shopid": "100", "unique_id": "A&B 1", "uname": "tarou", "email": "tarou@hogehoge.com", "amount_y": "1980",
		"ts": "20261122210000", "recurring": "0", "item_code": "sample1", "unit_num": "1"}, demoShopPassword).Get("sh")
	if res.GetSh() != want {
		t.Fatalf("sh %s, want %s", res.GetSh(), want)
	}
	if wantURL := e.url + "/tracking/tracking_img.php?shopid=100&unique_id=A%26B+1&amount_y=1980&uname=tarou&email=tarou%40hogehoge.com&recurring=0&item_code=sample1&unit_num=1&ts=20261122210000&sh=" + want; res.GetUrl() != wantURL {
		t.Fatalf("url %s\nwant %s", res.GetUrl(), wantURL)
	}
	if !strings.HasPrefix(res.GetHtml(), `<img src="`+e.url+`/tracking/tracking_img.php?shopid=100&amp;unique_id=A%26B+1`) || !strings.HasSuffix(res.GetHtml(), `width="1" height="1" alt="">`) {
		t.Fatalf("html %s", res.GetHtml())
	}
}
