package postback

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var encodingNames = map[Encoding]string{
	URLComponent: "URLComponent",
	Form:         "Form",
	JSON:         "JSON",
	Raw:          "Raw",
}

// goldenVars exercises spaces, non-ASCII text and every reserved character
// that matters in URLs, form bodies, JSON and headers.
var goldenVars = Vars{
	"click_id":        "clk_01HV.x-y~z",
	"sub1":            `a b&c=d?e/f#g+h%i:j@k"l'm`,
	"sub2":            "café",
	"sub3":            "Bearer tok\r\nX-Injected: 1",
	"sub4":            "<tag> & \\ \t tab",
	"sub5":            "100%",
	"amount":          "1500",
	"amount_minor":    "150000",
	"currency":        "JPY",
	"order_id":        "ORD/2025/0001",
	"order_id_2":      "line #2",
	"offer_id":        "42",
	"buyer_user_name": "あいう",
	"conversion_id":   "cv_7",
	"status":          "approved",
	"event":           "sale",
	"timestamp":       "2025-03-01T12:00:00+09:00",
	"publisher_id":    "pub_1",
}

var goldenCases = []struct {
	name string
	tmpl string
	enc  Encoding
}{
	{"cats_docs_example", "https://media.example/cv?sid=##PARA1##&amount=##AMOUNT##&oid=##CONTENT_UID1##", URLComponent},
	{"cats_all_names", "https://media.example/cv?sid=##SID##&cid=##CID##&tuid=##TUID##&amount=##AMOUNT##&p1=##PARA1##&p2=##PARA2##&p3=##PARA3##&p4=##PARA4##&p5=##PARA5##&u1=##CONTENT_UID1##&u2=##CONTENT_UID2##", URLComponent},
	{"brace_url", "https://partner.example/pb/{offer_id}?click_id={click_id}&s1={sub1}&s2={sub2}&amt={amount}&cur={currency}&user={buyer_user_name}&ts={timestamp}", URLComponent},
	{"mixed_dialects_url", "https://partner.example/pb?sid=##SID##&click={click_id}&p1=##PARA1##&sub2={sub2}&name=##TUID##&oid={order_id}", URLComponent},
	{"missing_vars_url", "https://partner.example/pb?click={click_id}&c={commission}&cid=##CID##&p3=##PARA3##", URLComponent},
	{"literal_look_alikes_url", "https://partner.example/pb?a={Click_Id}&b=##para1##&c={click-id}&d={ }&e=##&f={click_id}#frag", URLComponent},
	{"cake_all_names", "https://cake.example/p.ashx?tid=#tid#&s1=#s1#&s2=#s2#&s3=#s3#&s4=#s4#&s5=#s5#&oid=#oid#&affid=#affid#&price=#price#&leadid=#leadid#&amount=#amount#", URLComponent},
	{"three_dialects_url", "https://partner.example/pb?sid=##SID##&t=#tid#&click={click_id}&p1=##PARA1##&s1=#s1#&sub1={sub1}&o=#leadid#", URLComponent},
	{"cake_look_alikes_url", "https://partner.example/pb?a=##s1##&b=#S1#&c=#s1&d=#1#&e=#s1##SID##&f=###SID###&g=#/path#top", URLComponent},
	{"cake_json_body", `{"tid":"#tid#","sub":"#s1#","order":"#leadid#","color":"#fff"}`, JSON},
	{"form_body", "click_id={click_id}&sub1={sub1}&sub2={sub2}&name={buyer_user_name}&amount={amount}&note={sub4}&rate={sub5}", Form},
	{"json_body", `{"click_id":"{click_id}","sub1":"{sub1}","sub2":"{sub2}","name":"{buyer_user_name}","amount":{amount},"note":"{sub4}","header":"{sub3}","order":"##CONTENT_UID1##"}`, JSON},
	{"header_raw", "{sub3}; user={buyer_user_name}; s1={sub1}", Raw},
	{"reserved_urlcomponent", "[{sub1}] [{sub2}] [{buyer_user_name}] [{sub4}] [{sub5}]", URLComponent},
	{"reserved_form", "[{sub1}] [{sub2}] [{buyer_user_name}] [{sub4}] [{sub5}]", Form},
	{"reserved_json", "[{sub1}] [{sub2}] [{buyer_user_name}] [{sub4}] [{sub5}]", JSON},
	{"reserved_raw", "[{sub1}] [{sub2}] [{buyer_user_name}] [{sub4}] [{sub5}]", Raw},
}

// goldenText is the content of a golden file: the inputs, for review, then
// the rendered output after an "-- output --" line.
func goldenText(tmpl string, enc Encoding, tp *Template) string {
	var b strings.Builder
	fmt.Fprintf(&b, "template: %s\n", tmpl)
	fmt.Fprintf(&b, "encoding: %s\n", encodingNames[enc])
	b.WriteString("vars:\n")
	for _, n := range tp.Variables() {
		if v, ok := goldenVars[n]; ok {
			fmt.Fprintf(&b, "  %s = %q\n", n, v)
		} else {
			fmt.Fprintf(&b, "  %s (missing)\n", n)
		}
	}
	b.WriteString("-- output --\n")
	b.WriteString(tp.Render(goldenVars, enc))
	b.WriteString("\n")
	return b.String()
}

func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	var names []string
	for _, c := range goldenCases {
		names = append(names, c.name+".golden")
		t.Run(c.name, func(t *testing.T) {
			tp, err := Parse(c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got := goldenText(c.tmpl, c.enc, tp)
			checkGolden(t, filepath.Join(dir, c.name+".golden"), got)
		})
	}
	// Every golden file belongs to a case.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			t.Errorf("stray file %s in %s", e.Name(), dir)
		}
	}
}
