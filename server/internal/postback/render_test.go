package postback

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

var renderNow = time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)

var renderConv = domain.Conversion{
	ID: "cv_7", ClickID: "clk_1", OfferID: "off_1", AdvertiserID: "adv_1", PublisherID: "pub_1", OrderID: "ORD/1",
	Amount: domain.Money{Currency: "JPY", Minor: 1980}, Commission: domain.Money{Currency: "USD", Minor: 1250},
	SubIDs: []string{"a b", "café"}, SaleAt: renderNow.Add(-time.Hour),
}

const (
	apiKey    = "sk_live_a/b+c&d=e"
	headerKey = "hdr-Secret-Value-99"
)

var renderSecrets = []domain.EndpointSecret{
	{Name: "api_key", Value: apiKey},
	{Name: "TOKEN2", Value: "tok2-VALUE"},
	{Name: "X-Api-Key", Header: true, Value: headerKey},
}

var renderCases = []struct {
	name string
	ep   domain.PostbackEndpoint
}{
	{"get_secret_query", domain.PostbackEndpoint{Method: domain.MethodGet, Secrets: renderSecrets,
		URLTemplate: "https://u:p@media.example/pb/{offer_id}?c={click_id}&k={secret:api_key}&t=##SECRET:TOKEN2##&token=literal&amt={amount}"}},
	{"get_signed", domain.PostbackEndpoint{Method: domain.MethodGet, Secrets: renderSecrets, SignatureParam: "sig",
		URLTemplate: "https://media.example/pb?c={click_id}&k={secret:api_key}#frag"}},
	{"form_body", domain.PostbackEndpoint{Method: domain.MethodPostForm, Secrets: renderSecrets,
		URLTemplate: "https://media.example/pb", BodyTemplate: "click={click_id}&key={secret:api_key}&sub1={sub1}",
		Headers: []domain.Header{{Name: "authorization", Value: "Bearer {secret:TOKEN2}"}}}},
	{"json_template", domain.PostbackEndpoint{Method: domain.MethodPostJSON, Secrets: renderSecrets,
		URLTemplate: "https://media.example/hook", BodyTemplate: `{"click":"{click_id}","key":"{secret:api_key}","amount":{amount}}`}},
	{"json_standard", domain.PostbackEndpoint{Method: domain.MethodPostJSON, URLTemplate: "https://media.example/hook"}},
}

func requestText(r Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL)
	fmt.Fprintf(&b, "masked: %s\n", r.MaskedURL)
	for _, h := range r.Headers() {
		fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
	}
	fmt.Fprintf(&b, "\n%s\n", r.Body)
	return b.String()
}

// TestRenderGolden renders each endpoint as sent (sealed secrets in place,
// encoded for their context) and as a dry run shows it (masked), against
// golden files in testdata/render.
func TestRenderGolden(t *testing.T) {
	d := domain.Delivery{ID: "dlv_1", Event: domain.StatusApproved}
	d.Vars = EventVars(renderConv, d.Event, d.ID, renderNow)
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			sent, err := Render(c.ep, d, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, renderNow)
			if err != nil {
				t.Fatal(err)
			}
			shown, err := RenderMasked(c.ep, d, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, renderNow)
			if err != nil {
				t.Fatal(err)
			}
			got := "-- sent --\n" + requestText(sent) + "-- shown --\n" + requestText(shown)
			for _, s := range c.ep.Secrets {
				for _, text := range []string{sent.MaskedURL, requestText(shown)} {
					if strings.Contains(text, s.Value) || strings.Contains(text, strings.ReplaceAll(s.Value, "/", "%2F")) {
						t.Errorf("secret %s shown: %s", s.Name, text)
					}
				}
			}
			checkGolden(t, filepath.Join("testdata", "render", c.name+".golden"), got)
		})
	}
}

// checkGolden compares got with the golden file at path, or (with -update)
// writes it.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update and review the diff)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestUnknownSecretsAreRefusedByName(t *testing.T) {
	for _, c := range []struct {
		tmpl  string
		known []string
		want  string
	}{
		{"https://x.example/?k={secret:api_key}", nil, "unknown secret {secret:api_key} at offset 21; this endpoint holds no secrets"},
		{"https://x.example/?k=##SECRET:Api##", []string{"api_key", "b"}, "unknown secret ##SECRET:Api## at offset 21; this endpoint's secrets: api_key, b"},
	} {
		_, err := ParseSecret(c.tmpl, c.known)
		var us *UnknownSecretError
		if !errors.As(err, &us) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSecret(%q): %v, want %q", c.tmpl, err, c.want)
		}
	}
	// An unknown variable after a secret keeps its offset in the template.
	_, err := ParseSecret("{secret:k}&x={foo}", []string{"k"})
	var uv *UnknownVariableError
	if !errors.As(err, &uv) || uv.Offset != 13 || uv.Name != "{foo}" {
		t.Errorf("unknown variable after a secret: %#v", err)
	}
	// Look-alikes stay literal text, as before secrets existed.
	for _, lit := range []string{"{secret:}", "{secret:9a}", "{secret:a-b}", "##SECRET:a#", "{Secret:a}", "{secret:a"} {
		tp, err := ParseSecret(lit, nil)
		if err != nil || tp.Render(nil, nil, Raw) != lit || len(tp.Secrets()) != 0 {
			t.Errorf("ParseSecret(%q) = %v; want literal text", lit, err)
		}
	}
	tp, err := ParseSecret("{secret:a}{click_id}##SECRET:b##{secret:a}##SID##", []string{"a", "b"})
	if err != nil || !slices.Equal(tp.Secrets(), []string{"a", "b"}) || !slices.Equal(tp.Variables(), []string{"click_id"}) {
		t.Fatalf("secrets %v, variables %v, err %v", tp.Secrets(), tp.Variables(), err)
	}
}

func TestScrubberMasksEveryEncoding(t *testing.T) {
	s := NewScrubber(apiKey, "abc") // too short to scrub safely: left alone
	for _, text := range []string{
		"raw " + apiKey,
		"url sk_live_a%2Fb%2Bc%26d%3De",
		"form sk_live_a%2Fb%2Bc%26d%3De",
		`json "sk_live_a/b+c\u0026d=e"`,
	} {
		if got := s.Scrub(text); strings.Contains(got, "sk_live") || !strings.Contains(got, MaskValue) {
			t.Errorf("Scrub(%q) = %q", text, got)
		}
	}
	if got := s.Scrub("abcdef"); got != "abcdef" {
		t.Errorf("a short value was scrubbed: %q", got)
	}
	if got := (Scrubber{}).Scrub("x"); got != "x" {
		t.Errorf("zero Scrubber: %q", got)
	}
}

func TestMaskAndHostPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@m.example/pb?a=1&token=t&Sig=s&k=v": "https://xxxxx@m.example/pb?a=1&token=xxxxx&Sig=xxxxx&k=xxxxx",
		"https://m.example/pb":                           "https://m.example/pb",
		"::":                                             "(unparsable URL)",
		// Parameters in a fragment (single-page receivers) are masked too.
		"https://m.example/pb#token=t&a=1":   "https://m.example/pb#token=xxxxx&a=1",
		"https://m.example/app#/cb?k=v&b=2":  "https://m.example/app#/cb?k=xxxxx&b=2",
		"https://m.example/pb?a=1#section-2": "https://m.example/pb?a=1#section-2",
	} {
		if got := Mask(in, "k"); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"https://u:p@m.example/pb/x?a=1&k=secret#f": "https://m.example/pb/x",
		"http://m.example":                          "http://m.example",
		"(unparsable URL)":                          "(hidden)",
	} {
		if got := HostPath(in); got != want {
			t.Errorf("HostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEventVars(t *testing.T) {
	v := EventVars(renderConv, domain.StatusApproved, "dlv_1", renderNow)
	want := map[string]string{
		"amount": "1980", "amount_minor": "1980", "currency": "JPY", "commission": "12.50", "commission_minor": "1250",
		"commission_currency": "USD", "status": "approved", "event": "approved", "sub1": "a b", "sub2": "café", "sub3": "",
		"delivery_id": "dlv_1", "timestamp": "1740798000", "event_time": "2025-03-01T03:00:00Z", "sale_time": "2025-03-01T02:00:00Z",
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q", k, v[k], w)
		}
	}
	for _, k := range Known {
		if _, ok := v[k]; !ok {
			t.Errorf("EventVars has no %s", k)
		}
	}
}
