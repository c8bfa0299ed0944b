package tracking

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzResolveDeepLink: whatever the target, a resolved deep link is an
// absolute http(s) URL whose host is the landing host or an allowed one —
// never anywhere else — and nothing panics.
func FuzzResolveDeepLink(f *testing.F) {
	for _, s := range []string{"/abc", "//evil.example", "/\\evil.example", "https://shop.example@evil.example/",
		"https://cdn.shop.example/x", "https://a.campaign.example/", "javascript:alert(1)", "/%2F%2Fevil", "https:evil", "\t/x"} {
		f.Add(s)
	}
	allowed := []string{"cdn.shop.example", "*.campaign.example"}
	f.Fuzz(func(t *testing.T, target string) {
		got, err := ResolveDeepLink(target, "https://shop.example/lp", allowed)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			t.Fatalf("ResolveDeepLink(%q) = %q: not a plain http(s) URL", target, got)
		}
		h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if h != "shop.example" && h != "cdn.shop.example" && !strings.HasSuffix(h, ".campaign.example") {
			t.Fatalf("ResolveDeepLink(%q) = %q: host %q is off the allowed hosts", target, got, h)
		}
		for _, bad := range []string{"\\", "\t", "\n", "\r", " "} {
			if strings.Contains(got, bad) {
				t.Fatalf("ResolveDeepLink(%q) = %q contains %q", target, got, bad)
			}
		}
	})
}

// FuzzSanitizeSubID: the result is valid UTF-8, has no control
// characters, fits MaxSubIDBytes and is flagged whenever it changed.
func FuzzSanitizeSubID(f *testing.F) {
	for _, s := range []string{"abc", "a\x00b", "\xff\xfe", strings.Repeat("あ", 120), "media-session-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, flags := SanitizeSubID(in)
		if !utf8.ValidString(out) || len(out) > MaxSubIDBytes || strings.ContainsAny(out, "\x00\r\n\x1f") {
			t.Fatalf("SanitizeSubID(%q) = %q", in, out)
		}
		if out != in && !flags.Truncated && !flags.Malformed {
			t.Fatalf("SanitizeSubID(%q) changed the value without a flag", in)
		}
		// Appending it to a landing URL keeps the URL parseable and the value intact.
		u, err := url.Parse(AppendParams("https://shop.example/lp?a=1#f", []Param{{"param1", out}}))
		if err != nil || u.Query().Get("param1") != out || u.Fragment != "f" {
			t.Fatalf("AppendParams with %q: %v %v", out, u, err)
		}
	})
}
