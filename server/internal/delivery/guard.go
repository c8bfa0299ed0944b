package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// ErrBlockedAddress is wrapped by errors from connections the guard refused.
var ErrBlockedAddress = errors.New("blocked address")

// Guard refuses outbound connections to addresses a partner-supplied URL
// must never reach: loopback, private (RFC 1918, IPv6 ULA fc00::/7),
// link-local (169.254.0.0/16, fe80::/10 — this includes cloud metadata
// 169.254.169.254), CGNAT 100.64.0.0/10, unspecified (0.0.0.0, ::),
// multicast, broadcast 255.255.255.255, 0.0.0.0/8, 192.0.0.0/24,
// 198.18.0.0/15, the reserved 240.0.0.0/4, deprecated IPv6 site-local
// fec0::/10 and IPv4-compatible ::/96, and local-use NAT64 64:ff9b:1::/48.
// Documentation ranges are allowed (they are unroutable anyway).
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address, NAT64
// 64:ff9b::/96 and 6to4 2002::/16 by their embedded IPv4 address.
//
// An address inside one of the allow-listed prefixes (for tests and private
// networks) is let through whatever its range; for a mapped, NAT64 or 6to4
// address either the address itself or its embedded IPv4 address may match.
//
// A Guard is immutable and safe for concurrent use; a nil *Guard behaves
// like one with an empty allow list.
type Guard struct {
	allow []netip.Prefix

	// beforeConnect, when set (tests only), is called from the dialer's
	// control hook for every address the guard has admitted, just before
	// connect(2); a non-nil error aborts the attempt.
	beforeConnect func(network, address string) error
}

// NewGuard returns a Guard that blocks the ranges documented on Guard
// except for addresses inside allow. The slice is copied.
func NewGuard(allow []netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allow {
		if p.IsValid() {
			g.allow = append(g.allow, p.Masked())
		}
	}
	return g
}

// ParseAllowList parses a list of prefixes separated by commas and/or
// white space, such as "127.0.0.0/8, ::1/128, 10.1.2.3". A bare address
// becomes a /32 or /128 prefix; a prefix with host bits set is masked
// ("10.1.2.3/8" is 10.0.0.0/8). Addresses with an IPv6 zone are rejected.
// An empty or blank string yields nil.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	var out []netip.Prefix
	for _, f := range fields {
		var p netip.Prefix
		if strings.Contains(f, "/") {
			var err error
			if p, err = netip.ParsePrefix(f); err != nil {
				return nil, fmt.Errorf("delivery: allow list entry %q: %w", f, err)
			}
			p = p.Masked()
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("delivery: allow list entry %q: %w", f, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("delivery: allow list entry %q: zones are not allowed", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// Order matters: the first match names the reason.
var blockedV4 = []blockedRange{
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (0.0.0.0/8)`},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
}

var blockedV6 = []blockedRange{
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6 (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourNet = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address ip stands for, if it is IPv4-mapped,
// NAT64 (64:ff9b::/96) or 6to4 (2002::/16), with the kind of embedding.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	switch {
	case ip.Is4In6():
		return ip.Unmap(), "IPv4-mapped", true
	case nat64Prefix.Contains(ip):
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFourNet.Contains(ip):
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

func classify(ip netip.Addr) string {
	table := blockedV6
	if ip.Is4() {
		table = blockedV4
	}
	for _, r := range table {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

func (g *Guard) allowed(ip netip.Addr) bool {
	if g == nil {
		return false
	}
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Check says whether ip may be dialled: nil if so, otherwise an error that
// wraps ErrBlockedAddress and names the address and the reason, such as
// "blocked address: ::ffff:127.0.0.1 is loopback (IPv4-mapped 127.0.0.1)".
// An invalid (zero) address is blocked; an IPv6 zone is ignored.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlockedAddress)
	}
	bare := ip.WithZone("") // netip.Prefix.Contains never matches a zoned address
	judged, kind, embedded := embeddedIPv4(bare)
	if !embedded {
		judged = bare
	}
	if g.allowed(bare) || (embedded && g.allowed(judged)) {
		return nil
	}
	reason := classify(judged)
	if reason == "" {
		return nil
	}
	if embedded {
		return fmt.Errorf("%w: %s is %s (%s %s)", ErrBlockedAddress, ip, reason, kind, judged)
	}
	return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, ip, reason)
}

// control is the net.Dialer ControlContext hook: it runs after name
// resolution, for each address attempted, before connect(2), so nothing is
// sent to an address the guard refuses.
func (g *Guard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dial address %q: %w", ErrBlockedAddress, address, err)
	}
	if err := g.Check(ap.Addr()); err != nil {
		return err
	}
	if g != nil && g.beforeConnect != nil {
		return g.beforeConnect(network, address)
	}
	return nil
}

// DialContext dials like net.Dialer.DialContext (30s connect timeout, 30s
// TCP keep-alive) but checks the address actually connected to, after DNS
// resolution, for every attempt, so a host name that resolves (or rebinds)
// to a blocked address cannot slip through. Only the tcp and udp networks
// are permitted. A refusal is a *net.OpError whose error wraps
// ErrBlockedAddress.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: fmt.Errorf("%w: network %q is not permitted", ErrBlockedAddress, network)}
	}
	d := &net.Dialer{
		Timeout:        30 * time.Second,
		KeepAlive:      30 * time.Second,
		ControlContext: g.control,
	}
	return d.DialContext(ctx, network, addr)
}

// NoRedirects makes c answer a redirect with the redirect itself, never
// following it: a 307 or 308 would send the postback's body, signature and
// custom headers (API keys) on to wherever the receiver points, and any
// redirect adds a Referer holding the URL's tokens. Svix does the same.
func NoRedirects(c *http.Client) *http.Client {
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Client returns an *http.Client whose every connection, including those
// for redirect targets, is dialled through the guard. It has the given total
// timeout (0: none) and follows at most maxRedirects redirects (negative
// counts as 0); one more fails the request with "stopped after N redirects".
// It uses no proxy (not even from the environment) and no cookie jar; its
// transport has a 10s TLS handshake timeout, a response header timeout equal
// to timeout, keep-alive pooling (MaxIdleConnsPerHost 64, IdleConnTimeout
// 90s) and ForceAttemptHTTP2.
func (g *Guard) Client(timeout time.Duration, maxRedirects int) *http.Client {
	if maxRedirects < 0 {
		maxRedirects = 0
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: 1 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
}
