package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/app"
)

// TestCheckCommand runs `baton check` against a running Baton (a separate
// process) whose partner receiver lives at /pb.
func TestCheckCommand(t *testing.T) {
	h := newHop(t, "check", "BATON_DEMO=true")
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pb" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("OK"))
	}))
	t.Cleanup(partner.Close)
	ctx := context.Background()
	o, err := h.config.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "check", LandingUrl: "https://shop.example/lp",
		Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}, Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.clicks.CreateTrackingLink(ctx, &batonv1.CreateTrackingLinkRequest{OfferId: o.GetOffer().GetId(), PublisherId: app.DemoPublisherID})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(chainAdminKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		code int
		says []string
	}{
		{"/pb", 0, []string{"ok   redirect:", "ok   click_ids:", "ok   postback_rendered", "ok   postback_answered", "every hop passed: ready to go live"}},
		{"/wrong", 1, []string{"FAIL postback_answered", "     fix: the partner answered 404: check the endpoint path", "not ready"}},
	} {
		ep, err := h.pb.CreatePostbackEndpoint(ctx, &batonv1.CreatePostbackEndpointRequest{PublisherId: app.DemoPublisherID,
			Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}, Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET,
			UrlTemplate: partner.URL + c.path + "?cid={sub1}"})
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := run([]string{"check", "--url", "http://" + h.addr, "--key-file", keyFile, "--publisher", app.DemoPublisherID,
			"--link", l.GetLink().GetId(), "--endpoint", ep.GetEndpoint().GetId()}, &out, &errOut)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.path, code, c.code, out.String(), errOut.String())
		}
		for _, s := range c.says {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: output does not say %q:\n%s", c.path, s, out.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "--url", "http://" + h.addr}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "an API key is required") {
		t.Errorf("no key: exit %d, %s", code, errOut.String())
	}
}
