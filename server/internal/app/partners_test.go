package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/testwait"
)

// standIn is a local stand-in for a partner system's receiver: it checks
// each request the way the system's documentation says it does, answers
// 200 (with its answer text) or the status of the first problem, and keeps
// the problems for the test to report.
type standIn struct {
	*httptest.Server
	mu       sync.Mutex
	problems [][]string
	queries  []url.Values
}

// newStandIn serves check at every path; check returns the problems found
// and the status to answer with them.
func newStandIn(t testing.TB, answer string, check func(r *http.Request, q url.Values) (problems []string, status int)) *standIn {
	t.Helper()
	s := &standIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			q = r.PostForm
		}
		problems, status := check(r, q)
		for k, vs := range q {
			if len(vs) != 1 || vs[0] == "" {
				problems = append(problems, fmt.Sprintf("parameter %s arrived empty: %q", k, vs))
			}
		}
		s.mu.Lock()
		s.problems = append(s.problems, problems)
		s.queries = append(s.queries, q)
		s.mu.Unlock()
		if len(problems) > 0 && status == 0 {
			status = http.StatusBadRequest
		}
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer+strings.Join(problems, "; "))
	}))
	t.Cleanup(s.Close)
	return s
}

// wait polls until the stand-in got n requests.
func (s *standIn) wait(t testing.TB, n int) ([][]string, []url.Values) {
	t.Helper()
	var p [][]string
	var q []url.Values
	if !testwait.Poll(15*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		p, q = slices.Clone(s.problems), slices.Clone(s.queries)
		return len(p) >= n
	}) {
		t.Fatalf("the stand-in got %d requests, want %d", len(p), n)
	}
	return p, q
}

// want returns the problems of q against the wanted parameter values; a
// value "~re" is a regular expression.
func want(r *http.Request, method, path string, q url.Values, values map[string]string) []string {
	var p []string
	if r.Method != method {
		p = append(p, "method "+r.Method+", want "+method)
	}
	if r.URL.Path != path {
		p = append(p, "path "+r.URL.Path+", want "+path)
	}
	for k, v := range values {
		got := q.Get(k)
		if re, ok := strings.CutPrefix(v, "~"); ok {
			if !regexp.MustCompile("^(" + re + ")$").MatchString(got) {
				p = append(p, fmt.Sprintf("%s=%q does not match %s", k, got, re))
			}
		} else if got != v {
			p = append(p, fmt.Sprintf("%s=%q, want %q", k, got, v))
		}
	}
	return p
}

const decimal = `[0-9]+(\.[0-9]+)?`

// upstreamCase is one upstream preset with its stand-in: the inputs, the
// click's query (the partner's click ID first), and what the stand-in
// requires.
type upstreamCase struct {
	system string
	inputs func(base string) map[string]string
	click  string // query of the click, with %s for the partner's click ID
	check  func(r *http.Request, q url.Values, clickID, order string) []string
	answer string
}

var upstreamCases = []upstreamCase{
	{"baton", func(b string) map[string]string { return map[string]string{"base": b, "token": "tok-up"} }, "click_id=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/postback", q, map[string]string{"click_id": id, "transaction_id": "~clk_.+|[0-9A-Za-z_]+", "order_id": order,
				"amount": "1980", "currency": "JPY", "status": "~pending|approved|rejected|reversed", "token": "tok-up"})
		}, "OK"},
	{"affilicode", func(b string) map[string]string { return map[string]string{"base": b + "/ac/postback"} }, "pbid=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/ac/postback", q, map[string]string{"pbid": id, "amount": "1980", "order_id": order})
		}, "OK"},
	{"fc2", func(b string) map[string]string {
		return map[string]string{"base": b, "shop_id": "26", "password": "shop-pw"}
	},
		"aff_userid=%s&aff_siteid=4321",
		func(r *http.Request, q url.Values, id, order string) []string {
			p := want(r, "POST", "/tracking/tracking_post.php", q, map[string]string{"shopid": "26", "unique_id": order,
				"amount_y": "~[0-9]+", "ref_userid": id, "ref_siteid": "4321", "passwd": "shop-pw"})
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
				p = append(p, "content type "+ct)
			}
			return p
		}, "OK"},
	{"a8", func(b string) map[string]string { return map[string]string{"base": b, "program_id": "s00000000000001"} }, "a8=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/a8fly/earnings", q, map[string]string{"a8": id, "pid": "s00000000000001", "so": order,
				"si": `~` + decimal + `\.1\.` + decimal + `\.baton`})
		}, ""},
	{"everflow", func(b string) map[string]string { return map[string]string{"base": b, "network_id": "7"} }, "transaction_id=%s&sub1=aff-sub",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/", q, map[string]string{"nid": "7", "transaction_id": id, "amount": "~" + decimal, "order_id": order})
		}, ""},
	{"keitaro", func(b string) map[string]string { return map[string]string{"base": b, "postback_key": "k3y-9f2"} }, "subid=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/k3y-9f2/postback", q, map[string]string{"subid": id, "status": "~lead|sale|rejected|rebill",
				"payout": "~" + decimal, "currency": "~[A-Z]{3}", "tid": "~.+"})
		}, ""},
	{"voluum", func(b string) map[string]string { return map[string]string{"base": b} }, "cid=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/postback", q, map[string]string{"cid": id, "payout": "~" + decimal, "txid": order})
		}, ""},
	{"affise", func(b string) map[string]string { return map[string]string{"base": b, "secure": "s3cure"} }, "clickid=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/postback", q, map[string]string{"clickid": id, "action_id": order, "sum": "~" + decimal,
				"status": "~1|2|3|5", "secure": "s3cure"})
		}, ""},
	{"cake", func(b string) map[string]string { return map[string]string{"base": b, "offer": "11"} }, "reqid=%s",
		func(r *http.Request, q url.Values, id, order string) []string {
			return want(r, "GET", "/p.ashx", q, map[string]string{"o": "11", "e": "1", "f": "pb", "r": id, "t": order, "p": "~" + decimal})
		}, ""},
}

// TestUpstreamPresetsDeliverEveryVariable connects each upstream system
// from its preset (publisher and endpoints exactly as filled, but for the
// test flag the user turns on), clicks the tracking link as that system
// would, records a test conversion, and lets the system's stand-in check
// the postback.
func TestUpstreamPresetsDeliverEveryVariable(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	partners := batonv1connect.NewPartnerServiceClient(e.client, e.url, withKey(adminKey))
	list, err := partners.ListPartnerSystems(ctx, &batonv1.ListPartnerSystemsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	upstream := 0
	for _, s := range list.GetSystems() {
		if slices.Contains(s.GetRoles(), batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM) {
			upstream++
		}
	}
	if upstream != len(upstreamCases) {
		t.Errorf("%d upstream systems in the catalog, %d tested", upstream, len(upstreamCases))
	}
	for i, c := range upstreamCases {
		t.Run(c.system, func(t *testing.T) {
			partnerID := fmt.Sprintf("p-%s-%d", c.system, i)
			order := fmt.Sprintf("ORD-%s-%d", c.system, i)
			si := newStandIn(t, c.answer, func(r *http.Request, q url.Values) ([]string, int) {
				return c.check(r, q, partnerID, order), 0
			})
			pre, err := partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: c.system,
				Role: batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM, Inputs: c.inputs(si.URL)})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := e.clickEnv.admin.CreatePublisher(ctx, pre.GetPublisher())
			if err != nil {
				t.Fatal(err)
			}
			pubID := pub.GetPublisher().GetId()
			pre, err = partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: c.system,
				Role: batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM, Inputs: c.inputs(si.URL), PublisherId: pubID})
			if err != nil {
				t.Fatal(err)
			}
			for _, ep := range pre.GetEndpoints() {
				ep.Test = true
				if _, err := e.admin.CreatePostbackEndpoint(ctx, ep); err != nil {
					t.Fatalf("endpoint %v: %v", ep, err)
				}
			}
			l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: e.offer.GetId(), PublisherId: pubID})
			if err != nil {
				t.Fatal(err)
			}
			clickURL := l.GetLink().GetUrl() + "?" + fmt.Sprintf(c.click, partnerID)
			req, _ := http.NewRequest(http.MethodGet, clickURL, nil)
			req.Header.Set("User-Agent", browserUA)
			cres, err := noFollow(nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			cres.Body.Close()
			clickID := clickIDFrom(t, cres, "sid")
			if clickID == "" {
				t.Fatalf("click %s: %d %s", clickURL, cres.StatusCode, cres.Header.Get("Location"))
			}
			if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: clickID, OrderId: order, AmountJpy: yen(1980), Test: true}); err != nil {
				t.Fatal(err)
			}
			problems, queries := si.wait(t, 1)
			if len(problems[0]) > 0 {
				t.Errorf("%s's stand-in refused the postback: %v (got %v)", c.system, problems[0], queries[0])
			}
		})
	}
}

// TestDownstreamPresetsKickBackEveryVariable connects CATS (and another
// Baton) downstream from the preset: Baton's click reaches the stand-in's
// landing page with the click ID where the system reads it, and the
// stand-in converts by calling the kickback URL the preset wrote, rendered
// with the system's own variables.
func TestDownstreamPresetsKickBackEveryVariable(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	partners := batonv1connect.NewPartnerServiceClient(e.client, e.url, withKey(adminKey))
	conv := batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(adminKey))
	for _, system := range []string{"cats", "baton"} {
		t.Run(system, func(t *testing.T) {
			pre, err := partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: system, Role: batonv1.PartnerRole_PARTNER_ROLE_DOWNSTREAM})
			if err != nil {
				t.Fatal(err)
			}
			if pre.GetKickbackUrl() != "" {
				t.Errorf("a kickback URL before the network exists: %s", pre.GetKickbackUrl())
			}
			net, err := e.clickEnv.admin.CreateNetwork(ctx, pre.GetNetwork())
			if err != nil {
				t.Fatal(err)
			}
			pre, err = partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: system, Role: batonv1.PartnerRole_PARTNER_ROLE_DOWNSTREAM,
				NetworkId: net.GetNetwork().GetId(), Token: net.GetSecret()})
			if err != nil {
				t.Fatal(err)
			}
			param := pre.GetDownstream().GetClickIdParam()
			landed := make(chan string, 1)
			si := newStandIn(t, "ok", func(r *http.Request, q url.Values) ([]string, int) {
				if q.Get(param) == "" {
					return []string{"no " + param + " on the landing URL"}, 0
				}
				landed <- q.Get(param)
				return nil, 0
			})
			o, err := e.clickEnv.admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: system + " downstream",
				LandingUrl: si.URL + "/lp", Downstream: pre.GetDownstream(), Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}})
			if err != nil {
				t.Fatal(err)
			}
			l, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o.GetOffer().GetId(), PublisherId: app.DemoPublisherID})
			if err != nil {
				t.Fatal(err)
			}
			// The media's click, followed to the partner's landing page.
			creq, _ := http.NewRequest(http.MethodGet, l.GetLink().GetUrl()+"?param1=media-sess", nil)
			creq.Header.Set("User-Agent", browserUA)
			res, err := (&http.Client{Timeout: 10 * time.Second}).Do(creq)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			problems, _ := si.wait(t, 1)
			if len(problems[0]) > 0 {
				t.Fatalf("the landing page: %v", problems[0])
			}
			batonID := <-landed
			// The partner converts and renders the kickback URL with its
			// own values: ##PARA1## (or {sub1}) is what it received.
			kick, err := postback.Parse(pre.GetKickbackUrl())
			if err != nil {
				t.Fatal(err)
			}
			u := kick.Render(postback.Vars{"sub1": batonID, "click_id": "abcdefgh12345678", "order_id": "ORD-" + system, "amount": "1980",
				"currency": "JPY", "status": "pending"}, postback.URLComponent)
			pu, _ := url.Parse(u)
			for k, vs := range pu.Query() {
				if vs[0] == "" {
					t.Errorf("kickback parameter %s is empty: %s", k, u)
				}
			}
			kr, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(kr.Body)
			kr.Body.Close()
			if kr.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "OK" {
				t.Fatalf("kickback %s: %d %s", u, kr.StatusCode, body)
			}
			l2, err := conv.ListConversions(ctx, &batonv1.ListConversionsRequest{OfferId: o.GetOffer().GetId()})
			if err != nil || len(l2.GetConversions()) != 1 {
				t.Fatalf("conversions %v %v", l2, err)
			}
			cv := l2.GetConversions()[0]
			if cv.GetClickId() != batonID || cv.GetOrderId() != "ORD-"+system || cv.GetAmount().GetAmountMinor() != 1980 || cv.GetDownstreamId() != "abcdefgh12345678" {
				t.Errorf("conversion %v", cv)
			}
		})
	}
}

func TestPartnerHelpersRefuseByName(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()
	partners := batonv1connect.NewPartnerServiceClient(s.client, s.url, withKey(app.DemoPublisherKey))
	for _, c := range []struct {
		call func() error
		msg  string
	}{
		{func() error {
			_, err := partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: "nope", Role: batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM})
			return err
		}, `unknown partner system "nope"; known: baton, cats`},
		{func() error {
			_, err := partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: "keitaro", Role: batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM,
				Inputs: map[string]string{"base": "https://k.example"}})
			return err
		}, "input postback_key is required for Keitaro"},
		{func() error {
			_, err := partners.ConvertTemplate(ctx, &batonv1.ConvertTemplateRequest{Template: "https://m.example/?p={publisher_id}", To: batonv1.TemplateDialect_TEMPLATE_DIALECT_CATS})
			return err
		}, "{publisher_id} has no cats spelling"},
		{func() error {
			_, err := partners.ConvertTemplate(ctx, &batonv1.ConvertTemplateRequest{Template: "https://m.example/?p=#foo#", To: batonv1.TemplateDialect_TEMPLATE_DIALECT_BRACE})
			return err
		}, "unknown variable #foo#"},
		{func() error {
			_, err := partners.BuildMediaUrl(ctx, &batonv1.BuildMediaUrlRequest{ClickUrl: "not a url", SystemId: "keitaro"})
			return err
		}, "absolute http(s) URL"},
	} {
		err := c.call()
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v, want invalid_argument with %q", err, c.msg)
		}
	}
	conv, err := partners.ConvertTemplate(ctx, &batonv1.ConvertTemplateRequest{Template: "https://m.example/?s=##PARA1##&o=##CONTENT_UID1##", To: batonv1.TemplateDialect_TEMPLATE_DIALECT_CAKE})
	if err != nil || conv.GetTemplate() != "https://m.example/?s=#s1#&o=#leadid#" {
		t.Errorf("convert: %v %v", conv, err)
	}
	mu, err := partners.BuildMediaUrl(ctx, &batonv1.BuildMediaUrlRequest{ClickUrl: s.url + "/c/abc?x=%E3%81%82#top", SystemId: "keitaro"})
	if err != nil || mu.GetUrl() != s.url+"/c/abc?x=%E3%81%82&subid={subid}#top" || mu.GetNote() == "" {
		t.Errorf("media URL: %v %v", mu, err)
	}
	// Unknown template variables are still refused by name when a preset's
	// endpoint is changed before saving.
	pb := batonv1connect.NewPostbackServiceClient(s.client, s.url, withKey(app.DemoPublisherKey))
	pre, err := partners.GetPartnerPreset(ctx, &batonv1.GetPartnerPresetRequest{SystemId: "cake", Role: batonv1.PartnerRole_PARTNER_ROLE_UPSTREAM,
		Inputs: map[string]string{"base": "https://cake.example", "offer": "11"}})
	if err != nil {
		t.Fatal(err)
	}
	ep := pre.GetEndpoints()[0]
	ep.UrlTemplate += "&x=#sub9#"
	if _, err := pb.CreatePostbackEndpoint(ctx, ep); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "#sub9#") {
		t.Errorf("changed preset endpoint: %v", err)
	}
}
