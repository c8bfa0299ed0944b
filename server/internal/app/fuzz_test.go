package app_test

// HTTP-level fuzz targets for the plain-HTTP routes a stranger can reach:
// the click redirect, the FC2 image tag and server POST, and inbound
// kickbacks. Each target starts one real Baton (real PostgreSQL, real
// loopback HTTP) in its setup and sends every input to it over the wire.
// What must hold for any input: no 5xx (the database is up, so a 503 is a
// failure too), a full answer (the server keeps serving), and no redirect
// off the offer's hosts.
//
// Inputs may name values that only exist at run time with placeholders,
// so that seeds and the committed corpus (testdata/fuzz) reach the deep
// paths: {ts} is the current FC2 timestamp, {sh} and {sh16} the FC2
// signature of the parameters as sent, {passwd} the shop's password,
// {network}/{token}/{click} a downstream network, its kickback token and a
// click Baton sent it (and {network2}/{token2}/{click2} a second one that
// authenticates by address and names its parameters itself; {click3} is a
// click on an offer with no downstream network).
//
//	go test -run='^$' -fuzz='^FuzzClickRedirect$' -fuzztime=2000x ./server/internal/app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/signature"
)

// fuzzWire makes s sendable on an HTTP/1.1 request line the way a browser
// would: bytes that would end or break the line (controls, space, '#', and
// '?' in a path) are percent-encoded; everything else, including invalid
// percent-encoding in a query and raw bytes >= 0x80, is sent as is.
//
// In a path, a '%' that does not begin a valid escape is encoded too:
// net/http refuses such a path with a 400 before it reads the headers, and
// closes the connection with them unread, so a long request gets a TCP
// reset instead of its answer. Baton never sees that request.
// TestInvalidPathEscapeIsRefused covers it, with a request that fits.
func fuzzWire(s string, path bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c == '#' || (path && c == '?') ||
			(path && c == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]))) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// TestInvalidPathEscapeIsRefused: a path with a broken escape is refused by
// net/http with a 400, and the server keeps serving.
func TestInvalidPathEscapeIsRefused(t *testing.T) {
	t.Parallel()
	s := start(t)
	for _, p := range []string{"/c/demo%zz", "/c/demo%", "/c/de%e", "/c/%\xe7x"} {
		req := fuzzRequest(t, http.MethodGet, s.url, p, "param1=x", nil)
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400", p, res.StatusCode)
		}
	}
	if res, err := s.client.Get(s.url + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("after: %v %v", res, err)
	}
}

// fuzzHeader makes s a valid header value (no control characters but tab);
// invalid UTF-8 and other bytes >= 0x80 are kept.
func fuzzHeader(s string) string {
	b := []byte(s)
	for i, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

// fuzzDo sends req and reads the whole answer: a transport error or a
// truncated body means the server stopped answering, which fails the input.
func fuzzDo(t *testing.T, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: the server did not answer: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer (%d): %v", req.Method, req.URL.RequestURI(), res.StatusCode, err)
	}
	if res.StatusCode >= 500 {
		t.Fatalf("%s %s: status %d: %q", req.Method, req.URL.RequestURI(), res.StatusCode, body)
	}
	return res, body
}

// fuzzRequest builds a request whose path and query go out byte for byte.
func fuzzRequest(t *testing.T, method, base, path, rawQuery string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, base, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // begins with a single "/": sent as the request path verbatim
	req.URL.RawQuery = rawQuery
	return req
}

// fuzzFollow makes one click on a tracking link and returns the click ID
// that the landing URL carries in sid.
func fuzzFollow(t testing.TB, linkURL string) string {
	t.Helper()
	res, err := noFollow(nil).Get(linkURL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	id := clickIDFrom(t, res, "sid")
	if res.StatusCode != http.StatusFound || id == "" {
		t.Fatalf("click on %s: %d %s", linkURL, res.StatusCode, res.Header.Get("Location"))
	}
	return id
}

// redirectTarget is what a click link may redirect to.
type redirectTarget struct {
	path  string   // /c/{link}
	hosts []string // allowed host names; "*.x" allows subdomains of x
	want  int      // the status a click with any query must get
}

func (r redirectTarget) allows(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range r.hosts {
		if rest, ok := strings.CutPrefix(h, "*"); ok {
			if strings.HasSuffix(host, rest) && len(host) > len(rest) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// FuzzClickRedirect sends hostile queries (sub-IDs, jump/url deep links),
// path suffixes and User-Agents to GET /c/{link} for four links: an active
// offer with deep-link hosts, a paused offer with a fallback URL, a paused
// offer without one, and the demo link. No 5xx; every redirect is to an
// http(s) URL on the offer's own hosts (or, for the router's path clean-up,
// on Baton itself); a click on an existing link is never refused because of
// its query.
func FuzzClickRedirect(f *testing.F) {
	e := newClickEnv(f, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp?a=1#top",
		DeepLinkHosts: []string{"cdn.shop.example", "*.campaign.example"},
		Downstream:    &batonv1.DownstreamLink{ClickIdParam: "sid", Fc2Params: true}})
	ctx := context.Background()
	paused := func(fallback string) string {
		o, err := e.admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "paused " + fallback,
			LandingUrl: "https://landing.example/lp", DeepLinkHosts: []string{"cdn.landing.example"},
			Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}, Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := e.admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{
			Offer:      &batonv1.Offer{Id: o.GetOffer().GetId(), Status: batonv1.OfferStatus_OFFER_STATUS_PAUSED, FallbackUrl: fallback},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status", "fallback_url"}},
		}); err != nil {
			f.Fatal(err)
		}
		l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o.GetOffer().GetId(), PublisherId: app.DemoPublisherID})
		if err != nil {
			f.Fatal(err)
		}
		return l.GetLink().GetId()
	}
	links := []redirectTarget{
		{"/c/" + e.link.GetId(), []string{"shop.example", "cdn.shop.example", "*.campaign.example"}, http.StatusFound},
		{"/c/" + paused("https://fallback.example/sorry?x=1"), []string{"fallback.example"}, http.StatusFound},
		{"/c/" + paused(""), nil, http.StatusGone},
		{"/c/" + app.DemoLinkID, []string{"shop.example.com"}, http.StatusFound},
	}
	client := noFollow(nil)
	self, err := url.Parse(e.url)
	if err != nil {
		f.Fatal(err)
	}

	for _, s := range []struct {
		link              uint8
		suffix, query, ua string
	}{
		{0, "", "param1=media-1&param2=%E3%81%82&param3=x", browserUA},
		{0, "", "jump=%2Fabc%2Fdef.html%3Fq%3D1%23frag", browserUA},
		{0, "", "url=https%3A%2F%2Fcdn.shop.example%2Fx%3Fa%3D1", browserUA},
		{0, "", "jump=https://a.b.campaign.example/p&url=https://evil.example/", browserUA},
		{0, "", "jump=//evil.example/", browserUA},
		{0, "", "jump=https:evil.example", browserUA},
		{0, "", `jump=\\evil.example&url=/\evil.example`, browserUA},
		{0, "", "jump=javascript:alert(document.cookie)", browserUA},
		{0, "", "jump=https://shop.example@evil.example/&param1=%00", browserUA},
		{0, "", "jump=https://evil.example%23@shop.example/", browserUA},
		{0, "", "jump=/%09/evil.example", browserUA},
		{0, "", "jump=https://evil%2eexample/&jump=/ok", browserUA},
		{0, "", "jump=HTTPS://CDN.SHOP.EXAMPLE.:443/x", browserUA},
		{0, "", "jump=https://campaign.example/&url=https://xcampaign.example/", browserUA},
		{0, "", "jump=https://[::1]/&url=http://127.0.0.1/", browserUA},
		{0, "", "param1=%zz&param2=%&param3=%e3%81&jump=%2", browserUA},
		{0, "", "param1=\xff\xfe&param2=%ff%fe&param4=a;b", "\xff\xfe Mozilla"},
		{0, "", "param1=" + strings.Repeat("x", 5000) + "&param1=second", strings.Repeat("U", 3000)},
		{0, "", "param1=a&param1=b&param1=c&param5=e&sid=forged&aff_userid=1", "Googlebot/2.1"},
		{0, "/../../postback", "token=x", browserUA},
		{0, "%2F..%2F..%2Fpostback", "", browserUA},
		{0, "//evil.example", "", browserUA},
		{0, "/", "", browserUA},
		{0, "x%00y", "", browserUA},
		{1, "", "jump=https%3A%2F%2Fevil.example%2F", browserUA},
		{1, "", "jump=%2Fdeep", browserUA},
		{2, "", "jump=%2F", browserUA},
		{3, "", "url=https://shop.example.com/x?y=1", browserUA},
		{3, "", "url=https://shop.example.com.evil.example/", ""},
	} {
		f.Add(s.link, s.suffix, s.query, s.ua)
	}

	f.Fuzz(func(t *testing.T, link uint8, suffix, query, ua string) {
		target := links[int(link)%len(links)]
		q := fuzzWire(query, false)
		req := fuzzRequest(t, http.MethodGet, e.url, target.path+fuzzWire(suffix, true), q, nil)
		req.Header.Set("User-Agent", fuzzHeader(ua))
		res, body := fuzzDo(t, client, req)

		if suffix == "" && len(q)+len(ua) < 32<<10 && res.StatusCode != target.want {
			t.Fatalf("GET %s: status %d, want %d: a click on an existing link is never refused for its query: %q",
				req.URL.RequestURI(), res.StatusCode, target.want, body)
		}
		if res.StatusCode < 300 || res.StatusCode > 399 {
			return
		}
		loc := res.Header.Get("Location")
		if loc == "" || strings.ContainsAny(loc, "\\ \t\r\n\x00") {
			t.Fatalf("GET %s: %d with Location %q", req.URL.RequestURI(), res.StatusCode, loc)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("GET %s: Location %q does not parse: %v", req.URL.RequestURI(), loc, err)
		}
		if u.Host == "" && u.Scheme == "" && !strings.HasPrefix(loc, "//") && res.StatusCode != http.StatusFound {
			// The router cleaning up the path: a redirect to Baton itself.
			if to := self.ResolveReference(u); to.Host != self.Host || to.Scheme != self.Scheme {
				t.Fatalf("GET %s: relative Location %q resolves off Baton to %s", req.URL.RequestURI(), loc, to)
			}
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Opaque != "" || !target.allows(u.Hostname()) {
			t.Fatalf("GET %s: redirect to %q: off the offer's hosts %v", req.URL.RequestURI(), loc, target.hosts)
		}
		// Baton's own IDs appear once: a deep link cannot put a forged one
		// before them.
		for _, name := range []string{"sid", "aff_userid", "aff_siteid"} {
			if vs := u.Query()[name]; len(vs) > 1 {
				t.Fatalf("GET %s: redirect to %q carries %s %d times", req.URL.RequestURI(), loc, name, len(vs))
			}
		}
	})
}

// fuzzFC2Sign fills in {ts}, then {sh}, {sh16} (the signature of the
// parameters as the server will read them, the first value of each) and
// {passwd}.
func fuzzFC2Sign(raw string) string {
	raw = strings.ReplaceAll(raw, "{ts}", nowTS())
	if strings.Contains(raw, "{sh") {
		v, _ := url.ParseQuery(raw) // as the server reads it: malformed pairs dropped
		sh := signature.FC2SH(demoShopPassword, signature.FC2Fields{ShopID: v.Get("shopid"), UniqueID: v.Get("unique_id"),
			UName: v.Get("uname"), Email: v.Get("email"), AmountY: v.Get("amount_y"), AmountD: v.Get("amount_d"), TS: v.Get("ts"),
			Recurring: v.Get("recurring"), ItemCode: v.Get("item_code"), UnitNum: v.Get("unit_num")})
		raw = strings.ReplaceAll(strings.ReplaceAll(raw, "{sh16}", sh[:16]), "{sh}", sh)
	}
	return strings.ReplaceAll(raw, "{passwd}", url.QueryEscape(demoShopPassword))
}

// fc2Seeds are image tag queries and server POST bodies alike.
var fc2Seeds = []string{
	"shopid=100&unique_id=F-1&uname=tarou&email=tarou%40hogehoge.com&amount_y=1980&ts={ts}&recurring=0&item_code=sample1&unit_num=2&sh={sh}",
	"shopid=100&unique_id=F-2&amount_y=0&ts={ts}&sh={sh16}",
	"shopid=100&unique_id=F-3&amount_d=19.99&ts={ts}&sh={sh}&test=on",
	"shopid=100&unique_id=F-4&amount_y=500&email=test%40fc2.com&ts={ts}&sh={sh}",
	"shopid=100&unique_id=F-5&amount_y=500&ts={ts}&recurring=1&uname=hanako&sh={sh}&ref_userid=1000&ref_siteid=1000&ip=203.0.113.9",
	"shopid=100&unique_id=F-6&amount_y=500&passwd={passwd}&ref_userid=1000&ref_siteid=1000",
	"shopid=100&unique_id=F-7&amount_y=1&ts={ts}&sh=cdfa85a2c27f3bc",
	"shopid=100&unique_id=F-8&amount_y=1&ts=20061122185000&sh={sh}",
	"shopid=100&unique_id=F-9&amount_y=1&ts=99999999999999&sh={sh}&test=on",
	"shopid=100&unique_id=F-10&amount_y=1&ts=20260230250000&sh=%zz&test=on",
	"shopid=100&unique_id=%00&uname=%ff%fe&email=a%00%40b&amount_y=1&item_code=%E3%82%B3&sh={sh}&test=on",
	"shopid=100&shopid=1&unique_id=a&unique_id=b&amount_y=1&amount_y=2&amount_d=3&test=on",
	"shopid=99999999999999999999&unique_id=x&amount_y=99999999999999999999&unit_num=4294967296&test=on",
	"shopid=-100&unique_id=x&amount_d=-0.01&recurring=2&ref_userid=-1&test=on",
	"shopid=%EF%BC%91%EF%BC%90%EF%BC%90&unique_id=x&amount_y=%EF%BC%91&test=on",
	"shopid=100&unique_id=" + strings.Repeat("u", 81) + "&amount_y=1&uname=" + strings.Repeat("n", 33) + "&test=on",
	"shopid=100&unique_id=big&amount_y=1&email=" + strings.Repeat("e", 4000) + "%40x&ts={ts}&sh={sh}",
	"shopid=100&unique_id=F-11&amount_y=1&ts={ts}&sh={sh}&passwd=wrong&ip=%00not-an-ip",
	"shopid=100&unique_id=F-12&amount_d=1e3&ts={ts}&sh=" + strings.Repeat("A", 40),
	"%zz=1&shopid=100&unique_id=F-13&amount_y=1;x=2&test=on",
	"shopid=100&unique_id=F-14&amount_y=1&test=ON&test=off&email=+test%40fc2.com+",
	"",
	"&&&==&=",
	"shopid",
}

// FuzzFC2Pixel sends hostile queries to GET /tracking/tracking_img.php with
// the cookie of a real click. No 5xx; a 200 is the 1×1 GIF or the
// plain-text test-mode report. As the GIF hides internal errors, an input
// answered with the GIF is sent again in test mode, whose report must not
// say "temporarily unavailable".
func FuzzFC2Pixel(f *testing.F) {
	e := newFC2Env(f)
	e.click(f, e.client, "param1=fuzz-media", browserUA) // the click cookie for the image tag
	for _, s := range fc2Seeds {
		f.Add(s)
	}
	const testHead = "TEST MODE (this sale is a test: it is never paid)\n"
	check := func(t *testing.T, q string, res *http.Response, body []byte) (gif bool) {
		t.Helper()
		if len(q) >= 32<<10 && res.StatusCode != http.StatusOK {
			return false // too large for the request line: refused by net/http
		}
		ct := res.Header.Get("Content-Type")
		switch {
		case res.StatusCode != http.StatusOK:
			t.Fatalf("GET ?%s: status %d: the image tag always answers 200: %q", q, res.StatusCode, body)
		case ct == "image/gif":
			if len(body) != 43 || !bytes.HasPrefix(body, []byte("GIF89a")) {
				t.Fatalf("GET ?%s: a GIF of %d bytes: %q", q, len(body), body)
			}
			return true
		case ct == "text/plain; charset=utf-8":
			rest, ok := strings.CutPrefix(string(body), testHead)
			if !ok || (!strings.HasPrefix(rest, "OK: ") && !strings.HasPrefix(rest, "ERROR: ")) {
				t.Fatalf("GET ?%s: test-mode answer %q", q, body)
			}
			if strings.Contains(rest, "temporarily unavailable") {
				t.Fatalf("GET ?%s: internal error behind the image tag: %q", q, body)
			}
		default:
			t.Fatalf("GET ?%s: 200 with Content-Type %q: %q", q, ct, body)
		}
		return false
	}
	get := func(t *testing.T, q string) (*http.Response, []byte) {
		req := fuzzRequest(t, http.MethodGet, e.url, "/tracking/tracking_img.php", q, nil)
		req.Header.Set("User-Agent", browserUA)
		return fuzzDo(t, e.client, req)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q := fuzzFC2Sign(fuzzWire(query, false))
		res, body := get(t, q)
		if check(t, q, res, body) {
			q = "test=on&" + q
			res, body = get(t, q)
			if check(t, q, res, body) {
				t.Fatalf("GET ?%s: test=on answered with the GIF", q)
			}
		}
	})
}

// FuzzFC2Post sends hostile form bodies to POST /tracking/tracking_post.php.
// No 5xx; the answer is one line, "OK" exactly when the status is 200.
func FuzzFC2Post(f *testing.F) {
	e := newFC2Env(f)
	for _, s := range fc2Seeds {
		f.Add(s)
	}
	f.Add("shopid=100&unique_id=P-1&amount_y=3000&uname=hanako&ts={ts}&ref_userid=1000&ref_siteid=1000&passwd={passwd}")
	f.Add("shopid=100&unique_id=P-2&amount_y=3000&ref_userid=99999999999999999999&ref_siteid=%2B1&passwd={passwd}")
	f.Add("shopid=100&unique_id=P-3&amount_y=3000&ip=%3A%3Affff%3A203.0.113.9&passwd={passwd}&recurring=1")
	f.Add("shopid=100&unique_id=P-4&amount_y=1&passwd=" + strings.Repeat("p", 70000))
	client := &http.Client{Timeout: e.testServer.client.Timeout}
	f.Fuzz(func(t *testing.T, form string) {
		form = fuzzFC2Sign(form)
		req := fuzzRequest(t, http.MethodPost, e.url, "/tracking/tracking_post.php", "", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, body := fuzzDo(t, client, req)
		line, ok := strings.CutSuffix(string(body), "\n")
		if !ok || strings.Contains(line, "\n") || (res.StatusCode == http.StatusOK) != (line == "OK") ||
			(line != "OK" && !strings.HasPrefix(line, "ERROR: ")) {
			t.Fatalf("POST %q: %d %q: want one line, OK exactly when 200", form, res.StatusCode, body)
		}
	})
}

// FuzzKickback sends hostile kickbacks (GET query, or POST query and form
// body) to /postback, from two downstream networks that each received a
// click, with a postback endpoint per delivery method so that accepted
// kickbacks queue postbacks carrying the fuzzed values. No 5xx; the answer
// is one line, "OK" exactly when the status is 200.
func FuzzKickback(f *testing.F) {
	e := newPBEnv(f)
	ctx := context.Background()
	config := e.clickEnv.admin
	n1, err := config.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "ASP-2"})
	if err != nil {
		f.Fatal(err)
	}
	n2, err := config.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "ASP-3", AllowedIps: []string{"127.0.0.1/32", "::1/128"},
		KickbackParams: &batonv1.KickbackParams{ClickId: "cid", OrderId: "oid", Amount: "amt", Currency: "cur", Status: "st", DownstreamId: "txn", Token: "key"}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := config.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{
		Offer:      &batonv1.Offer{Id: e.offer.GetId(), Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", NetworkId: n1.GetNetwork().GetId()}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"downstream"}},
	}); err != nil {
		f.Fatal(err)
	}
	o2, err := config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "via ASP-3", LandingUrl: "https://asp3.example/c/x",
		Payout:     &batonv1.Payout{Kind: &batonv1.Payout_Fixed{Fixed: &batonv1.Money{CurrencyCode: "JPY", AmountMinor: 300}}},
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", NetworkId: n2.GetNetwork().GetId()}})
	if err != nil {
		f.Fatal(err)
	}
	l2, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o2.GetOffer().GetId(), PublisherId: app.DemoPublisherID})
	if err != nil {
		f.Fatal(err)
	}
	recv := newReceiver(f)
	var vars []string
	for _, n := range postback.Known {
		vars = append(vars, n+"={"+n+"}")
	}
	all := []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING, batonv1.PostbackEvent_POSTBACK_EVENT_APPROVED,
		batonv1.PostbackEvent_POSTBACK_EVENT_REJECTED}
	e.endpoint(f, &batonv1.CreatePostbackEndpointRequest{Events: all, UrlTemplate: recv.URL + "/get?" + strings.Join(vars, "&") + "&p1=##PARA1##"})
	e.endpoint(f, &batonv1.CreatePostbackEndpointRequest{Events: all, Method: batonv1.PostbackMethod_POSTBACK_METHOD_POST_FORM,
		UrlTemplate: recv.URL + "/form", BodyTemplate: strings.Join(vars, "&")})
	e.endpoint(f, &batonv1.CreatePostbackEndpointRequest{Events: all, Method: batonv1.PostbackMethod_POSTBACK_METHOD_POST_JSON,
		UrlTemplate: recv.URL + "/json", Headers: []*batonv1.Header{{Name: "X-Order", Value: "{order_id}"}}})
	placeholders := strings.NewReplacer(
		"{network}", n1.GetNetwork().GetId(), "{token}", n1.GetSecret(), "{click}", e.clickID(f, "param1=fuzz-up"),
		"{network2}", n2.GetNetwork().GetId(), "{token2}", n2.GetSecret(), "{click2}", fuzzFollow(f, l2.GetLink().GetUrl()+"?param1=fuzz-up2"),
		"{click3}", fuzzFollow(f, e.url+"/c/"+app.DemoLinkID))

	for _, s := range []struct {
		query, body string
		post        bool
	}{
		{"token={token}&click_id={click}&order_id=K-1&amount=1980&currency=JPY&status=pending&transaction_id=T-1", "", false},
		{"network={network}&token={token}&click_id={click}&order_id=K-1&amount=1980&status=approved", "", false},
		{"token={token}&click_id={click}&order_id=K-1&status=reversed", "", false},
		{"token={token}&click_id={click}&order_id=K-2&amount=12.34&currency=usd&status=rejected", "", false},
		{"token={token}", "click_id={click}&order_id=K-3&amount=0.001&currency=BHD&status=1&transaction_id=T-3", true},
		{"token=wrong", "token={token}&click_id={click}&order_id=K-4&status=refund", true},
		{"network={network2}&cid={click2}&oid=K-5&amt=300&cur=jpy&st=approve&txn=ASP3-1", "", false},
		{"", "network={network2}&key={token2}&cid={click2}&oid=K-6&st=cancel", true},
		{"network={network2}&key=wrong&cid={click2}&oid=K-7", "", false},
		{"token={token}&click_id={click2}&order_id=K-8", "", false},
		{"token={token}&click_id={click3}&order_id=K-9", "", false},
		{"token={token}&click_id=0000000000000000000000000000&order_id=K-10", "", false},
		{"token={token}&click_id=%00%ff&order_id=%00&amount=%ff&currency=%00%00%00&status=%ff", "", false},
		{"token={token}&click_id={click}&order_id=" + strings.Repeat("o", 81), "", false},
		{"token={token}&click_id={click}&order_id=K-11&amount=1e9&currency=JPY", "", false},
		{"token={token}&click_id={click}&order_id=K-12&amount=-1", "", false},
		{"token={token}&click_id={click}&order_id=K-13&amount=99999999999999999999999", "", false},
		{"token={token}&click_id={click}&order_id=K-14&amount=%EF%BC%91%EF%BC%90&currency=%C3%A9ur", "", false},
		{"token={token}&click_id={click}&order_id=K-15&amount=NaN&currency=JP", "", false},
		{"token={token}&click_id={click}&click_id=other&order_id=K-16&order_id=K-17", "", false},
		{"token={token}&click_id={click}&order_id=K-18&transaction_id=" + strings.Repeat("t", 5000), "", false},
		{"token={token}", "click_id={click}&order_id=K-19&%zz", true},
		{"token={token}", strings.Repeat("a=b&", 20000), true},
		{"network=net_nope&token=%ff", "", false},
		{"network=" + strings.Repeat("n", 200), "", false},
		{"network={network}", "", true},
		{"", "", false},
		{"token=", "", true},
	} {
		f.Add(s.query, s.body, s.post)
	}

	client := &http.Client{Timeout: e.client.Timeout}
	f.Fuzz(func(t *testing.T, query, body string, post bool) {
		q := placeholders.Replace(fuzzWire(query, false))
		method, rd := http.MethodGet, io.Reader(nil)
		if post {
			method, rd = http.MethodPost, strings.NewReader(placeholders.Replace(body))
		}
		req := fuzzRequest(t, method, e.url, "/postback", q, rd)
		if post {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, answer := fuzzDo(t, client, req)
		if len(q) >= 32<<10 {
			return // possibly too large for the request line: net/http's own answer
		}
		line, ok := strings.CutSuffix(string(answer), "\n")
		if !ok || strings.Contains(line, "\n") || (res.StatusCode == http.StatusOK) != (line == "OK") {
			t.Fatalf("%s /postback?%s %q: %d %q: want one line, OK exactly when 200", method, q, body, res.StatusCode, answer)
		}
	})
}
