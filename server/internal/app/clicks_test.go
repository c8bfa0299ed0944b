package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"

// clickEnv is a server with one offer and one link for the demo publisher.
type clickEnv struct {
	*testServer
	admin  batonv1connect.ConfigServiceClient
	clicks batonv1connect.ClickServiceClient
	offer  *batonv1.Offer
	link   *batonv1.TrackingLink
}

func newClickEnv(t testing.TB, offer *batonv1.CreateOfferRequest, mutate ...func(*config.Config)) *clickEnv {
	t.Helper()
	return newClickEnvWith(t, nil, offer, mutate...)
}

func newClickEnvWith(t testing.TB, opts []app.Option, offer *batonv1.CreateOfferRequest, mutate ...func(*config.Config)) *clickEnv {
	t.Helper()
	return clickEnvOn(t, startWith(t, opts, mutate...), offer)
}

// clickEnvOn is newClickEnv on a server already started.
func clickEnvOn(t testing.TB, s *testServer, offer *batonv1.CreateOfferRequest) *clickEnv {
	t.Helper()
	e := &clickEnv{testServer: s, admin: s.config(adminKey),
		clicks: batonv1connect.NewClickServiceClient(s.client, s.url, withKey(adminKey))}
	ctx := context.Background()
	if offer.AdvertiserId == "" {
		offer.AdvertiserId = app.DemoAdvertiserID
	}
	if offer.Name == "" {
		offer.Name = "test offer"
	}
	if offer.Payout == nil {
		offer.Payout = &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}
	}
	o, err := e.admin.CreateOffer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	e.offer = o.GetOffer()
	l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: e.offer.GetId(), PublisherId: app.DemoPublisherID, SiteId: app.DemoSiteID})
	if err != nil {
		t.Fatal(err)
	}
	e.link = l.GetLink()
	return e
}

// click follows the tracking link once, without following the redirect.
func (e *clickEnv) click(t testing.TB, client *http.Client, query string, ua string) *http.Response {
	t.Helper()
	u := e.link.GetUrl()
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("User-Agent", ua)
	if client == nil {
		client = noFollow(nil)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func noFollow(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func clickIDFrom(t testing.TB, res *http.Response, param string) string {
	t.Helper()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get(param)
}

func TestRedirectAppendsIDsToLandingURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ landing, want string }{
		{"https://shop.example/lp", "https://shop.example/lp?sid=ID&aff_userid=1000&aff_siteid=1000"},
		{"https://shop.example/lp?utm_source=aff&x=%E3%81%82", "https://shop.example/lp?utm_source=aff&x=%E3%81%82&sid=ID&aff_userid=1000&aff_siteid=1000"},
		{"https://shop.example/lp?a=1#section", "https://shop.example/lp?a=1&sid=ID&aff_userid=1000&aff_siteid=1000#section"},
	} {
		e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: tc.landing,
			Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", Fc2Params: true}})
		res := e.click(t, nil, "", browserUA)
		if res.StatusCode != http.StatusFound {
			t.Fatalf("status %d", res.StatusCode)
		}
		id := clickIDFrom(t, res, "sid")
		if len(id) != 29 {
			t.Fatalf("click ID %q", id)
		}
		if got, want := res.Header.Get("Location"), strings.Replace(tc.want, "ID", id, 1); got != want {
			t.Errorf("Location = %s\n want     %s", got, want)
		}
	}
}

func TestClickCookieAndLastClickWins(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp",
		AttributionWindow: durationpb.New(24 * time.Hour), Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	jar, _ := cookiejar.New(nil)
	client := noFollow(jar)
	first := e.click(t, client, "", browserUA)
	c := first.Cookies()
	if len(c) != 1 {
		t.Fatalf("cookies %v", c)
	}
	ck := c[0]
	if ck.Name != "baton_s100" || ck.Value != clickIDFrom(t, first, "sid") || ck.MaxAge != 86400 || !ck.HttpOnly || ck.Path != "/" {
		t.Fatalf("cookie %+v", ck)
	}
	if ck.Secure || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("over plain HTTP the cookie is Lax and not Secure: %+v", ck)
	}
	second := e.click(t, client, "", browserUA)
	u, _ := url.Parse(e.url)
	got := jar.Cookies(u)
	if len(got) != 1 || got[0].Value != clickIDFrom(t, second, "sid") || got[0].Value == ck.Value {
		t.Fatalf("after a second click the jar holds %v; want the second click %s", got, clickIDFrom(t, second, "sid"))
	}

	// Served as https (behind a TLS proxy): Secure and SameSite=None, so the
	// shop's image pixel can send it.
	es := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp"},
		func(c *config.Config) { c.PublicURL = "https://track.example" })
	es.link.Url = strings.Replace(es.link.GetUrl(), "https://track.example", es.url, 1)
	sc := es.click(t, nil, "", browserUA).Cookies()
	if len(sc) != 1 || !sc[0].Secure || sc[0].SameSite != http.SameSiteNoneMode || sc[0].MaxAge != 30*86400 {
		t.Fatalf("https cookie %+v", sc)
	}
}

func TestUpstreamIDAndSubIDsAreKept(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://asp2.example/c/xyz",
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "param1"}})
	long := strings.Repeat("x", 300)
	res := e.click(t, nil, "param1=media-session-ABC&param2=%E3%81%82&param3="+long+"&param4=bad%00value&other=ignored", browserUA)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("a bad sub-ID must not stop the person: status %d", res.StatusCode)
	}
	id := clickIDFrom(t, res, "param1")
	got, err := e.clicks.GetClick(context.Background(), &batonv1.GetClickRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetClick()
	if c.GetUpstream().GetId() != "media-session-ABC" || c.GetUpstream().GetParam() != "param1" || c.GetUpstream().GetIssuer() != app.DemoPublisherID {
		t.Errorf("upstream %v", c.GetUpstream())
	}
	if c.GetDownstream().GetId() != id || c.GetDownstream().GetParam() != "param1" {
		t.Errorf("downstream %v", c.GetDownstream())
	}
	subs := c.GetSubIds()
	if len(subs) != 4 || subs[1] != "あ" || len(subs[2]) != 255 || subs[3] != "badvalue" {
		t.Errorf("sub-IDs %q", subs)
	}
	if !slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_SUB_ID_TRUNCATED) || !slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_SUB_ID_MALFORMED) {
		t.Errorf("flags %v", c.GetFlags())
	}
	if c.GetIp() != "127.0.0.1" || c.GetUserAgent() != browserUA || !c.GetUnique() || c.GetSource() != batonv1.ClickSource_CLICK_SOURCE_REDIRECT {
		t.Errorf("click %v", c)
	}
	// Found again by the ID it arrived with.
	list, err := e.clicks.ListClicks(context.Background(), &batonv1.ListClicksRequest{UpstreamId: "media-session-ABC"})
	if err != nil || len(list.GetClicks()) != 1 || list.GetClicks()[0].GetId() != id {
		t.Fatalf("ListClicks by upstream ID: %v %v", list, err)
	}
}

func TestPublisherParamNamesWin(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/"})
	ctx := context.Background()
	if _, err := e.admin.UpdatePublisher(ctx, &batonv1.UpdatePublisherRequest{
		Publisher:  &batonv1.Publisher{Id: app.DemoPublisherID, SubIdParams: []string{"tag", "aff_sub"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"sub_id_params"}},
	}); err != nil {
		t.Fatal(err)
	}
	e.click(t, nil, "tag=amzn-22&aff_sub=s2&param1=not-this", browserUA)
	list, err := e.clicks.ListClicks(ctx, &batonv1.ListClicksRequest{OfferId: e.offer.GetId()})
	if err != nil || len(list.GetClicks()) != 1 {
		t.Fatal(list, err)
	}
	if c := list.GetClicks()[0]; c.GetUpstream().GetId() != "amzn-22" || c.GetUpstream().GetParam() != "tag" || !slices.Equal(c.GetSubIds(), []string{"amzn-22", "s2"}) {
		t.Fatalf("click %v", c)
	}
}

func TestDeepLinksStayOnTheOffersHosts(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", DeepLinkHosts: []string{"cdn.shop.example"},
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	ok := map[string]string{
		"jump=%2Fabc%2Fdef.html": "https://shop.example/abc/def.html?sid=",
		"jump=%2F":               "https://shop.example/?sid=",
		"url=https%3A%2F%2Fcdn.shop.example%2Fx%3Fa%3D1": "https://cdn.shop.example/x?a=1&sid=",
	}
	for q, prefix := range ok {
		res := e.click(t, nil, q, browserUA)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, prefix) {
			t.Errorf("%s: %d %s; want prefix %s", q, res.StatusCode, loc, prefix)
		}
	}
	tricks := []string{
		"https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "https://shop.example@evil.example/",
		"https://evil.example#@shop.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "https:evil.example",
		"https://shop.example.evil.example/", "%2F%2Fevil.example", "https://evil%2eexample/",
		// Over 2,048 bytes: refused, not cut and followed.
		"/sale/" + strings.Repeat("x", 2100),
		// The offer is https: a deep link may not downgrade it to http.
		"http://shop.example/sale", "http://cdn.shop.example/x",
	}
	lost := 0
	for _, trick := range tricks {
		res := e.click(t, nil, "jump="+url.QueryEscape(trick), browserUA)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://shop.example/lp?sid=") {
			lost++
			t.Errorf("jump=%q: %d %s; want the landing URL", trick, res.StatusCode, loc)
			continue
		}
		got, err := e.clicks.GetClick(context.Background(), &batonv1.GetClickRequest{Id: clickIDFrom(t, res, "sid")})
		if err != nil || !slices.Contains(got.GetClick().GetFlags(), batonv1.ClickFlag_CLICK_FLAG_DEEP_LINK_REFUSED) {
			lost++
			t.Errorf("jump=%q: click not flagged as refused deep link (%v)", trick, err)
		}
	}
	proof.Tally(t, "hostile: open-redirect tricks in deep links", len(tricks), lost,
		"each went to the offer's landing URL instead, the click kept and flagged deep_link_refused")
}

func TestUnknownLinksPausedOffersBotsAndRepeats(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	ctx := context.Background()
	client := noFollow(nil)

	res, err := client.Get(e.url + "/c/NoSuchLink1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "Link not found") {
		t.Fatalf("unknown link: %d %s", res.StatusCode, body)
	}

	bot := e.click(t, nil, "", "Mozilla/5.0 (compatible; Googlebot/2.1)")
	one := e.click(t, nil, "", browserUA)
	two := e.click(t, nil, "", browserUA)
	for name, tc := range map[string]struct {
		res    *http.Response
		unique bool
		flag   batonv1.ClickFlag
	}{"bot": {bot, false, batonv1.ClickFlag_CLICK_FLAG_BOT}, "first": {one, true, 0}, "repeat": {two, false, batonv1.ClickFlag_CLICK_FLAG_DUPLICATE}} {
		if tc.res.StatusCode != http.StatusFound {
			t.Fatalf("%s: status %d: bots and repeats still get their redirect", name, tc.res.StatusCode)
		}
		c, err := e.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: clickIDFrom(t, tc.res, "sid")})
		if err != nil {
			t.Fatal(err)
		}
		if c.GetClick().GetUnique() != tc.unique || (tc.flag != 0 && !slices.Contains(c.GetClick().GetFlags(), tc.flag)) {
			t.Errorf("%s: unique=%v flags=%v", name, c.GetClick().GetUnique(), c.GetClick().GetFlags())
		}
	}

	// Paused with a fallback: sent there. Paused without: 410.
	pause := func(fallback string) {
		if _, err := e.admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{
			Offer:      &batonv1.Offer{Id: e.offer.GetId(), Status: batonv1.OfferStatus_OFFER_STATUS_PAUSED, FallbackUrl: fallback},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status", "fallback_url"}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	pause("https://shop.example/other")
	if res := e.click(t, nil, "", browserUA); res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "https://shop.example/other?sid=") {
		t.Fatalf("paused with fallback: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	pause("")
	if res := e.click(t, nil, "", browserUA); res.StatusCode != http.StatusGone {
		t.Fatalf("paused without fallback: %d", res.StatusCode)
	}
}

func TestRecordClickAndListIsolation(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp?x=1", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	ctx := context.Background()
	pub := batonv1connect.NewClickServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	pub2 := batonv1connect.NewClickServiceClient(e.client, e.url, withKey(app.DemoPublisher2Key))

	rec, err := pub.RecordClick(ctx, &batonv1.RecordClickRequest{LinkId: e.link.GetId(), SubIds: []string{"app-install-7"}, Ip: "203.0.113.9", UserAgent: browserUA})
	if err != nil {
		t.Fatal(err)
	}
	if rec.GetRedirectUrl() != "https://shop.example/lp?x=1&sid="+rec.GetClick().GetId() || rec.GetClick().GetSource() != batonv1.ClickSource_CLICK_SOURCE_API {
		t.Fatalf("RecordClick: %v", rec)
	}
	if _, err := pub2.RecordClick(ctx, &batonv1.RecordClickRequest{LinkId: e.link.GetId()}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("another publisher's link: %v", err)
	}
	if _, err := pub2.GetClick(ctx, &batonv1.GetClickRequest{Id: rec.GetClick().GetId()}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("another publisher's click: %v", err)
	}
	if l, err := pub2.ListClicks(ctx, &batonv1.ListClicksRequest{}); err != nil || len(l.GetClicks()) != 0 {
		t.Fatalf("another publisher lists %v, %v", l, err)
	}
	if l, err := pub.ListClicks(ctx, &batonv1.ListClicksRequest{}); err != nil || len(l.GetClicks()) != 1 {
		t.Fatalf("own clicks %v, %v", l, err)
	}
	if _, err := pub.GetClick(ctx, &batonv1.GetClickRequest{Id: "0000000000000000000000000000"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("unknown click: %v", err)
	}
}

// TestConcurrentClicksAreAllRecorded drives the redirect with concurrent
// clients: every 302 must name a click that is in the database.
func TestConcurrentClicksAreAllRecorded(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := noFollow(nil)
			for i := range 25 {
				res := e.click(t, client, fmt.Sprintf("param1=w%d-%d", w, i), browserUA)
				if res.StatusCode == http.StatusFound {
					mu.Lock()
					ids[clickIDFrom(t, res, "sid")] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(ids) != 400 {
		t.Fatalf("%d distinct clicks answered, want 400", len(ids))
	}
	stored := map[string]bool{}
	token := ""
	for {
		res, err := e.clicks.ListClicks(context.Background(), &batonv1.ListClicksRequest{OfferId: e.offer.GetId(), PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.GetClicks() {
			stored[c.GetId()] = true
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	lost := 0
	for id := range ids {
		if !stored[id] {
			lost++
			t.Errorf("click %s got a 302 but is not stored", id)
		}
	}
	proof.Tally(t, "fault: 400 concurrent clicks", len(ids), lost, fmt.Sprintf("%d answered with a 302, %d stored", len(ids), len(stored)))
}

// TestMetricsAreServedForPrometheus: /metrics is served on the admin port
// (BATON_ADMIN_ADDR) with Baton's, the Go runtime's and the process's
// metrics, and not on the public tracking port.
func TestMetricsAreServedForPrometheus(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := ln.Addr().String()
	ln.Close()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp"}, func(c *config.Config) { c.AdminAddr = adminAddr })
	e.click(t, nil, "", browserUA)
	if res, err := http.Get(e.url + "/metrics"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics: %v %v, want 404", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
	var res *http.Response
	testwait.Poll(5*time.Second, func() bool {
		res, err = http.Get("http://" + adminAddr + "/metrics")
		return err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`baton_clicks_total{`, `unique="true"`, "baton_postback_queue_depth", "baton_db_pool_total", "rpc_server_",
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The router cleans a path on its own (/c/x/. to /c/x, a service name to
// the service's subtree) and echoes the raw query into the Location. The
// query must come out as a valid URI, meaning the same as before: found by
// FuzzClickRedirect, which saw GET /c/demo/.?\ redirected to /c/demo?\.
func TestRouterRedirectsCarryAValidURI(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp",
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	get := func(uri string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, e.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		path, raw, _ := strings.Cut(uri, "?")
		req.URL.Path, req.URL.RawQuery = path, raw // sent as is
		req.Header.Set("User-Agent", browserUA)
		res, err := noFollow(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	link := "/c/" + e.link.GetId()
	for _, tc := range []struct{ uri, want string }{
		{link + "/.?param1=a<b>\\\xe3\x81\x82|%41&param2=`{}`^\"", link + "?param1=a%3Cb%3E%5C%E3%81%82%7C%41&param2=%60%7B%7D%60%5E%22"},
		{link + "/./?\\", link + "/?%5C"},
		{"/baton.v1.ClickService?x=\\\xff", "/baton.v1.ClickService/?x=%5C%FF"},
	} {
		res := get(tc.uri)
		if res.StatusCode/100 != 3 || res.Header.Get("Location") != tc.want {
			t.Errorf("GET %q: %d Location %q, want %q", tc.uri, res.StatusCode, res.Header.Get("Location"), tc.want)
		}
	}
	// Following the cleaned-up redirect records the same sub-IDs as the
	// raw query would have.
	res := get(link + "?param1=a%3Cb%3E%5C%E3%81%82%7C%41")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("status %d", res.StatusCode)
	}
	got, err := e.clicks.GetClick(context.Background(), &batonv1.GetClickRequest{Id: clickIDFrom(t, res, "sid")})
	if err != nil {
		t.Fatal(err)
	}
	if subs := got.GetClick().GetSubIds(); len(subs) < 1 || subs[0] != "a<b>\\あ|A" {
		t.Errorf("sub-IDs %q, want a<b>\\あ|A first", subs)
	}
}
