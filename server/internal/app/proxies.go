package app

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// forwarded makes requests that came through a trusted load balancer look
// as they did at the balancer: RemoteAddr becomes the client's address
// (so every handler, the click log, attribution by IP, bot and repeat
// checks, FC2's registered hosts and the RPC peer all see the client) and
// URL.Scheme the scheme it was reached by. The client is the right-most
// address in Forwarded (preferred) or X-Forwarded-For that is not itself a
// trusted proxy: addresses to its left were written by the client and
// prove nothing. From any other peer the forwarding headers are removed,
// so nothing downstream can read a forged one. With no trusted proxies
// only the removal happens.
func forwarded(trusted []netip.Prefix, next http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := addrOf(r.RemoteAddr)
		if ok && isTrusted(peer) {
			hops, proto, valid := forwardedHops(r.Header)
			if valid && len(hops) > 0 {
				client := hops[0]
				for i := len(hops) - 1; i >= 0; i-- {
					client = hops[i]
					if !isTrusted(hops[i]) {
						break
					}
				}
				r.RemoteAddr = net.JoinHostPort(client.Unmap().String(), "0")
			}
			// The scheme stands on its own: a TLS-terminating proxy may
			// say https without naming the client.
			if valid && (proto == "http" || proto == "https") {
				r.URL.Scheme = proto
			}
		}
		for _, h := range [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip"} {
			r.Header.Del(h)
		}
		next.ServeHTTP(w, r)
	})
}

// addrOf parses the address of a host:port.
func addrOf(hostport string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr(), true
}

// forwardedHops returns the chain of client addresses, left to right, and
// the right-most protocol, from Forwarded (RFC 7239) or else
// X-Forwarded-For and X-Forwarded-Proto. valid is false when an entry is
// not an address (an obfuscated or garbled hop): then the chain cannot be
// followed and the peer is kept.
func forwardedHops(h http.Header) (hops []netip.Addr, proto string, valid bool) {
	if fw := h.Values("Forwarded"); len(fw) > 0 {
		for _, elem := range strings.Split(strings.Join(fw, ","), ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				v = strings.Trim(strings.TrimSpace(v), `"`)
				switch strings.ToLower(k) {
				case "for":
					a, ok := parseHop(v)
					if !ok {
						return nil, "", false
					}
					hops = append(hops, a)
				case "proto":
					proto = strings.ToLower(v)
				}
			}
		}
		return hops, proto, true
	}
	for _, v := range strings.Split(strings.Join(h.Values("X-Forwarded-For"), ","), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		a, ok := parseHop(v)
		if !ok {
			return nil, "", false
		}
		hops = append(hops, a)
	}
	if p := h.Values("X-Forwarded-Proto"); len(p) > 0 {
		parts := strings.Split(p[len(p)-1], ",")
		proto = strings.ToLower(strings.TrimSpace(parts[len(parts)-1]))
	}
	return hops, proto, true
}

// parseHop parses 203.0.113.7, 203.0.113.7:4711, 2001:db8::1 or
// [2001:db8::1]:4711.
func parseHop(v string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(v); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")); err == nil {
		return a, true
	}
	return netip.Addr{}, false
}
