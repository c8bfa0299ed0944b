package partners

import (
	"fmt"
	"net/url"
	"strings"
)

// AppendParam adds name=value to a click URL the way the CATS document
// says parameters are added to an ad URL: with '?' when the URL has none,
// with '&' when it has one ("入稿URLに「?」が含まれていない場合は「?」で繋ぎ、
// 「?」が含まれている場合は冒頭を「&」で繋いでください"). The rest of the URL is
// kept byte for byte: its query, its percent-encoded characters, and its
// fragment, which stays last. A URL already ending in '?' or '&' gets no
// second separator; a parameter already present (by its decoded name) has
// its value replaced in place. value is written as given: a partner's macro
// such as {clickid}, ##SID## or #reqid# must reach the partner unencoded
// for it to substitute.
func AppendParam(rawURL, name, value string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the click URL must be an absolute http(s) URL, not %q", rawURL)
	}
	if name == "" {
		return "", fmt.Errorf("no parameter name to add")
	}
	base, frag, hasFrag := strings.Cut(rawURL, "#")
	pair := url.QueryEscape(name) + "=" + value
	path, query, hasQuery := strings.Cut(base, "?")
	switch {
	case !hasQuery:
		base += "?" + pair
	default:
		parts := strings.Split(query, "&")
		replaced := false
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if dk, err := url.QueryUnescape(k); err == nil && dk == name && !replaced {
				parts[i], replaced = pair, true
			}
		}
		switch {
		case replaced:
			base = path + "?" + strings.Join(parts, "&")
		case query == "" || strings.HasSuffix(query, "&"):
			base += pair
		default:
			base += "&" + pair
		}
	}
	if hasFrag {
		base += "#" + frag
	}
	return base, nil
}

// MediaURL is the URL a media (or the upstream system's user) should use to
// send s's clicks to a Baton click URL: the click URL with s's click-ID
// parameter and macro appended (see [AppendParam]). note explains the
// result to the user; when s appends its ID itself (A8.net's a8, FC2's
// aff_userid), the URL is returned unchanged and note says so.
func MediaURL(clickURL string, s System) (out, note string, err error) {
	if !s.HasRole(Upstream) {
		return "", "", fmt.Errorf("%s does not send clicks to Baton (it is %s): give a system that does", s.Name, joinRoles(s.Roles))
	}
	if s.ClickIDMacro == "" {
		if _, err := AppendParam(clickURL, s.ClickIDParam, ""); err != nil {
			return "", "", err
		}
		return clickURL, fmt.Sprintf("%s adds %s to the URL itself: give the media this URL as it is.", s.Name, s.ClickIDParam), nil
	}
	out, err = AppendParam(clickURL, s.ClickIDParam, s.ClickIDMacro)
	if err != nil {
		return "", "", err
	}
	return out, fmt.Sprintf("%s replaces %s with its click ID; Baton keeps it as sub1 and sends it back in the postback.", s.Name, s.ClickIDMacro), nil
}
