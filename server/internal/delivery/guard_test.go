package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackOnly is installed as the guard's beforeConnect hook in every test
// that dials: should the guard wrongly admit an address, the test fails
// without a packet ever leaving loopback.
func loopbackOnly(t *testing.T) func(network, address string) error {
	return func(network, address string) error {
		ap, err := netip.ParseAddrPort(address)
		if err == nil && ap.Addr().Unmap().IsLoopback() {
			return nil
		}
		t.Errorf("guard admitted non-loopback %s %s", network, address)
		return errors.New("test refuses non-loopback address")
	}
}

func testGuard(t *testing.T, allow string) *Guard {
	t.Helper()
	prefixes, err := ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(prefixes)
	g.beforeConnect = loopbackOnly(t)
	return g
}

func TestGuardCheckBlocked(t *testing.T) {
	g := NewGuard(nil)
	for _, tc := range []struct{ ip, reason string }{
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.254", "private"},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf::1", "link-local"},
		{"100.64.0.1", "CGNAT"},
		{"100.127.255.254", "CGNAT"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this network"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"192.0.0.1", "IETF protocol assignment"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.254", "benchmarking"},
		{"fec0::1", "site-local"},
		{"::7f00:1", "IPv4-compatible"},
		{"64:ff9b:1::a00:1", "local-use NAT64"},
		// IPv4-mapped IPv6, judged as the IPv4 address.
		{"::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"},
		{"::ffff:10.0.0.1", "private (IPv4-mapped 10.0.0.1)"},
		{"::ffff:169.254.169.254", "link-local (IPv4-mapped 169.254.169.254)"},
		{"::ffff:0.0.0.0", "unspecified (IPv4-mapped 0.0.0.0)"},
		// NAT64 64:ff9b::/96, judged by the embedded IPv4 address.
		{"64:ff9b::a00:1", "private (NAT64 10.0.0.1)"},
		{"64:ff9b::7f00:1", "loopback (NAT64 127.0.0.1)"},
		{"64:ff9b::a9fe:a9fe", "link-local (NAT64 169.254.169.254)"},
		// 6to4 2002::/16, judged by the embedded IPv4 address.
		{"2002:7f00:1::", "loopback (6to4 127.0.0.1)"},
		{"2002:a9fe:a9fe::1", "link-local (6to4 169.254.169.254)"},
		{"2002:c0a8:101:5::7", "private (6to4 192.168.1.1)"},
	} {
		err := g.Check(netip.MustParseAddr(tc.ip))
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Check(%s) = %v, want ErrBlockedAddress", tc.ip, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.ip) || !strings.Contains(msg, tc.reason) {
			t.Errorf("Check(%s) = %q, want address and %q in it", tc.ip, msg, tc.reason)
		}
	}
	if err := g.Check(netip.Addr{}); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("Check(zero Addr) = %v, want ErrBlockedAddress", err)
	}
	var nilGuard *Guard
	if err := nilGuard.Check(netip.MustParseAddr("127.0.0.1")); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("nil Guard Check(127.0.0.1) = %v, want ErrBlockedAddress", err)
	}
}

// Check only: these are never dialled.
func TestGuardCheckAllowed(t *testing.T) {
	g := NewGuard(nil)
	for _, ip := range []string{
		"8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111",
		"203.0.113.5", "192.0.2.1", "198.51.100.7", "2001:db8::1", // documentation
		"172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1",
		"169.253.255.255", "198.17.255.255", "198.20.0.1", "192.0.1.1", "223.255.255.255",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	} {
		if err := g.Check(netip.MustParseAddr(ip)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", ip, err)
		}
	}
}

func TestGuardCheckAllowList(t *testing.T) {
	g := NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	for _, ip := range []string{"127.0.0.1", "::ffff:127.0.0.1"} {
		if err := g.Check(netip.MustParseAddr(ip)); err != nil {
			t.Errorf("Check(%s) with 127.0.0.1 allowed = %v, want nil", ip, err)
		}
	}
	for _, ip := range []string{"127.0.0.2", "::1", "10.0.0.1", "169.254.169.254", "0.0.0.0", "192.168.0.1", "fe80::1"} {
		if err := g.Check(netip.MustParseAddr(ip)); !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Check(%s) with 127.0.0.1 allowed = %v, want ErrBlockedAddress", ip, err)
		}
	}

	g = NewGuard([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/64")})
	for _, ip := range []string{"10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::a01:203", "fe80::1%eth0"} {
		if err := g.Check(netip.MustParseAddr(ip)); err != nil {
			t.Errorf("Check(%s) with 10/8 allowed = %v, want nil", ip, err)
		}
	}
}

func TestGuardParseAllowList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []netip.Prefix
	}{
		{"", nil},
		{"   ", nil},
		{" , ", nil},
		{"127.0.0.0/8, ::1/128, 10.1.2.3", []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.2.3/32")}},
		{"::1", []netip.Prefix{netip.MustParsePrefix("::1/128")}},
		{"10.1.2.3/8,192.168.0.0/16\tfd00::/8\n", []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd00::/8")}},
	} {
		got, err := ParseAllowList(tc.in)
		if err != nil {
			t.Errorf("ParseAllowList(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAllowList(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{
		"localhost", "127.0.0.0/33", "::1/129", "10.0.0.256", "10.0.0.0/", "/8",
		"127.0.0.1, nonsense", "fe80::1%eth0", "fe80::/64%eth0", "10.0.0.0/-1", "1.2.3.4:80",
	} {
		if got, err := ParseAllowList(in); err == nil {
			t.Errorf("ParseAllowList(%q) = %v, want error", in, got)
		}
	}
}

func okServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestGuardClientLoopback(t *testing.T) {
	srv, hits := okServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	byIP := srv.URL
	byName := fmt.Sprintf("http://localhost:%d/", port)

	blocked := testGuard(t, "").Client(5*time.Second, 3)
	for _, u := range []string{byIP, byName} {
		_, err := get(blocked, u)
		if !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("GET %s without allow list: err = %v, want ErrBlockedAddress", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("server saw %d requests through a blocking guard", n)
	}

	allowed := testGuard(t, "127.0.0.0/8, ::1/128").Client(5*time.Second, 3)
	for _, u := range []string{byIP, byName} {
		body, err := get(allowed, u)
		if err != nil || body != "ok" {
			t.Errorf("GET %s with allow list = %q, %v; want ok", u, body, err)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

// TestGuardDialNoConnect shows the refusal happens before connect(2): the
// listener never sees a connection.
func TestGuardDialNoConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := testGuard(t, "")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, addr := range []string{ln.Addr().String(), net.JoinHostPort("localhost", port)} {
		conn, err := g.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			t.Fatalf("DialContext(%s) succeeded", addr)
		}
		var opErr *net.OpError
		if !errors.Is(err, ErrBlockedAddress) || !errors.As(err, &opErr) {
			t.Errorf("DialContext(%s) = %v (%T), want *net.OpError wrapping ErrBlockedAddress", addr, err, err)
		}
	}
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("listener accepted a connection the guard refused")
	}

	if _, err := g.DialContext(context.Background(), "unix", "/tmp/whatever.sock"); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("DialContext(unix) = %v, want ErrBlockedAddress", err)
	}

	ok := testGuard(t, "127.0.0.1")
	conn, err := ok.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	conn.Close()
}

func redirectServer(t *testing.T, target string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGuardRedirectToMetadata(t *testing.T) {
	a := redirectServer(t, "http://169.254.169.254/latest/meta-data/")
	c := testGuard(t, "127.0.0.0/8").Client(5*time.Second, 5)
	start := time.Now()
	_, err := get(c, a.URL)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("redirect to 169.254.169.254: err = %v, want ErrBlockedAddress", err)
	}
	if !strings.Contains(err.Error(), "169.254.169.254") {
		t.Errorf("error %q does not name the address", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v; the control hook should refuse before connecting", d)
	}
}

func TestGuardRedirectToIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	var hits atomic.Int32
	b := &httptest.Server{
		Listener: ln,
		Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			_, _ = io.WriteString(w, "ok")
		})},
	}
	b.Start()
	defer b.Close()
	a := redirectServer(t, b.URL+"/")

	// Only IPv4 loopback allowed: the hop to [::1] is refused.
	c := testGuard(t, "127.0.0.0/8").Client(5*time.Second, 5)
	if _, err := get(c, a.URL); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("redirect to %s: err = %v, want ErrBlockedAddress", b.URL, err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("[::1] server saw %d requests", n)
	}

	// Both allowed: the redirect is followed.
	c = testGuard(t, "127.0.0.0/8,::1/128").Client(5*time.Second, 5)
	if body, err := get(c, a.URL); err != nil || body != "ok" {
		t.Fatalf("redirect with ::1 allowed = %q, %v; want ok", body, err)
	}
}

func TestGuardRedirectLimit(t *testing.T) {
	// /n redirects to /n-1; /0 answers "ok". Following /n takes n redirects.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n == 0 {
			_, _ = io.WriteString(w, "ok")
			return
		}
		http.Redirect(w, r, "/"+strconv.Itoa(n-1), http.StatusFound)
	}))
	defer srv.Close()

	g := testGuard(t, "127.0.0.1")
	c := g.Client(5*time.Second, 3)
	if body, err := get(c, srv.URL+"/3"); err != nil || body != "ok" {
		t.Errorf("3 redirects with limit 3 = %q, %v; want ok", body, err)
	}
	_, err := get(c, srv.URL+"/4")
	if err == nil || !strings.Contains(err.Error(), "stopped after 3 redirects") {
		t.Errorf("4 redirects with limit 3: err = %v, want \"stopped after 3 redirects\"", err)
	}
	if errors.Is(err, ErrBlockedAddress) {
		t.Errorf("redirect limit error wraps ErrBlockedAddress: %v", err)
	}

	c = g.Client(5*time.Second, 0)
	if body, err := get(c, srv.URL+"/0"); err != nil || body != "ok" {
		t.Errorf("no redirect with limit 0 = %q, %v; want ok", body, err)
	}
	if _, err := get(c, srv.URL+"/1"); err == nil || !strings.Contains(err.Error(), "stopped after 0 redirects") {
		t.Errorf("1 redirect with limit 0: err = %v, want \"stopped after 0 redirects\"", err)
	}
}

func TestGuardClientConfig(t *testing.T) {
	c := NewGuard(nil).Client(7*time.Second, 2)
	if c.Timeout != 7*time.Second {
		t.Errorf("Timeout = %v", c.Timeout)
	}
	if c.Jar != nil {
		t.Error("client has a cookie jar")
	}
	if c.CheckRedirect == nil {
		t.Error("no CheckRedirect")
	}
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("transport uses a proxy")
	}
	if tr.DialContext == nil || tr.DialTLSContext != nil || tr.Dial != nil || tr.DialTLS != nil { //nolint:staticcheck // Dial and DialTLS are deprecated, and exactly what must stay unset
		t.Error("transport must dial only through the guard's DialContext")
	}
	if tr.TLSHandshakeTimeout != 10*time.Second || tr.ResponseHeaderTimeout != 7*time.Second ||
		tr.MaxIdleConnsPerHost != 64 || tr.IdleConnTimeout != 90*time.Second || !tr.ForceAttemptHTTP2 {
		t.Errorf("transport settings: TLSHandshakeTimeout %v ResponseHeaderTimeout %v MaxIdleConnsPerHost %d IdleConnTimeout %v ForceAttemptHTTP2 %v",
			tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tr.ForceAttemptHTTP2)
	}
}
