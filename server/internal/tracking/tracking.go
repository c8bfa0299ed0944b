// Package tracking holds the pure rules of a click: where the person is
// sent (landing URL plus downstream IDs, or a deep link that stays on the
// offer's hosts), how incoming sub-IDs are cleaned, and which user agents are
// bots. Standard library only.
package tracking

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSubIDBytes is the longest sub-ID kept; longer values are cut.
const MaxSubIDBytes = 255

// Param is one query parameter to pass downstream.
type Param struct{ Name, Value string }

// AppendParams adds params to rawURL's query, keeping the other query bytes
// and the fragment untouched: "?" when there is no query yet, "&" otherwise.
// A parameter of the same name already in the URL is removed first: a deep
// link is chosen by whoever wrote the click URL, and "jump=/x?sid=forged"
// must not put a forged click ID before Baton's for the many servers that
// read the first value.
func AppendParams(rawURL string, params []Param) string {
	if len(params) == 0 {
		return rawURL
	}
	base, frag, hasFrag := strings.Cut(rawURL, "#")
	base = dropParams(base, params)
	var b strings.Builder
	b.Grow(len(rawURL) + 32*len(params))
	b.WriteString(base)
	sep := byte('&')
	switch {
	case !strings.Contains(base, "?"):
		sep = '?'
	case strings.HasSuffix(base, "?"), strings.HasSuffix(base, "&"):
		sep = 0
	}
	for _, p := range params {
		if sep != 0 {
			b.WriteByte(sep)
		}
		sep = '&'
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(frag)
	}
	return b.String()
}

// dropParams removes from base's query every pair whose name (as decoded)
// is one of params' names, keeping the other pairs byte for byte.
func dropParams(base string, params []Param) string {
	path, query, ok := strings.Cut(base, "?")
	if !ok || query == "" {
		return base
	}
	pairs := strings.Split(query, "&")
	kept := pairs[:0]
	for _, pair := range pairs {
		name, _, _ := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		drop := false
		for _, p := range params {
			drop = drop || name == p.Name
		}
		if !drop {
			kept = append(kept, pair)
		}
	}
	return path + "?" + strings.Join(kept, "&")
}

// ErrDeepLinkRefused means a deep link would leave the offer's hosts, or is
// malformed in a way that could.
var ErrDeepLinkRefused = errors.New("deep link refused: it must be a path or a URL on the offer's allowed hosts")

// ResolveDeepLink returns the absolute URL a deep link (FC2's jump) points
// at, or ErrDeepLinkRefused. A target is either an absolute path ("/abc"),
// resolved against the landing URL's scheme and host, or an absolute http(s)
// URL whose host is the landing host or one of allowedHosts ("shop.example",
// "*.shop.example", optionally with ":port"). Everything that browsers might
// read as another host is refused: protocol-relative "//host", backslashes,
// userinfo ("good@evil"), control characters and spaces, percent-encoded or
// non-ASCII host names, any other scheme, http when the landing URL is
// https, and targets over 2,048 bytes.
func ResolveDeepLink(target, landingURL string, allowedHosts []string) (string, error) {
	if target == "" || len(target) > 2048 {
		return "", ErrDeepLinkRefused
	}
	for _, r := range target {
		// Browsers treat "\" as "/" and strip tabs and newlines anywhere in a
		// URL, so any of them can turn a path into a host.
		if r == '\\' || r <= ' ' || r == 0x7f || r > unicode.MaxASCII {
			return "", ErrDeepLinkRefused
		}
	}
	landing, err := url.Parse(landingURL)
	if err != nil || landing.Host == "" {
		return "", ErrDeepLinkRefused
	}
	if strings.HasPrefix(target, "/") {
		if strings.HasPrefix(target, "//") {
			return "", ErrDeepLinkRefused
		}
		u, err := url.Parse(target)
		if err != nil || u.Host != "" || u.Scheme != "" || u.User != nil {
			return "", ErrDeepLinkRefused
		}
		u.Scheme, u.Host = landing.Scheme, landing.Host
		return u.String(), nil
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", ErrDeepLinkRefused
	}
	if strings.ContainsAny(u.Host, "%@[]") || strings.Contains(target[len(u.Scheme)+3:], "@") {
		return "", ErrDeepLinkRefused
	}
	if !hostAllowed(u, landing, allowedHosts) {
		return "", ErrDeepLinkRefused
	}
	// An https offer stays https: an http deep link would send the person
	// (and the click ID) in clear.
	if landing.Scheme == "https" && u.Scheme != "https" {
		return "", ErrDeepLinkRefused
	}
	return u.String(), nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

func splitHostPort(u *url.URL) (host, port string) {
	host, port = strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return host, port
}

func hostAllowed(u, landing *url.URL, allowed []string) bool {
	host, port := splitHostPort(u)
	if host == "" || net.ParseIP(host) != nil && !strings.EqualFold(host, landing.Hostname()) {
		return false
	}
	lh, lp := splitHostPort(landing)
	if host == lh && port == lp {
		return true
	}
	for _, a := range allowed {
		a = strings.ToLower(a)
		ah, ap, hasPort := strings.Cut(a, ":")
		if !hasPort {
			ap = defaultPort(u.Scheme)
		}
		if ap != port {
			continue
		}
		if suffix, ok := strings.CutPrefix(ah, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if host == ah {
			return true
		}
	}
	return false
}

// SubIDFlags reports what SanitizeSubID changed.
type SubIDFlags struct {
	Truncated bool // longer than MaxSubIDBytes: cut
	Malformed bool // invalid UTF-8 or control characters: removed
}

// SanitizeSubID makes an incoming sub-ID safe to store and to pass on: it
// removes invalid UTF-8 and control characters and cuts it to MaxSubIDBytes
// on a character boundary. A person is never refused over a sub-ID.
func SanitizeSubID(v string) (string, SubIDFlags) {
	var f SubIDFlags
	clean := v
	if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		f.Malformed = true
		var b strings.Builder
		for i := 0; i < len(v); {
			r, size := utf8.DecodeRuneInString(v[i:])
			i += size
			if (r == utf8.RuneError && size == 1) || unicode.IsControl(r) {
				continue
			}
			b.WriteRune(r)
		}
		clean = b.String()
	}
	if len(clean) > MaxSubIDBytes {
		f.Truncated = true
		cut := MaxSubIDBytes
		for cut > 0 && !utf8.RuneStart(clean[cut]) {
			cut--
		}
		clean = clean[:cut]
	}
	return clean, f
}

// botMarkers are lower-case substrings of the user agents of crawlers,
// link previewers and monitors. A click from one is recorded and flagged,
// never counted as unique nor attributed.
var botMarkers = []string{
	"bot", "crawl", "spider", "slurp", "facebookexternalhit", "mediapartners-google",
	"adsbot", "bingpreview", "embedly", "quora link preview", "pinterest", "ia_archiver",
	"python-requests", "go-http-client", "wget", "curl/", "httpclient", "okhttp", "scrapy",
	"phantomjs", "lighthouse", "pingdom", "uptimerobot", "monitor",
}

// IsBot reports whether ua belongs to an automated client: an empty user
// agent (browsers always send one), one of botMarkers (a quick substring
// test that catches most bots), or a match in the crawler-user-agents list
// (see bots.go; one precompiled regexp and a cache of answers).
func IsBot(ua string) bool {
	if strings.TrimSpace(ua) == "" {
		return true
	}
	l := strings.ToLower(ua)
	for _, m := range botMarkers {
		if strings.Contains(l, m) {
			return true
		}
	}
	return bots.listed(ua, l)
}
