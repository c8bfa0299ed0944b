package postback

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestKnown(t *testing.T) {
	want := []string{
		"click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "amount", "amount_minor", "currency", "order_id", "order_id_2",
		"status", "event", "commission", "commission_minor", "commission_currency", "offer_id", "advertiser_id",
		"publisher_id", "site_id", "conversion_id", "delivery_id", "upstream_id", "downstream_id", "buyer_user_name",
		"event_time", "sale_time", "timestamp",
	}
	slices.Sort(want)
	if !slices.Equal(Known, want) {
		t.Errorf("Known = %q\nwant    %q", Known, want)
	}
	for _, n := range Known {
		tp, err := Parse("{" + n + "}")
		if err != nil {
			t.Errorf("Parse({%s}): %v", n, err)
			continue
		}
		if got := tp.Render(Vars{n: "x y"}, URLComponent); got != "x%20y" {
			t.Errorf("{%s} rendered %q", n, got)
		}
	}
}

func TestCATSNames(t *testing.T) {
	want := map[string]string{
		"##AMOUNT##":       "amount",
		"##PARA1##":        "sub1",
		"##PARA2##":        "sub2",
		"##PARA3##":        "sub3",
		"##PARA4##":        "sub4",
		"##PARA5##":        "sub5",
		"##CID##":          "offer_id",
		"##SID##":          "click_id",
		"##TUID##":         "buyer_user_name",
		"##CONTENT_UID1##": "order_id",
		"##CONTENT_UID2##": "order_id_2",
	}
	for ref, canonical := range want {
		tp, err := Parse("x=" + ref + ";")
		if err != nil {
			t.Errorf("Parse(%s): %v", ref, err)
			continue
		}
		if got := tp.Variables(); !slices.Equal(got, []string{canonical}) {
			t.Errorf("%s: Variables = %q, want [%s]", ref, got, canonical)
		}
		if got := tp.Render(Vars{canonical: "v&1"}, URLComponent); got != "x=v%261;" {
			t.Errorf("%s rendered %q", ref, got)
		}
	}
	if len(catsNames) != len(want) {
		t.Errorf("%d CATS names defined, %d tested", len(catsNames), len(want))
	}
}

// TestEncodings pins each encoding with hand-written expectations, independent
// of the golden files.
func TestEncodings(t *testing.T) {
	cases := []struct {
		in                   string
		url, form, json, raw string
	}{
		{"abcXYZ019-._~", "abcXYZ019-._~", "abcXYZ019-._~", "abcXYZ019-._~", "abcXYZ019-._~"},
		{"a b", "a%20b", "a+b", "a b", "a b"},
		{"café", "caf%C3%A9", "caf%C3%A9", "café", "café"},
		{"あいう", "%E3%81%82%E3%81%84%E3%81%86", "%E3%81%82%E3%81%84%E3%81%86", "あいう", "あいう"},
		{"&=?/#+%:@", "%26%3D%3F%2F%23%2B%25%3A%40", "%26%3D%3F%2F%23%2B%25%3A%40", "\\u0026=?/#+%:@", "&=?/#+%:@"},
		{`"'`, "%22%27", "%22%27", `\"'`, `"'`},
		{"<b>\\", "%3Cb%3E%5C", "%3Cb%3E%5C", `\u003cb\u003e\\`, "<b>\\"},
		{"a\r\nX-Evil: 1", "a%0D%0AX-Evil%3A%201", "a%0D%0AX-Evil%3A+1", `a\r\nX-Evil: 1`, "aX-Evil: 1"},
		{"\t\x00\x7f", "%09%00%7F", "%09%00%7F", `\t\u0000` + "\x7f", "\t\x00\x7f"},
		{"\xff", "%FF", "%FF", `\ufffd`, "\xff"},
		{"\u2028", "%E2%80%A8", "%E2%80%A8", `\u2028`, "\u2028"},
		{"", "", "", "", ""},
	}
	tp := MustParse("{sub1}")
	for _, c := range cases {
		for enc, want := range map[Encoding]string{URLComponent: c.url, Form: c.form, JSON: c.json, Raw: c.raw} {
			if got := tp.Render(Vars{"sub1": c.in}, enc); got != want {
				t.Errorf("Render(%q, %s) = %q, want %q", c.in, encodingNames[enc], got, want)
			}
		}
	}
	// Unknown encodings fall back to the strictest one.
	if got := tp.Render(Vars{"sub1": "a b/c"}, Encoding(42)); got != "a%20b%2Fc" {
		t.Errorf("Render(Encoding(42)) = %q", got)
	}
}

func TestRenderLiteralsAndMissing(t *testing.T) {
	tp := MustParse("https://x.example/a b?c={click_id}&d={sub1}&e=##PARA2##")
	got := tp.Render(Vars{"click_id": "c 1", "unused": "zzz"}, URLComponent)
	if want := "https://x.example/a b?c=c%201&d=&e="; got != want {
		t.Errorf("Render = %q, want %q (literals unchanged, missing vars empty)", got, want)
	}
	if got := tp.Render(nil, Form); got != "https://x.example/a b?c=&d=&e=" {
		t.Errorf("Render(nil vars) = %q", got)
	}
	var nilT *Template
	if nilT.Render(Vars{"click_id": "x"}, Raw) != "" || nilT.String() != "" || nilT.Variables() != nil {
		t.Error("nil *Template is not empty")
	}
	var zero Template
	if zero.Render(Vars{"click_id": "x"}, Raw) != "" {
		t.Error("zero Template renders text")
	}
}

func TestLiteralSyntax(t *testing.T) {
	// Each of these is pure literal text: no variables, renders as itself.
	literal := []string{
		"",
		"plain",
		"{Click_Id}",
		"{CLICK_ID}",
		"##para1##",
		"##Para1##",
		"##1PARA##",
		"##_PARA1##",
		"##p##",
		"##aMOUNT##",
		"{click-id}",
		"{click_id",
		"click_id}",
		"{click id}",
		"{ click_id }",
		"{{}}",
		"{}",
		"{1abc}",
		"{_abc}",
		"}{",
		"##",
		"####",
		"#####",
		"##PARA1#",
		"#PARA1##",
		"##PARA1",
		"##PARA 1##",
		"##PARA-1##",
		"https://x.example/#frag",
		`{"a":1,"b":[{"c":"d"}]}`,
		`{ "k": "v" }`,
		"%7Bclick_id%7D",
	}
	for _, s := range literal {
		tp, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if v := tp.Variables(); len(v) != 0 {
			t.Errorf("Parse(%q) found variables %q", s, v)
		}
		all := Vars{}
		for _, n := range Known {
			all[n] = "X"
		}
		for enc := range encodingNames {
			if got := tp.Render(all, enc); got != s {
				t.Errorf("Parse(%q).Render(%s) = %q", s, encodingNames[enc], got)
			}
		}
		if tp.String() != s {
			t.Errorf("String() = %q, want %q", tp.String(), s)
		}
	}
}

func TestUnknownVariables(t *testing.T) {
	cases := []struct {
		tmpl, name string
		offset     int
		mentions   []string // substrings the message must contain
	}{
		{"##FOO##", "##FOO##", 0, []string{"##FOO##", "offset 0", "##AMOUNT##", "##SID##", "##CONTENT_UID2##"}},
		{"{foo}", "{foo}", 0, []string{"{foo}", "offset 0", "click_id", "upstream_id"}},
		{"https://x.example/?a={click_id}&b={foo}", "{foo}", 34, []string{"offset 34"}},
		{"a=##PARA1##&b=##PARA6##", "##PARA6##", 14, []string{"##PARA6##", "##PARA5##"}},
		{"{sub6}", "{sub6}", 0, []string{"sub5"}},
		{"{sid}", "{sid}", 0, []string{"did you mean ##SID## (or {click_id})?"}},
		{"##CLICK_ID##", "##CLICK_ID##", 0, []string{"did you mean {click_id}?"}},
		{"{foo}{bar}##BAZ##", "{foo}", 0, nil},
		{"##BAZ##{foo}", "##BAZ##", 0, nil},
		{"{clickid}", "{clickid}", 0, nil},
		{"{click_id_}", "{click_id_}", 0, nil},
		{"###FOO##", "##FOO##", 1, nil},
		{`{"a":"{foo}"}`, "{foo}", 6, nil},
	}
	for _, c := range cases {
		tp, err := Parse(c.tmpl)
		var ue *UnknownVariableError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, %v; want *UnknownVariableError", c.tmpl, tp, err)
			continue
		}
		if ue.Name != c.name || ue.Offset != c.offset {
			t.Errorf("Parse(%q): Name %q Offset %d, want %q %d", c.tmpl, ue.Name, ue.Offset, c.name, c.offset)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "postback: unknown variable "+c.name+" at offset ") {
			t.Errorf("Parse(%q): message %q", c.tmpl, msg)
		}
		for _, m := range c.mentions {
			if !strings.Contains(msg, m) {
				t.Errorf("Parse(%q): message %q does not mention %q", c.tmpl, msg, m)
			}
		}
		// Each message lists only its own dialect.
		if strings.HasPrefix(c.name, "##") == strings.Contains(msg, "brace variables") {
			t.Errorf("Parse(%q): message lists the wrong dialect: %q", c.tmpl, msg)
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustParse({foo}) did not panic")
		}
	}()
	MustParse("{foo}")
}

func TestVariablesOrder(t *testing.T) {
	tp := MustParse("##AMOUNT##/{sub1}/{amount}/##PARA1##/{click_id}/##SID##/##CONTENT_UID2##")
	want := []string{"amount", "sub1", "click_id", "order_id_2"}
	got := tp.Variables()
	if !slices.Equal(got, want) {
		t.Errorf("Variables = %q, want %q", got, want)
	}
	got[0] = "mutated"
	if tp.Variables()[0] != "amount" {
		t.Error("Variables returned internal state")
	}
}

func TestMixedDialects(t *testing.T) {
	tp, err := Parse("https://x.example/cb?a=##SID##&b={click_id}&c=##PARA1##{sub2}&amt=##AMOUNT##")
	if err != nil {
		t.Fatal(err)
	}
	got := tp.Render(Vars{"click_id": "k/1", "sub1": "s 1", "sub2": "é", "amount": "100"}, URLComponent)
	if want := "https://x.example/cb?a=k%2F1&b=k%2F1&c=s%201%C3%A9&amt=100"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("a") != "k/1" || q.Get("c") != "s 1é" || q.Get("amt") != "100" {
		t.Errorf("round trip through net/url: %v", q)
	}
}

func TestJSONBodyRoundTrip(t *testing.T) {
	tp := MustParse(`{"click_id":"{click_id}","name":"{buyer_user_name}","amount":{amount},"nested":{"note":"{sub1}"}}`)
	v := Vars{"click_id": `a"b\c`, "buyer_user_name": "あいう\n<script>&", "amount": "1500", "sub1": "\x00\u2028"}
	body := tp.Render(v, JSON)
	if strings.ContainsAny(body, "<>&\n") {
		t.Errorf("body %q contains unescaped <, >, & or newline", body)
	}
	var got struct {
		ClickID string `json:"click_id"`
		Name    string `json:"name"`
		Amount  int    `json:"amount"`
		Nested  struct {
			Note string `json:"note"`
		} `json:"nested"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("rendered body %q is not JSON: %v", body, err)
	}
	if got.ClickID != v["click_id"] || got.Name != v["buyer_user_name"] || got.Amount != 1500 || got.Nested.Note != v["sub1"] {
		t.Errorf("round trip = %+v", got)
	}
}

func TestFormBodyRoundTrip(t *testing.T) {
	tp := MustParse("cid={click_id}&name=##TUID##&amount={amount}")
	v := Vars{"click_id": "a+b c&d=e", "buyer_user_name": "café あ%", "amount": "1500"}
	q, err := url.ParseQuery(tp.Render(v, Form))
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("cid") != v["click_id"] || q.Get("name") != v["buyer_user_name"] || q.Get("amount") != "1500" || len(q) != 3 {
		t.Errorf("round trip = %v", q)
	}
}
