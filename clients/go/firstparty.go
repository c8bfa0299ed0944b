package baton

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ClickIDCookie is the first-party cookie, on the shop's own site, that
// keeps Baton's click ID from the landing page to the checkout. Baton's
// first-party tag (t.js) uses the same name and format, so a shop may use
// either or both.
const ClickIDCookie = "baton_cid"

// clickIDForm is the form of Baton's click IDs: 29 characters of lower-case
// Crockford base32.
var clickIDForm = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{29}$`)

// IsClickID reports whether s has the form of a Baton click ID.
func IsClickID(s string) bool { return clickIDForm.MatchString(s) }

// KeepClickID is for the shop's landing page handler: when the request's
// URL carries a Baton click ID in param (the offer's click ID parameter,
// "sid" when empty), it sets ClickIDCookie on the shop's own site for
// window (the offer's attribution window; 30 days when zero) and returns the
// ID. A cookie set by the shop's server (an HTTP Set-Cookie, not a script)
// is not shortened by Safari's 7-day cap on script-written cookies.
//
// Call it before writing the response body. It sets Secure when the request
// came over TLS (r.TLS, or X-Forwarded-Proto: https from your own proxy).
func KeepClickID(w http.ResponseWriter, r *http.Request, param string, window time.Duration) string {
	if param == "" {
		param = "sid"
	}
	if window <= 0 {
		window = 30 * 24 * time.Hour
	}
	id := r.URL.Query().Get(param)
	if !IsClickID(id) {
		return ""
	}
	expires := time.Now().Add(window)
	http.SetCookie(w, &http.Cookie{
		Name:     ClickIDCookie,
		Value:    id + "." + strconv.FormatInt(expires.UnixMilli(), 10),
		Path:     "/",
		MaxAge:   int(window / time.Second),
		Expires:  expires,
		Secure:   r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
		SameSite: http.SameSiteLaxMode,
	})
	return id
}

// KeptClickID is for the shop's checkout: the click ID that KeepClickID (or
// t.js) kept in the request's cookies, or "" when there is none or its
// window has ended. Report it with the sale, as click_id in the FC2 POST
// (FC2PostForm's extra parameters) or as the click ID of RecordConversion.
func KeptClickID(r *http.Request) string {
	c, err := r.Cookie(ClickIDCookie)
	if err != nil {
		return ""
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	id, exp, ok := strings.Cut(v, ".")
	if !IsClickID(id) {
		return ""
	}
	if ok {
		ms, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || time.Now().UnixMilli() >= ms {
			return ""
		}
	}
	return id
}
