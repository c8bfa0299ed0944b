package postback

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCAKENames(t *testing.T) {
	want := map[string]string{
		"#tid#": "click_id", "#s1#": "sub1", "#s2#": "sub2", "#s3#": "sub3", "#s4#": "sub4", "#s5#": "sub5",
		"#oid#": "offer_id", "#affid#": "publisher_id", "#price#": "commission", "#leadid#": "order_id", "#amount#": "amount",
	}
	if len(want) != len(cakeNames) {
		t.Errorf("cakeNames has %d names, want %d", len(cakeNames), len(want))
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
}

// TestCAKENextToCATS pins how a run of '#' reads: CATS where ##NAME## is
// written, CAKE only where a single '#' opens #name#, literal otherwise.
func TestCAKENextToCATS(t *testing.T) {
	cases := []struct {
		tmpl string
		vars []string
		out  string // rendered with every variable = "V"
	}{
		{"##s1##", nil, "##s1##"},
		{"#s1##s2#", []string{"sub1", "sub2"}, "VV"},
		{"#s1##", []string{"sub1"}, "V#"},
		{"###SID###", []string{"click_id"}, "#V#"},
		{"##SID###s1#", []string{"click_id", "sub1"}, "VV"},
		{"#s1###SID##", []string{"sub1", "click_id"}, "VV"},
		{"#S1#", nil, "#S1#"},
		{"#1#", nil, "#1#"},
		{"#s1", nil, "#s1"},
		{"# s1#", nil, "# s1#"},
		{"https://x.example/#/path", nil, "https://x.example/#/path"},
		{"{sub1}#tid###PARA2##", []string{"sub1", "click_id", "sub2"}, "VVV"},
	}
	all := Vars{}
	for _, n := range Known {
		all[n] = "V"
	}
	for _, c := range cases {
		tp, err := Parse(c.tmpl)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.tmpl, err)
			continue
		}
		if got := tp.Variables(); !slices.Equal(got, c.vars) {
			t.Errorf("Parse(%q).Variables() = %q, want %q", c.tmpl, got, c.vars)
		}
		if got := tp.Render(all, Raw); got != c.out {
			t.Errorf("Parse(%q) rendered %q, want %q", c.tmpl, got, c.out)
		}
	}
}

func TestUnknownCAKEVariables(t *testing.T) {
	cases := []struct {
		tmpl, name string
		offset     int
		mentions   []string
	}{
		{"#foo#", "#foo#", 0, []string{"known CAKE variables: ", "#affid#", "#tid#", "#s5#"}},
		{"a=#s1#&b=#s6#", "#s6#", 9, []string{"offset 9"}},
		{"#click_id#", "#click_id#", 0, []string{"did you mean {click_id}?"}},
		{"#sid#", "#sid#", 0, []string{"did you mean ##SID##?"}},
		{"https://x.example/#top#", "#top#", 18, nil},
	}
	for _, c := range cases {
		_, err := Parse(c.tmpl)
		var ue *UnknownVariableError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v; want *UnknownVariableError", c.tmpl, err)
			continue
		}
		if ue.Name != c.name || ue.Offset != c.offset {
			t.Errorf("Parse(%q): Name %q Offset %d, want %q %d", c.tmpl, ue.Name, ue.Offset, c.name, c.offset)
		}
		msg := err.Error()
		if strings.Contains(msg, "brace variables") || strings.Contains(msg, "CATS variables") {
			t.Errorf("Parse(%q): message lists another dialect: %q", c.tmpl, msg)
		}
		for _, m := range c.mentions {
			if !strings.Contains(msg, m) {
				t.Errorf("Parse(%q): message %q does not mention %q", c.tmpl, msg, m)
			}
		}
	}
}

func TestDialectTable(t *testing.T) {
	rows := DialectTable()
	if len(rows) != len(Known) {
		t.Fatalf("%d rows, want one per known variable (%d)", len(rows), len(Known))
	}
	byName := map[string]Mapping{}
	for _, r := range rows {
		byName[r.Canonical] = r
		// Every spelling in the table parses back to its row's variable.
		for _, s := range []string{r.Brace, r.CATS, r.CAKE} {
			if s == "" {
				continue
			}
			tp, err := Parse(s)
			if err != nil || !slices.Equal(tp.Variables(), []string{r.Canonical}) {
				t.Errorf("%s: %q reads as %v, %v", r.Canonical, s, tp.Variables(), err)
			}
		}
	}
	for name, want := range map[string]Mapping{
		"sub1":         {"sub1", "{sub1}", "##PARA1##", "#s1#"},
		"click_id":     {"click_id", "{click_id}", "##SID##", "#tid#"},
		"order_id":     {"order_id", "{order_id}", "##CONTENT_UID1##", "#leadid#"},
		"amount":       {"amount", "{amount}", "##AMOUNT##", "#amount#"},
		"publisher_id": {"publisher_id", "{publisher_id}", "", "#affid#"},
		"order_id_2":   {"order_id_2", "{order_id_2}", "##CONTENT_UID2##", ""},
		"status":       {"status", "{status}", "", ""},
	} {
		if byName[name] != want {
			t.Errorf("row %s = %+v, want %+v", name, byName[name], want)
		}
	}
}

func TestConvert(t *testing.T) {
	cases := []struct {
		name, in string
		to       Dialect
		out      string
		err      string // substring of the error; empty: none
	}{
		{"cats to brace", "https://m.example/cv?sid=##PARA1##&amount=##AMOUNT##&oid=##CONTENT_UID1##", DialectBrace,
			"https://m.example/cv?sid={sub1}&amount={amount}&oid={order_id}", ""},
		{"cats to cake", "https://m.example/cv?sid=##PARA1##&t=##SID##&oid=##CONTENT_UID1##", DialectCAKE,
			"https://m.example/cv?sid=#s1#&t=#tid#&oid=#leadid#", ""},
		{"brace to cats", "https://m.example/cv?s={sub2}&c={click_id}&ad={offer_id}", DialectCATS,
			"https://m.example/cv?s=##PARA2##&c=##SID##&ad=##CID##", ""},
		{"cake to cats", "https://m.example/p?s1=#s1#&tid=#tid#&amt=#amount#", DialectCATS,
			"https://m.example/p?s1=##PARA1##&tid=##SID##&amt=##AMOUNT##", ""},
		{"mixed to brace", "a=##SID##&b=#s3#&c={sub4}", DialectBrace, "a={click_id}&b={sub3}&c={sub4}", ""},
		{"literal text kept", `{"x":"#fff","y":"##","z":"{click_id}"}`, DialectCATS, `{"x":"#fff","y":"##","z":"##SID##"}`, ""},
		{"same dialect", "a={sub1}", DialectBrace, "a={sub1}", ""},
		{"unmapped in cats", "a={sub1}&p={publisher_id}", DialectCATS, "", "{publisher_id} has no cats spelling"},
		{"unmapped in cake", "a=##TUID##", DialectCAKE, "", "{buyer_user_name} has no cake spelling"},
		{"unknown source", "a=##PARA9##", DialectBrace, "", "unknown variable ##PARA9##"},
		{"unknown dialect", "a={sub1}", Dialect("voluum"), "", `unknown dialect "voluum"`},
		{"would merge", "a=#{sub1}", DialectCAKE, "", "cannot be converted to cake"},
	}
	for _, c := range cases {
		got, err := Convert(c.in, c.to)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: Convert(%q, %s) = %q, %v; want error containing %q", c.name, c.in, c.to, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.out {
			t.Errorf("%s: Convert(%q, %s) = %q, %v; want %q", c.name, c.in, c.to, got, err, c.out)
		}
	}
	var ue *UnmappedVariableError
	if _, err := Convert("{status}", DialectCAKE); !errors.As(err, &ue) || ue.Name != "status" || ue.To != DialectCAKE {
		t.Errorf("Convert({status}, cake): %v, want *UnmappedVariableError naming status", err)
	}
}
