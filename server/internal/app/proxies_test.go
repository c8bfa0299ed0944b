package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// fromAddr is an HTTP client whose connections come from local, a loopback
// address of its own (Linux routes all of 127.0.0.0/8 to lo).
func fromAddr(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestTrustedProxies: behind a load balancer (127.0.0.1, listed in
// BATON_TRUSTED_PROXIES) a click records the client address the balancer
// forwards (the right-most hop it does not trust); the same headers sent by
// a peer that is not a trusted proxy (127.0.0.2) are ignored.
func TestTrustedProxies(t *testing.T) {
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}}, func(c *config.Config) { c.TrustedProxies = "127.0.0.1/32, 10.0.0.0/8" })
	trusted, untrusted := fromAddr("127.0.0.1"), fromAddr("127.0.0.2")
	cases := []struct {
		name   string
		client *http.Client
		header map[string]string
		want   string
	}{
		{"trusted, X-Forwarded-For", trusted, map[string]string{"X-Forwarded-For": "203.0.113.7"}, "203.0.113.7"},
		{"trusted, a forged hop left of the client", trusted, map[string]string{"X-Forwarded-For": "198.51.100.66, 203.0.113.8, 10.1.2.3"}, "203.0.113.8"},
		{"trusted, Forwarded", trusted, map[string]string{"Forwarded": `for="[2001:db8::9]:4711";proto=https, for=10.9.9.9`}, "2001:db8::9"},
		{"trusted, no header", trusted, nil, "127.0.0.1"},
		{"trusted, garbage", trusted, map[string]string{"X-Forwarded-For": "not-an-ip"}, "127.0.0.1"},
		{"untrusted, X-Forwarded-For", untrusted, map[string]string{"X-Forwarded-For": "203.0.113.9"}, "127.0.0.2"},
		{"untrusted, Forwarded", untrusted, map[string]string{"Forwarded": "for=203.0.113.10"}, "127.0.0.2"},
		{"untrusted, X-Real-IP", untrusted, map[string]string{"X-Real-IP": "203.0.113.11"}, "127.0.0.2"},
	}
	conn, err := pgx.Connect(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tried, lost := 0, 0
	for i, c := range cases {
		tried++
		sub := fmt.Sprintf("proxy-%d", i)
		req, _ := http.NewRequest(http.MethodGet, e.link.GetUrl()+"?param1="+sub, nil)
		req.Header.Set("User-Agent", browserUA)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		res, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Fatalf("%s: %d", c.name, res.StatusCode)
		}
		var ip string
		testwait.Poll(5*time.Second, func() bool {
			err = conn.QueryRow(context.Background(), `SELECT host(ip) FROM clicks WHERE upstream_id = $1`, sub).Scan(&ip)
			return err == nil
		})
		if err != nil || ip != c.want {
			lost++
			t.Errorf("%s: click recorded from %q (%v), want %s", c.name, ip, err, c.want)
		}
	}
	proof.Tally(t, "hostile: forged X-Forwarded-For / Forwarded", tried, lost,
		fmt.Sprintf("%d clicks: through a trusted proxy the right-most untrusted hop is recorded; from an untrusted peer the headers are ignored", len(cases)))
}
