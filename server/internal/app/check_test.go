package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/proof"
)

// TestIntegrationCheckFindsEachFault runs the check against a partner
// stand-in whose receiver lives at /pb and takes token=good and the click
// ID in cid: a correct endpoint passes every hop; a wrong path, a wrong
// token and a template in the wrong dialect each fail their hop with the
// fix to make.
func TestIntegrationCheckFindsEachFault(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	si := newStandIn(t, "", func(r *http.Request, q url.Values) ([]string, int) {
		switch {
		case r.URL.Path != "/pb":
			return []string{"no such page"}, http.StatusNotFound
		case q.Get("token") != "good":
			return []string{"bad token"}, http.StatusForbidden
		case !strings.HasPrefix(q.Get("cid"), "batoncheck"):
			return []string{"unknown click " + q.Get("cid")}, http.StatusBadRequest
		}
		return nil, 0
	})
	check := batonv1connect.NewPartnerServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	cases := []struct {
		name, tmpl string
		failing    string // the hop that fails, with the fix; empty: none
		also       string // a hop that may fail as a consequence
		fix        []string
	}{
		{"correct", si.URL + "/pb?cid={sub1}&token=good&o={order_id}", "", "", nil},
		{"wrong path", si.URL + "/postback?cid={sub1}&token=good", "postback_answered", "", []string{"the partner answered 404: check the endpoint path"}},
		{"wrong token", si.URL + "/pb?cid={sub1}&token=bad", "postback_answered", "", []string{"check the token"}},
		// CATS variables in lower case are literal text (and their '#'
		// starts a fragment, so the partner gets neither cid nor token).
		{"dialect mismatch", si.URL + "/pb?cid=##para1##&token=good", "postback_rendered", "postback_answered",
			[]string{"##para1## is sent as text", "(write ##PARA1##)", "dialect table", "starts a fragment"}},
		// Another system's macro for the click ID, pasted from its documentation.
		{"partner's own macro", si.URL + "/pb?cid=${SUBID}&token=good", "postback_rendered", "postback_answered",
			[]string{"${SUBID} is sent as text", "(write {sub1})"}},
	}
	lost := 0
	for _, c := range cases {
		ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: c.tmpl})
		res, err := check.CheckIntegration(ctx, &batonv1.CheckIntegrationRequest{EndpointId: ep.GetId()})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, h := range res.GetHops() {
			t.Logf("%s: %s ok=%v: %s%s", c.name, h.GetName(), h.GetOk(), h.GetDetail(), map[bool]string{true: "", false: " => " + h.GetFix()}[h.GetOk()])
		}
		names := map[string]*batonv1.CheckHop{}
		for _, h := range res.GetHops() {
			names[h.GetName()] = h
		}
		for _, n := range []string{"redirect", "click_ids", "postback_rendered", "postback_answered"} {
			h := names[n]
			if h == nil {
				t.Errorf("%s: no %s hop in %v", c.name, n, res.GetHops())
				lost++
				continue
			}
			if n == c.also && !h.GetOk() {
				continue
			}
			if h.GetOk() == (n == c.failing) || (h.GetOk() && h.GetFix() != "") {
				t.Errorf("%s: hop %s ok=%v: %s / %s", c.name, n, h.GetOk(), h.GetDetail(), h.GetFix())
				lost++
			}
		}
		if res.GetOk() != (c.failing == "") || res.GetClickId() == "" || len(res.GetConversionIds()) != 1 {
			t.Errorf("%s: ok=%v click %q conversions %v", c.name, res.GetOk(), res.GetClickId(), res.GetConversionIds())
			lost++
		}
		if c.failing != "" {
			for _, f := range c.fix {
				if !strings.Contains(names[c.failing].GetFix(), f) {
					t.Errorf("%s: fix %q does not say %q", c.name, names[c.failing].GetFix(), f)
					lost++
				}
			}
		}
		// The secret token is not shown back in the report's text beyond
		// the endpoint's own (masked) attempt URL.
		for _, h := range res.GetHops() {
			if strings.Contains(h.GetDetail(), "with body") {
				t.Errorf("%s: the report shows a rendered body: %s", c.name, h.GetDetail())
			}
		}
	}
	// The test conversions are test conversions: never paid or counted.
	adminConv := batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(adminKey))
	l, err := adminConv.ListConversions(ctx, &batonv1.ListConversionsRequest{IncludeTest: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, cv := range l.GetConversions() {
		if !cv.GetTest() || cv.GetCommission().GetAmountMinor() != 0 {
			t.Errorf("a check's conversion is not a free test conversion: %v", cv)
			lost++
		}
	}
	if n, _ := adminConv.ListConversions(ctx, &batonv1.ListConversionsRequest{}); len(n.GetConversions()) != 0 {
		t.Errorf("check conversions are listed as real ones: %v", n.GetConversions())
		lost++
	}
	// Another publisher's key may not check this one.
	other := batonv1connect.NewPartnerServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	if _, err := other.CheckIntegration(ctx, &batonv1.CheckIntegrationRequest{PublisherId: app.DemoPublisherID}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("an advertiser key checked a publisher: %v", err)
		lost++
	}
	proof.Tally(t, "fault: integration check (path, token, dialect)", len(cases)+2, lost,
		"each faulty endpoint fails exactly its hop with the fix to make; check conversions stay free test conversions")
}

// TestIntegrationCheckOfADownstreamNetwork follows a link of an offer that
// sends clicks to a network: the redirect must carry Baton's click ID where
// the network reads it, and the network's click URL must answer.
func TestIntegrationCheckOfADownstreamNetwork(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	ctx := context.Background()
	si := newStandIn(t, "", func(r *http.Request, q url.Values) ([]string, int) {
		if r.URL.Path != "/click" {
			return []string{"no such page"}, http.StatusNotFound
		}
		if q.Get("param1") == "" {
			return []string{"no param1"}, http.StatusBadRequest
		}
		return nil, 0
	})
	check := batonv1connect.NewPartnerServiceClient(e.client, e.url, withKey(adminKey))
	lost := 0
	for _, c := range []struct {
		name, landing string
		fix           string
	}{
		{"correct", si.URL + "/click", ""},
		{"wrong landing path", si.URL + "/clk", "the network answered 404: check the offer's landing URL"},
	} {
		net, err := e.clickEnv.admin.CreateNetwork(ctx, &batonv1.CreateNetworkRequest{Name: "cats " + c.name})
		if err != nil {
			t.Fatal(err)
		}
		id := net.GetNetwork().GetId()
		res, err := check.CheckIntegration(ctx, &batonv1.CheckIntegrationRequest{NetworkId: id})
		if err != nil || res.GetOk() || len(res.GetHops()) != 1 || !strings.Contains(res.GetHops()[0].GetFix(), "set an offer's downstream.network_id") {
			t.Errorf("%s, no offer yet: %v %v", c.name, res, err)
			lost++
		}
		o, err := e.clickEnv.admin.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: c.name, LandingUrl: c.landing,
			Downstream: &batonv1.DownstreamLink{ClickIdParam: "param1", NetworkId: id}, Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o.GetOffer().GetId(), PublisherId: app.DemoPublisherID}); err != nil {
			t.Fatal(err)
		}
		res, err = check.CheckIntegration(ctx, &batonv1.CheckIntegrationRequest{NetworkId: id})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range res.GetHops() {
			t.Logf("%s: %s ok=%v: %s %s", c.name, h.GetName(), h.GetOk(), h.GetDetail(), h.GetFix())
			names = append(names, h.GetName())
		}
		if strings.Join(names, ",") != "redirect,click_ids,partner_click" || !res.GetHops()[0].GetOk() || !res.GetHops()[1].GetOk() {
			t.Errorf("%s: hops %v", c.name, res.GetHops())
			lost++
			continue
		}
		last := res.GetHops()[2]
		if res.GetOk() != (c.fix == "") || last.GetOk() != (c.fix == "") || !strings.Contains(last.GetFix(), c.fix) {
			t.Errorf("%s: ok=%v, partner hop %v", c.name, res.GetOk(), last)
			lost++
		}
	}
	// A publisher key may not check a network.
	pub := batonv1connect.NewPartnerServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	if _, err := pub.CheckIntegration(ctx, &batonv1.CheckIntegrationRequest{NetworkId: "net_x"}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a publisher checked a network: %v", err)
		lost++
	}
	proof.Tally(t, "fault: integration check of a downstream network", 5, lost,
		"no offer, a wrong landing path: each told with its fix; only admins check networks")
}
