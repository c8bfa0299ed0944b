package tracking

import (
	"strings"
	"testing"
)

func TestAppendParams(t *testing.T) {
	t.Parallel()
	sid := []Param{{"sid", "abc123"}}
	for _, tc := range []struct{ in, want string }{
		{"https://shop.example/lp", "https://shop.example/lp?sid=abc123"},
		{"https://shop.example/lp?", "https://shop.example/lp?sid=abc123"},
		{"https://shop.example/lp?utm_source=aff", "https://shop.example/lp?utm_source=aff&sid=abc123"},
		{"https://shop.example/lp?a=1&", "https://shop.example/lp?a=1&sid=abc123"},
		{"https://shop.example/lp#top", "https://shop.example/lp?sid=abc123#top"},
		{"https://shop.example/lp?a=1#x?y", "https://shop.example/lp?a=1&sid=abc123#x?y"},
		{"https://shop.example/lp?q=%E3%81%82+b", "https://shop.example/lp?q=%E3%81%82+b&sid=abc123"},
		// The same name already there (a forged one in a deep link) is dropped.
		{"https://shop.example/lp?sid=forged", "https://shop.example/lp?sid=abc123"},
		{"https://shop.example/lp?sid=forged&a=1&sid&sidx=2", "https://shop.example/lp?a=1&sidx=2&sid=abc123"},
		{"https://shop.example/lp?%73id=forged&b=2#f", "https://shop.example/lp?b=2&sid=abc123#f"},
	} {
		if got := AppendParams(tc.in, sid); got != tc.want {
			t.Errorf("AppendParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := AppendParams("https://shop.example/", []Param{{"aff_userid", "1000"}, {"aff_siteid", "7"}, {"param1", "a b&c=d/é"}})
	if want := "https://shop.example/?aff_userid=1000&aff_siteid=7&param1=a+b%26c%3Dd%2F%C3%A9"; got != want {
		t.Errorf("encoding: %q, want %q", got, want)
	}
}

func TestResolveDeepLinkAllows(t *testing.T) {
	t.Parallel()
	const landing = "https://shop.example/lp?x=1"
	hosts := []string{"cdn.shop.example", "*.campaign.example", "staging.shop.example:8443"}
	for _, tc := range []struct{ in, want string }{
		{"/abc/def.html", "https://shop.example/abc/def.html"},
		{"/", "https://shop.example/"},
		{"/p?id=3#r", "https://shop.example/p?id=3#r"},
		{"/%2F%2Fevil.example", "https://shop.example/%2F%2Fevil.example"},
		{"https://shop.example/sale", "https://shop.example/sale"},
		{"https://SHOP.example./sale", "https://SHOP.example./sale"},
		{"https://a.b.campaign.example/x", "https://a.b.campaign.example/x"},
		{"https://staging.shop.example:8443/x", "https://staging.shop.example:8443/x"},
	} {
		got, err := ResolveDeepLink(tc.in, landing, hosts)
		if err != nil || got != tc.want {
			t.Errorf("ResolveDeepLink(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// An http offer may deep-link to http and to https; an https one only
	// to https (no downgrade).
	for _, in := range []string{"http://cdn.shop.example/x", "https://cdn.shop.example/x"} {
		if got, err := ResolveDeepLink(in, "http://shop.example/lp", hosts); err != nil || got != in {
			t.Errorf("from an http offer, ResolveDeepLink(%q) = %q, %v", in, got, err)
		}
	}
	if got, err := ResolveDeepLink("http://cdn.shop.example/x", landing, hosts); err == nil {
		t.Errorf("from an https offer, the http deep link was allowed: %q", got)
	}
}

// TestResolveDeepLinkRefusesOpenRedirects lists the tricks used to turn an
// allow-listed redirect into an open one.
func TestResolveDeepLinkRefusesOpenRedirects(t *testing.T) {
	t.Parallel()
	const landing = "https://shop.example/lp"
	hosts := []string{"*.campaign.example"}
	for _, in := range []string{
		"https://evil.example/",
		"//evil.example/",
		"///evil.example/",
		"/\\evil.example/",
		"\\\\evil.example",
		"/\t/evil.example",
		"/\n/evil.example",
		" https://evil.example",
		"https://shop.example@evil.example/",
		"https://user:pw@shop.example/",
		"https://evil.example#@shop.example",
		"https://evil.example?@shop.example",
		"https://shop.example.evil.example/",
		"https://evilshop.example/",
		"https://campaign.example/", // the wildcard needs a subdomain
		"https://x.campaign.example.evil.example/",
		"https://shop%2eexample/",
		"https://evil.example%2f@shop.example/",
		"https://shop.example:444/",
		"javascript:alert(1)",
		"JaVaScRiPt:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"ftp://shop.example/",
		"https:evil.example",
		"https:/evil.example",
		"relative/path",
		"https://ｅｖｉｌ.example/",
		"https://127.0.0.1/",
		"https://[::1]/",
		"",
		"/" + strings.Repeat("a", 3000),
	} {
		if got, err := ResolveDeepLink(in, landing, hosts); err == nil {
			t.Errorf("ResolveDeepLink(%q) = %q, want refused", in, got)
		}
	}
}

func TestSanitizeSubID(t *testing.T) {
	t.Parallel()
	if got, f := SanitizeSubID("abc_123-XYZ"); got != "abc_123-XYZ" || f.Truncated || f.Malformed {
		t.Errorf("clean value changed: %q %+v", got, f)
	}
	if got, f := SanitizeSubID("a\x00b\nc\xffd"); got != "abcd" || !f.Malformed {
		t.Errorf("malformed: %q %+v", got, f)
	}
	long := strings.Repeat("あ", 100) // 300 bytes
	got, f := SanitizeSubID(long)
	if !f.Truncated || len(got) > MaxSubIDBytes || len(got)%3 != 0 || !strings.HasPrefix(long, got) {
		t.Errorf("truncated to %d bytes (%+v): must cut on a character boundary", len(got), f)
	}
}

func TestIsBot(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": true,
		"facebookexternalhit/1.1": true,
		"curl/8.5.0":              true,
		"":                        true,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari": false,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":       false,
	} {
		if got := IsBot(ua); got != want {
			t.Errorf("IsBot(%q) = %v, want %v", ua, got, want)
		}
	}
}
