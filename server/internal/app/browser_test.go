package app_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/testwait"
)

// envRequireBrowser makes a missing Chromium a failure instead of a skip
// (CI installs Debian's chromium package and sets it).
const envRequireBrowser = "BATON_REQUIRE_BROWSER"

// findChromium returns the Chromium (or Chrome) binary to drive, or "".
func findChromium() string {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium loads pageURL in headless Chromium, lets the page's scripts
// navigate on (virtual time runs fast while nothing is loading), and returns
// the DOM of the page it ends on.
func runChromium(t *testing.T, chromium, pageURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--no-proxy-server",
		"--user-data-dir="+filepath.Join(home, "profile"),
		"--virtual-time-budget=10000", "--dump-dom", pageURL)
	// Nothing of the developer's (or CI's) profile, cache or proxy.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "http_proxy=", "https_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=")
	// Chromium's helper processes may hold the pipes after a kill.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	t.Logf("chromium ran %v", time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("chromium: %v (context: %v)\nstderr:\n%s\nstdout:\n%s", err, ctx.Err(), stderr.String(), stdout.String())
	}
	return stdout.String()
}

// TestBrowserBannerClickToImageTag drives a real browser through the whole
// FC2 flow: a media page's banner is clicked, Baton's redirect sets its
// cookie and sends the browser to the shop, the shop's thank-you page loads
// the image tag, and the cookie (sent with the pixel request) attributes the
// sale, which is posted back to the media with the media's own session ID.
func TestBrowserBannerClickToImageTag(t *testing.T) {
	t.Parallel()
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv(envRequireBrowser) == "1" {
			t.Fatalf("%s=1 but no Chromium found (/usr/bin/chromium, or chromium, chromium-browser, google-chrome on PATH)", envRequireBrowser)
		}
		t.Skipf("no Chromium found; install Debian's chromium package (or set %s=1 to make this a failure)", envRequireBrowser)
	}

	s := start(t, fastRetries)
	ctx := context.Background()
	admin := s.config(adminKey)
	clicks := batonv1connect.NewClickServiceClient(s.client, s.url, withKey(adminKey))
	shopConv := batonv1connect.NewConversionServiceClient(s.client, s.url, withKey(app.DemoAdvertiserKey))
	mediaPB := batonv1connect.NewPostbackServiceClient(s.client, s.url, withKey(app.DemoPublisherKey))

	const mediaSession = "MEDIA-SESS-42"
	const amount = 1980
	orderID := fmt.Sprintf("BRW-%d", time.Now().UnixNano())

	// The SHOP: a landing page that moves on to the purchase-complete page,
	// which carries the image tag exactly as Baton builds it for the shop.
	var (
		mu      sync.Mutex
		landed  url.Values // the landing page's query, as the redirect built it
		tagErr  error
		tagHTML string
	)
	shopMux := http.NewServeMux()
	shopMux.HandleFunc("GET /lp", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		landed = r.URL.Query()
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>shop landing</title></head><body>
<p id="landing">Welcome to the shop</p>
<script>window.addEventListener('load', function () { location.href = '/thanks'; });</script>
</body></html>`)
	})
	shopMux.HandleFunc("GET /thanks", func(w http.ResponseWriter, r *http.Request) {
		tag, err := shopConv.BuildFc2Tag(r.Context(), &batonv1.BuildFc2TagRequest{
			AdvertiserId: app.DemoAdvertiserID, Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE,
			UniqueId: orderID, AmountY: proto.Int64(amount), Ts: timestamppb.Now()})
		mu.Lock()
		tagErr = err
		if err == nil {
			tagHTML = tag.GetHtml()
		}
		mu.Unlock()
		if err != nil {
			http.Error(w, "BuildFc2Tag: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The listeners are the test's; the tag between them is pasted as is.
		// Capturing listeners on the document see the image's load or error.
		fmt.Fprintf(w, `<!doctype html><html><head><title>pixel-pending</title></head><body>
<h1 id="thanks">Thank you for your order %s</h1>
<script>
document.addEventListener('load', function (e) {
  if (e.target.tagName === 'IMG') document.title = 'pixel-loaded ' + e.target.naturalWidth + 'x' + e.target.naturalHeight;
}, true);
document.addEventListener('error', function (e) {
  if (e.target.tagName === 'IMG') document.title = 'pixel-error';
}, true);
</script>
<div id="fc2tag">%s</div>
</body></html>`, html.EscapeString(orderID), tag.GetHtml())
	})
	shop := httptest.NewServer(shopMux)
	t.Cleanup(shop.Close)

	offer, err := admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "browser offer",
		LandingUrl: shop.URL + "/lp", Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}},
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", Fc2Params: true}})
	if err != nil {
		t.Fatal(err)
	}
	offerID := offer.GetOffer().GetId()
	link, err := clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: offerID, PublisherId: app.DemoPublisherID, SiteId: app.DemoSiteID})
	if err != nil {
		t.Fatal(err)
	}

	// The MEDIA: its postback receiver (a CATS template), and its page with
	// the banner, clicked on load.
	rcv := newReceiver(t)
	if _, err := mediaPB.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{OfferId: offerID,
		UrlTemplate: rcv.URL + "/cv?sid=##PARA1##&amount=##AMOUNT##&oid=##CONTENT_UID1##",
		Events:      []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}); err != nil {
		t.Fatal(err)
	}
	banner := link.GetLink().GetUrl() + "?param1=" + url.QueryEscape(mediaSession)
	if !strings.HasPrefix(banner, s.url+"/c/") {
		t.Fatalf("link URL %s is not on this Baton (%s)", banner, s.url)
	}
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>media</title></head><body>
<p>Today's pick:</p>
<a id="banner" href="%s"><img alt="banner" width="1" height="1" src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"></a>
<script>window.addEventListener('load', function () { document.getElementById('banner').click(); });</script>
</body></html>`, html.EscapeString(banner))
	}))
	t.Cleanup(media.Close)

	dom := runChromium(t, chromium, media.URL+"/")

	mu.Lock()
	gotLanded, gotTagErr, gotTag := landed, tagErr, tagHTML
	mu.Unlock()
	if gotLanded == nil {
		t.Fatalf("the browser never reached the shop's landing page; DOM:\n%s", dom)
	}
	sid := gotLanded.Get("sid")
	if len(sid) != 29 || gotLanded.Get("aff_userid") != "1000" || gotLanded.Get("aff_siteid") == "" {
		t.Fatalf("landing query %v: want sid=<click ID>, aff_userid=1000 and aff_siteid", gotLanded)
	}
	if gotTagErr != nil {
		t.Fatalf("BuildFc2Tag for the thank-you page: %v", gotTagErr)
	}
	if !strings.Contains(gotTag, "/tracking/tracking_img.php?") || !strings.Contains(gotTag, "sh=") {
		t.Fatalf("image tag %s", gotTag)
	}
	if !strings.Contains(dom, `id="thanks"`) || !strings.Contains(dom, orderID) {
		t.Fatalf("the browser did not end on the thank-you page; DOM:\n%s", dom)
	}
	if !strings.Contains(dom, "<title>pixel-loaded 1x1</title>") {
		t.Fatalf("the image tag did not load as a 1×1 image; DOM:\n%s", dom)
	}

	// The pixel recorded the sale, attributed by the cookie to the click the
	// banner made (not by IP, not to nobody).
	list, err := shopConv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: orderID})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetConversions()) != 1 {
		refusals, _ := shopConv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{})
		t.Fatalf("%d conversions with order %s, want 1; refusals: %v", len(list.GetConversions()), orderID, refusals.GetRefusals())
	}
	c := list.GetConversions()[0]
	if c.GetAdvertiserId() != app.DemoAdvertiserID || c.GetOfferId() != offerID || c.GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_PIXEL ||
		c.GetTest() || c.GetAmount().GetCurrencyCode() != "JPY" || c.GetAmount().GetAmountMinor() != amount {
		t.Fatalf("conversion %v", c)
	}
	if c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_COOKIE || c.GetPublisherId() != app.DemoPublisherID ||
		c.GetSiteId() != app.DemoSiteID || c.GetClickId() != sid {
		t.Fatalf("attribution: path %v, publisher %q, site %q, click %q (the banner's click is %s): %s",
			c.GetAttributionPath(), c.GetPublisherId(), c.GetSiteId(), c.GetClickId(), sid, c.GetAttributionSummary())
	}
	if c.GetUpstreamId() != mediaSession || len(c.GetSubIds()) == 0 || c.GetSubIds()[0] != mediaSession {
		t.Fatalf("upstream %q, sub-IDs %q; want %s", c.GetUpstreamId(), c.GetSubIds(), mediaSession)
	}
	if c.GetCommission().GetAmountMinor() != amount*5/100 {
		t.Fatalf("commission %v, want 5%% of ¥%d", c.GetCommission(), amount)
	}

	// The media gets its postback with its own session ID.
	if !testwait.Poll(15*time.Second, func() bool { return rcv.count() > 0 }) {
		d, _ := mediaPB.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{ConversionId: c.GetId()})
		t.Fatalf("no postback reached the media in 15s; deliveries: %v", d.GetDeliveries())
	}
	req, _ := rcv.request(0)
	q := req.URL.Query()
	if req.URL.Path != "/cv" || q.Get("sid") != mediaSession || q.Get("amount") != fmt.Sprint(amount) || q.Get("oid") != orderID {
		t.Fatalf("postback %s: want sid=%s amount=%d oid=%s", req.URL, mediaSession, amount, orderID)
	}
	t.Logf("banner click %s → shop → image tag → conversion %s (cookie) → postback %s", sid, c.GetId(), req.URL.RawQuery)
}
