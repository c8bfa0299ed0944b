package baton

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TrackingLink returns the URL of tracking link linkID on the Baton at
// baseURL, e.g. "https://track.example.com/c/Ab3dE5?param1=...".
//
// subs are the sub-IDs sub1..sub5 to carry (the publisher's own IDs, e.g. a
// session ID); they travel as param1..param5, Baton's default names, and
// empty ones are left out. Only the first five are used. deepLink, when not
// empty, is sent as "jump" (FC2's name): a path, or a URL on one of the
// offer's deep-link hosts, to land on instead of the landing page. Values are
// URL-encoded.
//
// When the publisher or the offer names its sub-ID parameters differently,
// build the query with those names instead.
func TrackingLink(baseURL, linkID string, subs []string, deepLink string) string {
	q := url.Values{}
	for i, s := range subs {
		if i == 5 {
			break
		}
		if s != "" {
			q.Set("param"+strconv.Itoa(i+1), s)
		}
	}
	if deepLink != "" {
		q.Set("jump", deepLink)
	}
	u := strings.TrimRight(baseURL, "/") + "/c/" + url.PathEscape(linkID)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// FC2Fields are the FC2 image tag or server POST parameters that sh covers,
// exactly as they are sent. A parameter that is not sent is "".
type FC2Fields struct {
	ShopID    string // shopid
	UniqueID  string // unique_id: the order ID
	UName     string // uname
	Email     string // email
	AmountY   string // amount_y: amount in yen
	AmountD   string // amount_d: amount in dollars, e.g. "19.99"
	TS        string // ts: yyyymmddhhmmss, Japan time
	Recurring string // recurring: "0" or "1"
	ItemCode  string // item_code
	UnitNum   string // unit_num
}

// FC2SH returns the FC2 sh parameter for a tag: the lower-case hex SHA-1 of
// the shop password (the advertiser's secret) followed by shopid, unique_id,
// uname, email, amount_y, amount_d, ts, recurring, item_code and unit_num.
func FC2SH(password string, f FC2Fields) string {
	h := sha1.New()
	for _, s := range []string{password, f.ShopID, f.UniqueID, f.UName, f.Email, f.AmountY, f.AmountD, f.TS, f.Recurring, f.ItemCode, f.UnitNum} {
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FC2SHShort returns the short form of sh that FC2 also accepts: the first
// 16 characters of [FC2SH].
func FC2SHShort(password string, f FC2Fields) string {
	return FC2SH(password, f)[:16]
}

// DefaultWebhookTolerance is how far a webhook's timestamp may be from now
// when [VerifyWebhook] is given a zero tolerance (Standard Webhooks' advice).
const DefaultWebhookTolerance = 5 * time.Minute

var (
	// ErrWebhookSignature means a webhook is not signed with any of the
	// secrets: a signature header is missing, or no v1 signature matches.
	ErrWebhookSignature = errors.New("baton: webhook signature does not match")
	// ErrWebhookTimestamp means a webhook's timestamp is malformed or too
	// far from now: a replay, or a clock that is off.
	ErrWebhookTimestamp = errors.New("baton: webhook timestamp is malformed or outside the tolerance")
)

// VerifyWebhook checks a postback Baton sent with Standard Webhooks
// signatures (method POST_JSON), as its receiver sees it: h holds the
// headers webhook-id, webhook-timestamp and webhook-signature, and body is
// the request body, unmodified.
//
// secrets are the endpoint's signing secrets ("whsec_" and the base64 key;
// the prefix may be left out); pass the old and the new one while rotating.
// The signature is the HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>";
// the header lists space-separated "v1,<base64>" entries, and any entry
// matching any secret is accepted, compared in constant time. The timestamp
// must lie within tolerance of now; a zero tolerance means
// [DefaultWebhookTolerance] and a zero now means time.Now().
//
// It returns nil for an authentic webhook; an error wrapping
// [ErrWebhookSignature] or [ErrWebhookTimestamp] for one to refuse; and
// another error when secrets are malformed. Use the webhook-id to drop the
// duplicates that retries produce.
func VerifyWebhook(secrets []string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	keys, err := webhookKeys(secrets)
	if err != nil {
		return err
	}
	if tolerance < 0 {
		return errors.New("baton: negative webhook tolerance")
	}
	if tolerance == 0 {
		tolerance = DefaultWebhookTolerance
	}
	if now.IsZero() {
		now = time.Now()
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	for _, hv := range []struct{ name, value string }{{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sigs}} {
		if hv.value == "" {
			return fmt.Errorf("%w: no %s header", ErrWebhookSignature, hv.name)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not Unix seconds", ErrWebhookTimestamp, ts)
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: webhook-timestamp %s is %v from now, more than %v", ErrWebhookTimestamp, ts, skew.Round(time.Second), tolerance)
	}
	want := make([][]byte, len(keys))
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want[i] = m.Sum(nil)
	}
	match := false
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				match = true
			}
		}
	}
	if !match {
		return ErrWebhookSignature
	}
	return nil
}

// webhookKeys decodes Standard Webhooks secrets. Errors name a secret by
// its position, never by its value.
func webhookKeys(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, errors.New("baton: no webhook secrets")
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(k) == 0 {
			return nil, fmt.Errorf("baton: webhook secret %d is not \"whsec_\" followed by base64", i)
		}
		keys[i] = k
	}
	return keys, nil
}
