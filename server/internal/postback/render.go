package postback

import (
	"encoding/json"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// Request is a rendered postback, ready to send: what the delivery worker
// sends and what a dry run shows.
type Request struct {
	Method string
	URL    string
	// MaskedURL is URL for the attempt log: sealed secrets, userinfo, the
	// signature parameter and sensitive-looking query values masked.
	MaskedURL string
	// Header holds canonical names (as net/http would send them).
	Header textproto.MIMEHeader
	Body   []byte
	// Scrubber masks this request's secret values in any text.
	Scrubber Scrubber
}

// Headers lists the request's headers sorted by name, one entry a value.
func (r Request) Headers() []domain.Header {
	var out []domain.Header
	for name, vals := range r.Header {
		for _, v := range vals {
			out = append(out, domain.Header{Name: name, Value: v})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Render builds the HTTP request of a delivery: the URL template rendered
// with URL-encoded values (plus a signature parameter when the endpoint asks
// for one), headers (the templated ones, then the sealed secret headers),
// and the body (form-encoded, or JSON signed with Standard Webhooks
// headers). signing are the endpoint's signing secrets (current first); the
// endpoint's sealed secrets are taken from ep.Secrets.
func Render(ep domain.PostbackEndpoint, d domain.Delivery, signing []string, now time.Time) (Request, error) {
	values := map[string]string{}
	var all []string
	for _, s := range ep.Secrets {
		if !s.Header {
			values[s.Name] = s.Value
		}
		all = append(all, s.Value)
	}
	r, err := render(ep, d, signing, now, values, false)
	if err != nil {
		return Request{}, err
	}
	masked, err := render(ep, d, signing, now, maskedValues(ep), true)
	if err != nil {
		return Request{}, err
	}
	r.MaskedURL = Mask(masked.URL, ep.SignatureParam)
	r.Scrubber = NewScrubber(all...)
	return r, nil
}

// RenderMasked renders like Render but with every sealed secret (in the
// templates and the secret headers) shown as MaskValue: the request a dry
// run or a test answer may show. The signature is computed over the masked
// request.
func RenderMasked(ep domain.PostbackEndpoint, d domain.Delivery, signing []string, now time.Time) (Request, error) {
	r, err := render(ep, d, signing, now, maskedValues(ep), true)
	if err != nil {
		return Request{}, err
	}
	r.MaskedURL = Mask(r.URL, ep.SignatureParam)
	return r, nil
}

func maskedValues(ep domain.PostbackEndpoint) map[string]string {
	m := map[string]string{}
	for _, s := range ep.Secrets {
		if !s.Header {
			m[s.Name] = MaskValue
		}
	}
	return m
}

func render(ep domain.PostbackEndpoint, d domain.Delivery, signing []string, now time.Time, secrets map[string]string, masked bool) (Request, error) {
	names := domain.SecretNames(ep.Secrets)
	parse := func(s string) (*SecretTemplate, error) { return ParseSecret(s, names) }
	ut, err := parse(ep.URLTemplate)
	if err != nil {
		return Request{}, err
	}
	r := Request{Method: "GET", URL: ut.Render(d.Vars, secrets, URLComponent), Header: textproto.MIMEHeader{}}
	switch ep.Method {
	case domain.MethodPostForm:
		bt, err := parse(ep.BodyTemplate)
		if err != nil {
			return Request{}, err
		}
		r.Method, r.Body = "POST", []byte(bt.Render(d.Vars, secrets, Form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case domain.MethodPostJSON:
		r.Method = "POST"
		if ep.BodyTemplate != "" {
			bt, err := parse(ep.BodyTemplate)
			if err != nil {
				return Request{}, err
			}
			r.Body = []byte(bt.Render(d.Vars, secrets, JSON))
		} else {
			doc := map[string]any{"type": "conversion." + string(d.Event), "timestamp": now.UTC().Format(time.RFC3339), "data": d.Vars}
			r.Body, _ = json.Marshal(doc) //nolint:errcheck // strings and a map of strings always marshal
		}
		r.Header.Set("Content-Type", "application/json")
		sig, err := Sign(signing, d.ID, now, r.Body)
		if err != nil {
			return Request{}, err
		}
		r.Header.Set("webhook-id", d.ID)
		r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		r.Header.Set("webhook-signature", sig)
	}
	if ep.SignatureParam != "" && len(signing) > 0 {
		_, query, _ := strings.Cut(r.URL, "?")
		query, frag, hasFrag := strings.Cut(query, "#")
		sep := "?"
		if strings.Contains(r.URL, "?") {
			sep = "&"
		}
		base := strings.SplitN(r.URL, "#", 2)[0]
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
		r.URL = base + sep + url.QueryEscape(ep.SignatureParam) + "=" + SignQuery(signing[0], query)
		if hasFrag {
			r.URL += "#" + frag
		}
	}
	for _, h := range ep.Headers {
		ht, err := parse(h.Value)
		if err != nil {
			return Request{}, err
		}
		r.Header.Set(h.Name, ht.Render(d.Vars, secrets, Raw))
	}
	for _, s := range ep.Secrets {
		if !s.Header {
			continue
		}
		v := s.Value
		if masked {
			v = MaskValue
		}
		var b strings.Builder
		encode(&b, v, Raw)
		r.Header.Set(s.Name, b.String())
	}
	r.Header.Set("User-Agent", "Baton-Postback/1")
	r.Header.Set("X-Baton-Delivery", d.ID)
	return r, nil
}

// sensitiveParams are query parameters whose values are masked in attempt
// logs whatever their origin.
var sensitiveParams = []string{"token", "secret", "key", "password", "passwd", "sig", "signature", "sh", "api_key", "apikey"}

// Mask hides the userinfo and the values of secret-looking query parameters
// (and of extra names) in a URL, for the attempt log.
func Mask(raw string, extra ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User(MaskValue)
	}
	names := append(sensitiveParams[:len(sensitiveParams):len(sensitiveParams)], extra...)
	if u.RawQuery != "" {
		u.RawQuery = maskParams(u.RawQuery, names)
	}
	// A single-page receiver may take its parameters in the fragment
	// ("#token=..." or "#/path?token=...").
	if f := u.EscapedFragment(); strings.Contains(f, "=") {
		head, params := "", f
		if i := strings.IndexByte(f, '?'); i >= 0 {
			head, params = f[:i+1], f[i+1:]
		}
		if masked := head + maskParams(params, names); masked != f {
			frag, err := url.PathUnescape(masked)
			if err != nil {
				return "(unparsable URL)"
			}
			u.Fragment, u.RawFragment = frag, masked
		}
	}
	return u.String()
}

// maskParams masks the values of the names in an &-separated list of
// name=value pairs, keeping everything else as it is.
func maskParams(raw string, names []string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		n, _ := url.QueryUnescape(name) //nolint:errcheck // a name that does not unescape is compared as it is
		n = strings.ToLower(n)
		for _, s := range names {
			if n == strings.ToLower(s) {
				parts[i] = name + "=" + MaskValue
				break
			}
		}
	}
	return strings.Join(parts, "&")
}

// HostPath is what someone who does not own an endpoint may see of an
// attempt's URL: scheme, host and path, without userinfo, query or
// fragment (where a partner's parameters and secrets are).
func HostPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(hidden)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}
