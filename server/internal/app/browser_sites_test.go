package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	baton "github.com/batonhq/baton/clients/go"
	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/testwait"
)

// The three sites of the cross-site tests: different registrable domains,
// all served on loopback (Chromium maps the names with
// --host-resolver-rules), so a request from the shop's page to Baton is a
// third-party request as it is in production.
const (
	batonHost = "baton.test"
	shopHost  = "shop.test"
	mediaHost = "media.test"
)

// visitResult is what tools/browser/visit.mjs reports of one visit.
type visitResult struct {
	Requests []struct {
		URL     string `json:"url"`
		Cookie  string `json:"cookie"`
		Status  int    `json:"status"`
		Failure string `json:"failure"`
	} `json:"requests"`
	ConsoleErrors []string          `json:"consoleErrors"`
	PageErrors    []string          `json:"pageErrors"`
	Titles        []string          `json:"titles"`
	Storage       map[string]string `json:"storage"`
	FinalURL      string            `json:"finalURL"`
	Title         string            `json:"title"`
	TimedOut      bool              `json:"timedOut"`
	Cookies       []struct {
		Name     string `json:"name"`
		Domain   string `json:"domain"`
		Value    string `json:"value"`
		SameSite string `json:"sameSite"`
		Secure   bool   `json:"secure"`
	} `json:"cookies"`
}

// pixelRequests are the visit's requests to the image tag: the shop's own
// (without click_id) and the first-party tag's copies.
func (v visitResult) pixelRequests() (own, copies []string) {
	for _, r := range v.Requests {
		if !strings.Contains(r.URL, "/tracking/tracking_img.php") {
			continue
		}
		if strings.Contains(r.URL, "via=t.js") {
			copies = append(copies, r.Cookie)
		} else {
			own = append(own, r.Cookie)
		}
	}
	return own, copies
}

// browserDriver returns node and the visit script, or skips (fails in CI)
// when Chromium, node or playwright-core is missing.
func browserDriver(t *testing.T) (chromium, node, script string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv(envRequireBrowser) == "1" {
			t.Fatalf("%s=1 but %s", envRequireBrowser, what)
		}
		t.Skip(what)
	}
	chromium = findChromium()
	if chromium == "" {
		missing("no Chromium found; install Debian's chromium package")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node on PATH")
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "tools", "browser"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		missing("tools/browser/node_modules/playwright-core is not installed (make test installs it)")
	}
	return chromium, node, filepath.Join(dir, "visit.mjs")
}

// visit runs one browser visit from start until a page's title starts with
// "done".
func visit(t *testing.T, start string, blockThirdParty bool, spki string) visitResult {
	t.Helper()
	chromium, node, script := browserDriver(t)
	plan := map[string]any{
		"chromium": chromium, "start": start, "until": "done", "timeoutMs": 30000, "blockThirdPartyCookies": blockThirdParty,
		"storageOrigin": "http://" + shopHost,
		"hostRules":     fmt.Sprintf("MAP %s 127.0.0.1, MAP %s 127.0.0.1, MAP *.%s 127.0.0.1, MAP %s 127.0.0.1", batonHost, shopHost, shopHost, mediaHost),
	}
	if spki != "" {
		plan["spki"] = []string{spki}
	}
	b, _ := json.Marshal(plan)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, planFile)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"http_proxy=", "https_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("browser: %v\n%s\n%s", err, out, stderr)
	}
	var v visitResult
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("browser output %q: %v", out, err)
	}
	if v.TimedOut {
		t.Fatalf("the browser never reached a page titled done: titles %q, at %s, requests %+v", v.Titles, v.FinalURL, v.Requests)
	}
	if len(v.ConsoleErrors) > 0 || len(v.PageErrors) > 0 {
		t.Fatalf("errors in the browser: console %q, page %q", v.ConsoleErrors, v.PageErrors)
	}
	return v
}

// testCert makes a CA-less self-signed certificate for baton.test and
// returns the PEM files and the base64 SHA-256 of its public key, which
// Chromium is told to trust (--ignore-certificate-errors-spki-list).
func testCert(t *testing.T) (certFile, keyFile, spki string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: batonHost}, DNSNames: []string{batonHost},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(pub)
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, base64.StdEncoding.EncodeToString(sum[:])
}

// sitesEnv is Baton on baton.test, a shop on shop.test and a media on
// media.test, with the media's postback receiver.
type sitesEnv struct {
	*testServer
	t       *testing.T
	public  string // Baton as browsers reach it
	ownHost string // Baton on the shop's own tracking host, when set
	spki    string
	shopURL string
	media   string
	rcv     *receiver
	admin   batonv1connect.ConfigServiceClient
	clicks  batonv1connect.ClickServiceClient
	conv    batonv1connect.ConversionServiceClient
	attr    batonv1connect.AttributionServiceClient

	mu     sync.Mutex
	posted map[string]string // order → the shop server's POST answer
}

// shopPage says what the shop's pages carry in one variant.
type shopPage struct {
	script     bool // the first-party tag on the landing and thank-you pages
	serverKeep bool // the shop's server keeps the click ID and reports by POST
}

func newSitesEnv(t *testing.T, https bool) *sitesEnv {
	t.Helper()
	browserDriver(t)
	e := &sitesEnv{t: t, posted: map[string]string{}}
	var certFile, keyFile string
	if https {
		certFile, keyFile, e.spki = testCert(t)
	}
	e.testServer = start(t, fastRetries, func(c *config.Config) {
		_, port, _ := net.SplitHostPort(c.Addr)
		scheme := "http"
		if https {
			scheme = "https"
			c.TLSCert, c.TLSKey = certFile, keyFile
		}
		c.PublicURL = scheme + "://" + batonHost + ":" + port
		e.public = c.PublicURL
	})
	e.admin = e.config(adminKey)
	e.clicks = batonv1connect.NewClickServiceClient(e.client, e.url, withKey(adminKey))
	e.conv = batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	e.attr = batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	e.rcv = newReceiver(t)
	mediaPB := batonv1connect.NewPostbackServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	if _, err := mediaPB.CreatePostbackEndpoint(context.Background(), &batonv1.CreatePostbackEndpointRequest{
		UrlTemplate: e.rcv.URL + "/cv?sid=##PARA1##&oid=##CONTENT_UID1##",
		Events:      []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}); err != nil {
		t.Fatal(err)
	}
	e.shopURL = e.serve(t, shopHost, e.shopHandler())
	e.media = e.serve(t, mediaHost, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>media</title></head><body>
<a id="banner" href="%s">Today's pick</a>
<script>window.addEventListener('load', function () { document.getElementById('banner').click(); });</script>
</body></html>`, html.EscapeString(r.URL.Query().Get("banner")))
	}))
	return e
}

// serve runs h on loopback and returns its URL under host.
func (e *sitesEnv) serve(t *testing.T, host string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://" + host + ":" + port
}

// shopHandler serves /lp/{variant}/{order} and /thanks/{variant}/{order}.
func (e *sitesEnv) shopHandler() http.Handler {
	mux := http.NewServeMux()
	variant := func(r *http.Request) shopPage {
		v := r.PathValue("variant")
		return shopPage{script: strings.Contains(v, "script"), serverKeep: strings.Contains(v, "server")}
	}
	scriptTag := func(p shopPage) string {
		if !p.script {
			return ""
		}
		return `<script src="` + e.public + `/t.js" async></script>`
	}
	mux.HandleFunc("GET /lp/{variant}/{order}", func(w http.ResponseWriter, r *http.Request) {
		p := variant(r)
		if p.serverKeep {
			baton.KeepClickID(w, r, "sid", 24*time.Hour)
		}
		next := "/thanks/" + r.PathValue("variant") + "/" + r.PathValue("order")
		// With the script, the landing page moves on once it kept the click.
		wait := "true"
		if p.script {
			wait = "(window.localStorage.getItem('baton_cid') || '') !== ''"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>landing</title>%s</head><body><p>Welcome</p>
<script>
var tries = 0;
(function go() { if (%s || ++tries > 100) { location.href = %q; } else { setTimeout(go, 50); } })();
</script></body></html>`, scriptTag(p), wait, next)
	})
	mux.HandleFunc("GET /thanks/{variant}/{order}", func(w http.ResponseWriter, r *http.Request) {
		p, order := variant(r), r.PathValue("order")
		if p.serverKeep {
			// The shop's server reports the sale by FC2 POST with the
			// click ID it kept (the Go client's helper).
			form := url.Values{"shopid": {"100"}, "unique_id": {order}, "amount_y": {"1980"}, "ts": {nowTS()},
				"passwd": {demoShopPassword}, "click_id": {baton.KeptClickID(r)}}
			res, err := e.client.PostForm(e.url+"/tracking/tracking_post.php", form)
			answer := fmt.Sprint(err)
			if err == nil {
				b := make([]byte, 256)
				n, _ := res.Body.Read(b)
				res.Body.Close()
				answer = strings.TrimSpace(string(b[:n]))
			}
			e.mu.Lock()
			e.posted[order] = answer
			e.mu.Unlock()
		}
		tag, err := e.conv.BuildFc2Tag(r.Context(), &batonv1.BuildFc2TagRequest{AdvertiserId: app.DemoAdvertiserID,
			Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE, UniqueId: order, AmountY: proto.Int64(1980), Ts: timestamppb.Now()})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The title turns "done" a moment after the image loaded, so the
		// first-party tag's copy (if any) has been sent.
		fmt.Fprintf(w, `<!doctype html><html><head><title>thanks</title>%s</head><body>
<h1>Thank you for order %s</h1>
%s
<script>
(function check() {
  var img = document.querySelector('img');
  if (img && img.complete) { setTimeout(function () { document.title = 'done ' + img.naturalWidth + 'x' + img.naturalHeight; }, 800); }
  else { setTimeout(check, 50); }
})();
</script>
</body></html>`, scriptTag(p), html.EscapeString(order), tag.GetHtml())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

// flow makes an offer landing on the shop's variant, and runs a browser from
// the media's banner to the thank-you page. It returns the visit and the
// sale's conversions.
func (e *sitesEnv) flow(t *testing.T, name string, p shopPage, blockThirdParty bool) (visitResult, []*batonv1.Conversion, string) {
	t.Helper()
	ctx := context.Background()
	variant := "tag"
	if p.script {
		variant += "-script"
	}
	if p.serverKeep {
		variant += "-server"
	}
	order := fmt.Sprintf("XS-%s-%d", name, time.Now().UnixNano())
	// No IP matching: every site here is 127.0.0.1, and attribution must
	// come from the path under test.
	offer, err := e.admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: name,
		LandingUrl: e.shopURL + "/lp/" + variant + "/" + order, Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}},
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid", Fc2Params: true}, IpMatchWindow: durationpb.New(0)})
	if err != nil {
		t.Fatal(err)
	}
	link, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: offer.GetOffer().GetId(), PublisherId: app.DemoPublisherID, SiteId: app.DemoSiteID})
	if err != nil {
		t.Fatal(err)
	}
	session := "media-" + name
	banner := link.GetLink().GetUrl() + "?param1=" + url.QueryEscape(session)
	if !strings.HasPrefix(banner, e.public+"/c/") && (e.ownHost == "" || !strings.HasPrefix(banner, e.ownHost+"/c/")) {
		t.Fatalf("link %s is not on %s", banner, e.public)
	}
	v := visit(t, e.media+"/?banner="+url.QueryEscape(banner), blockThirdParty, e.spki)
	if v.Title != "done 1x1" {
		t.Fatalf("%s: the image tag did not load as a 1×1 image: %q (titles %q)", name, v.Title, v.Titles)
	}
	list, err := e.conv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: order})
	if err != nil {
		t.Fatal(err)
	}
	return v, list.GetConversions(), session
}

// hasBatonCookie reports whether a Cookie header carries Baton's click
// cookie for the demo shop.
func hasBatonCookie(h string) bool { return strings.Contains(h, "baton_s100=") }

// waitPostback waits for the media's postback for order and checks it came
// once, with the media's own session ID.
func (e *sitesEnv) waitPostback(t *testing.T, order, session string) {
	t.Helper()
	count := func() (n int) {
		e.rcv.mu.Lock()
		defer e.rcv.mu.Unlock()
		for _, r := range e.rcv.got {
			if r.URL.Query().Get("oid") == order {
				n++
				if r.URL.Query().Get("sid") != session {
					t.Errorf("postback %s: want sid=%s", r.URL.RawQuery, session)
				}
			}
		}
		return n
	}
	testwait.Until(t, 15*time.Second, "the media's postback for "+order, func() bool { return count() > 0 })
	settled(t, e.testServer) // nothing more is on its way
	if n := count(); n != 1 {
		t.Fatalf("the media got %d postbacks for %s, want 1", n, order)
	}
}

func one(t *testing.T, name string, convs []*batonv1.Conversion) *batonv1.Conversion {
	t.Helper()
	if len(convs) != 1 {
		t.Fatalf("%s: %d conversions, want the sale counted once: %v", name, len(convs), convs)
	}
	return convs[0]
}

// Case 1: Baton over http, the shop's page has only its unchanged image
// tag. The click cookie (SameSite=Lax, as it must be without https) is not
// sent with the cross-site image: the sale is recorded unattributed, and the
// explanation says why.
func TestBrowserSitesHTTPImageTagAlone(t *testing.T) {
	t.Parallel()
	e := newSitesEnv(t, false)
	v, convs, _ := e.flow(t, "http-tag", shopPage{}, false)
	own, _ := v.pixelRequests()
	if len(own) != 1 || hasBatonCookie(own[0]) {
		t.Fatalf("image tag requests %q: want one, without Baton's cookie", own)
	}
	baton := false
	for _, c := range v.Cookies {
		baton = baton || (c.Name == "baton_s100" && c.Domain == batonHost)
	}
	if !baton {
		t.Fatalf("the click's cookie was not stored on %s: %+v", batonHost, v.Cookies)
	}
	c := one(t, "http-tag", convs)
	if c.GetClickId() != "" || c.GetPublisherId() != "" || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_NONE ||
		!strings.Contains(c.GetAttributionSummary(), "carried no click cookie") {
		t.Fatalf("conversion %v", c)
	}
}

// Case 2: the same page plus the first-party tag, third-party cookies
// blocked (Baton over https, so it is the blocking, not SameSite, that keeps
// the cookie away): attributed to the right publisher by the first-party
// path, posted back to the media once, counted once.
func TestBrowserSitesFirstPartyTagWithThirdPartyCookiesBlocked(t *testing.T) {
	t.Parallel()
	e := newSitesEnv(t, true)
	v, convs, session := e.flow(t, "t-js", shopPage{script: true}, true)
	own, copies := v.pixelRequests()
	if len(own) != 1 || hasBatonCookie(own[0]) || len(copies) != 1 {
		t.Fatalf("image tag requests: own %q, copies %q: want one of each, the tag's without Baton's cookie", own, copies)
	}
	if v.Storage["baton_cid"] == "" {
		t.Errorf("the first-party tag kept nothing in localStorage: %v", v.Storage)
	}
	shopCookie := false
	for _, c := range v.Cookies {
		shopCookie = shopCookie || (c.Name == "baton_cid" && c.Domain == shopHost)
	}
	if !shopCookie {
		t.Errorf("no first-party cookie on %s: %+v", shopHost, v.Cookies)
	}
	c := one(t, "t-js", convs)
	if c.GetPublisherId() != app.DemoPublisherID || c.GetSiteId() != app.DemoSiteID || c.GetUpstreamId() != session ||
		c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_FIRST_PARTY_TAG {
		t.Fatalf("conversion %v", c)
	}
	e.waitPostback(t, c.GetOrderId(), session)
}

// Case 3: Baton over https with third-party cookies allowed: the image tag's
// cookie path works on its own (SameSite=None; Secure); with the first-party
// tag on the page too, the sale still counts once.
func TestBrowserSitesHTTPSCookiePath(t *testing.T) {
	t.Parallel()
	e := newSitesEnv(t, true)
	v, convs, session := e.flow(t, "https-tag", shopPage{}, false)
	own, _ := v.pixelRequests()
	if len(own) != 1 || !hasBatonCookie(own[0]) {
		t.Fatalf("image tag requests %q: want one, with Baton's cookie; cookies %+v; conversions %v", own, v.Cookies, convs)
	}
	c := one(t, "https-tag", convs)
	if c.GetPublisherId() != app.DemoPublisherID || c.GetUpstreamId() != session || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_COOKIE {
		t.Fatalf("conversion %v", c)
	}
	e.waitPostback(t, c.GetOrderId(), session)

	v, convs, session = e.flow(t, "https-both", shopPage{script: true}, false)
	if own, copies := v.pixelRequests(); len(own) != 1 || len(copies) != 1 {
		t.Fatalf("image tag requests: own %q, copies %q", own, copies)
	}
	c = one(t, "https-both", convs)
	if c.GetPublisherId() != app.DemoPublisherID || c.GetUpstreamId() != session {
		t.Fatalf("conversion %v", c)
	}
	e.waitPostback(t, c.GetOrderId(), session)
}

// Case 4: the shop's server keeps the landing URL's click ID in its own
// first-party cookie (the Go client's helper) and reports the sale by FC2
// POST with it; the thank-you page also has the image tag and the
// first-party tag. Third-party cookies are blocked. Attributed, counted once.
func TestBrowserSitesShopServerKeepsTheClick(t *testing.T) {
	t.Parallel()
	e := newSitesEnv(t, true)
	v, convs, session := e.flow(t, "server", shopPage{script: true, serverKeep: true}, true)
	c := one(t, "server", convs)
	e.mu.Lock()
	answer := e.posted[c.GetOrderId()]
	e.mu.Unlock()
	if answer != "OK" {
		t.Fatalf("the shop server's POST got %q", answer)
	}
	if own, copies := v.pixelRequests(); len(own) != 1 || hasBatonCookie(own[0]) || len(copies) != 1 {
		t.Fatalf("image tag requests: own %q, copies %q", own, copies)
	}
	if c.GetPublisherId() != app.DemoPublisherID || c.GetUpstreamId() != session || c.GetSource() != batonv1.ConversionSource_CONVERSION_SOURCE_SERVER_POST ||
		c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_CLICK_ID {
		t.Fatalf("conversion %v", c)
	}
	e.waitPostback(t, c.GetOrderId(), session)
}

// TestFirstPartyTagInTheBrowser checks t.js itself in Chromium, on the
// shop's own site: it finds the click ID whatever the parameter's name, keeps
// it until the offer's window ends and no longer, does nothing on a page
// without a click ID or with one Baton did not issue, and never causes an
// error in the page's console.
func TestFirstPartyTagInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newSitesEnv(t, false)
	ctx := context.Background()
	sid := clickIDFrom(t, mustClick(t, e), "sid")
	cl, err := e.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: sid})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := e.admin.GetOffer(ctx, &batonv1.GetOfferRequest{Id: cl.GetClick().GetOfferId()})
	if err != nil {
		t.Fatal(err)
	}
	windowEnd := cl.GetClick().GetCreateTime().AsTime().Add(offer.GetOffer().GetAttributionWindow().AsDuration()).UnixMilli()
	unknown := sid[:28] + map[bool]string{true: "1", false: "0"}[sid[28] == '0'] // well formed, never issued

	tag, err := e.conv.BuildFc2Tag(ctx, &batonv1.BuildFc2TagRequest{AdvertiserId: app.DemoAdvertiserID,
		Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE, UniqueId: "TJS-1", AmountY: proto.Int64(100), Ts: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// /page?pre=<script run before the tag>&tag=1: a shop page with t.js.
	pages := e.serve(t, shopHost, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		img := ""
		if r.URL.Query().Get("tag") == "1" {
			img = tag.GetHtml()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>page</title><script>%s</script><script src="%s/t.js" async></script></head><body>%s
<script>setTimeout(function () { document.title = 'done'; }, 1500);</script></body></html>`, r.URL.Query().Get("pre"), e.public, img)
	}))
	requests := func(v visitResult, path string) (n int) {
		for _, r := range v.Requests {
			if strings.Contains(r.URL, path) {
				n++
			}
		}
		return n
	}

	// The click ID under a parameter name of the offer's choosing, among
	// others (one of them 29 letters but not a click ID's form).
	v := visit(t, pages+"/page?utm_source=mail&ref="+strings.Repeat("u", 29)+"&xyz="+sid+"&tag=1", false, "")
	if got, want := v.Storage["baton_cid"], fmt.Sprintf("%s.%d", sid, windowEnd); got != want {
		t.Errorf("kept %q, want %q (the offer's window)", got, want)
	}
	if _, copies := v.pixelRequests(); len(copies) != 1 {
		t.Errorf("landing and thank-you page in one: %d copies of the tag, want 1", len(copies))
	}

	// No click ID: no request to Baton but the script, nothing kept, no copy.
	v = visit(t, pages+"/page?tag=1&q=shoes", false, "")
	if requests(v, "/t/c/") != 0 || len(v.Storage) != 0 {
		t.Errorf("a page without a click ID: lookups %d, storage %v", requests(v, "/t/c/"), v.Storage)
	}
	if _, copies := v.pixelRequests(); len(copies) != 0 {
		t.Errorf("a page without a click ID sent %d copies", len(copies))
	}

	// A click ID Baton never issued: looked up, not kept.
	v = visit(t, pages+"/page?sid="+unknown, false, "")
	if requests(v, "/t/c/") != 1 || len(v.Storage) != 0 {
		t.Errorf("an unknown click ID: lookups %d, storage %v", requests(v, "/t/c/"), v.Storage)
	}

	// A kept click whose window ended: not used, and forgotten.
	expired := fmt.Sprintf("localStorage.setItem('baton_cid', '%s.%d')", sid, time.Now().Add(-time.Minute).UnixMilli())
	v = visit(t, pages+"/page?tag=1&pre="+url.QueryEscape(expired), false, "")
	if _, copies := v.pixelRequests(); len(copies) != 0 || len(v.Storage) != 0 {
		t.Errorf("an expired click: %d copies, storage %v", len(copies), v.Storage)
	}
	// The same click within its window, kept by an earlier landing page.
	kept := fmt.Sprintf("localStorage.setItem('baton_cid', '%s.%d')", sid, windowEnd)
	v = visit(t, pages+"/page?tag=1&pre="+url.QueryEscape(kept), false, "")
	if _, copies := v.pixelRequests(); len(copies) != 1 {
		t.Errorf("a kept click: %d copies, want 1", len(copies))
	}
}

// mustClick clicks a link of the demo offer (through the API's link) from
// the test, not a browser.
func mustClick(t *testing.T, e *sitesEnv) *http.Response {
	t.Helper()
	ctx := context.Background()
	link, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: app.DemoOfferID, PublisherId: app.DemoPublisherID})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/c/"+link.GetLink().GetId(), nil)
	req.Header.Set("User-Agent", browserUA)
	res, err := noFollow(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// Case 5: the shop's own tracking host (track.shop.test, a CNAME to Baton in
// production): links and tags point there, so Baton's click cookie is
// first-party on the shop's site. The unchanged image tag is attributed by
// it over plain http, with third-party cookies blocked.
func TestBrowserSitesShopsOwnTrackingHost(t *testing.T) {
	t.Parallel()
	e := newSitesEnv(t, false)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.public, "http://"))
	host := "track." + shopHost + ":" + port
	if _, err := e.admin.UpdateAdvertiser(context.Background(), &batonv1.UpdateAdvertiserRequest{
		Advertiser: &batonv1.Advertiser{Id: app.DemoAdvertiserID, TrackingDomain: host}, UpdateMask: fieldMask("tracking_domain")}); err != nil {
		t.Fatal(err)
	}
	e.ownHost = "http://" + host
	v, convs, session := e.flow(t, "own-host", shopPage{}, true)
	own, _ := v.pixelRequests()
	if len(own) != 1 || !hasBatonCookie(own[0]) {
		t.Fatalf("image tag requests %q: want one, with Baton's cookie (first-party on the shop's site)", own)
	}
	for _, r := range v.Requests {
		if !strings.HasPrefix(r.URL, e.ownHost+"/") {
			t.Errorf("request %s is not on the shop's tracking host", r.URL)
		}
	}
	c := one(t, "own-host", convs)
	if c.GetPublisherId() != app.DemoPublisherID || c.GetUpstreamId() != session || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_COOKIE {
		t.Fatalf("conversion %v", c)
	}
	e.waitPostback(t, c.GetOrderId(), session)
}
