package partners

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/batonhq/baton/server/internal/postback"
)

// sampleInputs gives every input of s a value.
func sampleInputs(s System) map[string]string {
	in := map[string]string{}
	for _, i := range s.Inputs {
		if i.URL {
			in[i.Name] = "https://partner.example"
		} else {
			in[i.Name] = "v-" + i.Name
		}
	}
	return in
}

func TestCatalogIsComplete(t *testing.T) {
	want := []string{"baton", "cats", "affilicode", "fc2", "a8", "everflow", "keitaro", "voluum", "affise", "cake"}
	var got []string
	for _, s := range Catalog() {
		got = append(got, s.ID)
		if s.Name == "" || s.Summary == "" || len(s.Docs) == 0 || s.Docs[0].Title == "" || len(s.Roles) == 0 {
			t.Errorf("%s: name, summary, roles and documentation are required: %+v", s.ID, s)
		}
		if _, err := postback.ParseDialect(string(s.Dialect)); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
		var events []string
		for _, st := range s.Statuses {
			events = append(events, st.Event)
		}
		if !slices.Equal(events, Events) {
			t.Errorf("%s: statuses %v, want one per event %v", s.ID, events, Events)
		}
		if s.HasRole(Upstream) {
			if s.ClickIDParam == "" || s.URLTemplate == "" || (s.Method != http.MethodGet && s.Method != "POST_FORM") {
				t.Errorf("%s: an upstream system needs a click ID parameter, a method and a postback template", s.ID)
			}
			p, err := Fill(s, Upstream, sampleInputs(s))
			if err != nil {
				t.Errorf("%s: Fill: %v", s.ID, err)
				continue
			}
			if len(p.Endpoints) == 0 {
				t.Errorf("%s: no endpoint", s.ID)
			}
			for _, ep := range p.Endpoints {
				for _, tm := range []string{ep.URLTemplate, ep.BodyTemplate} {
					if strings.Contains(tm, "${") {
						t.Errorf("%s: template %q has an unfilled input", s.ID, tm)
					}
					// Written in the system's own dialect: converting to it changes nothing.
					if conv, err := postback.Convert(tm, s.Dialect); err != nil || conv != tm {
						t.Errorf("%s: template %q is not in dialect %s: %q, %v", s.ID, tm, s.Dialect, conv, err)
					}
				}
				if !strings.HasPrefix(ep.URLTemplate, "https://partner.example") {
					t.Errorf("%s: URL %q", s.ID, ep.URLTemplate)
				}
			}
		}
		if s.HasRole(Downstream) {
			if s.DownstreamClickIDParam == "" || !strings.Contains(s.KickbackTemplate, "${token}") {
				t.Errorf("%s: a downstream system needs a click parameter and a kickback template with the token", s.ID)
			}
			in := map[string]string{"baton": "https://baton.example/", "network_id": "net_1", "token": "t&k"}
			p, err := Fill(s, Downstream, in)
			if err != nil || strings.Contains(p.KickbackURL, "${") || !strings.HasPrefix(p.KickbackURL, "https://baton.example/postback?network=net_1&") ||
				!strings.HasSuffix(p.KickbackURL, "token=t%26k") {
				t.Errorf("%s: kickback %q, %v", s.ID, p.KickbackURL, err)
			}
			if _, err := postback.Parse(p.KickbackURL); err != nil {
				t.Errorf("%s: kickback %q: %v", s.ID, p.KickbackURL, err)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("catalog %v, want %v", got, want)
	}
}

func TestFillSplitsEndpointsByStatusSpelling(t *testing.T) {
	s, _ := Lookup("affise")
	p, err := Fill(s, Upstream, map[string]string{"base": "https://offers.affise.example/", "secure": "s e"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{
		{Events: []string{"pending"}, Method: "GET", URLTemplate: "https://offers.affise.example/postback?clickid={sub1}&action_id={order_id}&sum={amount}&status=2&secure={secret:secure}"},
		{Events: []string{"approved"}, Method: "GET", URLTemplate: "https://offers.affise.example/postback?clickid={sub1}&action_id={order_id}&sum={amount}&status=1&secure={secret:secure}"},
		{Events: []string{"rejected", "reversed"}, Method: "GET", URLTemplate: "https://offers.affise.example/postback?clickid={sub1}&action_id={order_id}&sum={amount}&status=3&secure={secret:secure}"},
	}
	if len(p.Endpoints) != len(want) {
		t.Fatalf("endpoints %+v", p.Endpoints)
	}
	for i := range want {
		// The secret input is sealed with the endpoint, as typed (the
		// renderer escapes it), never written into the template.
		if !slices.Equal(p.Endpoints[i].Events, want[i].Events) || p.Endpoints[i].URLTemplate != want[i].URLTemplate ||
			!slices.Equal(p.Endpoints[i].Secrets, []SecretValue{{Name: "secure", Value: "s e"}}) {
			t.Errorf("endpoint %d = %+v\n want %+v", i, p.Endpoints[i], want[i])
		}
	}
	if !slices.Equal(p.SubIDParams, []string{"clickid"}) {
		t.Errorf("sub ID params %v", p.SubIDParams)
	}
	b, _ := Lookup("baton")
	p, err = Fill(b, Upstream, map[string]string{"base": "https://up.example", "token": "tok"})
	if err != nil || len(p.Endpoints) != 1 || !slices.Equal(p.Endpoints[0].Events, Events) {
		t.Errorf("baton: one endpoint for every event, with {status}: %+v %v", p.Endpoints, err)
	}
}

func TestFillRefusesBadInputsByName(t *testing.T) {
	k, _ := Lookup("keitaro")
	c, _ := Lookup("cats")
	for _, tc := range []struct {
		s    System
		role Role
		in   map[string]string
		msg  string
	}{
		{k, Upstream, map[string]string{"base": "https://k.example"}, "input postback_key is required for Keitaro"},
		{k, Upstream, map[string]string{"base": "https://k.example", "postback_key": "x", "colour": "red"}, "input colour is not one of Keitaro's; its inputs: base, postback_key"},
		{k, Upstream, map[string]string{"base": "k.example", "postback_key": "x"}, "input base must be an http(s) URL"},
		{k, Upstream, map[string]string{"base": "https://k.example/?a=1", "postback_key": "x"}, "without query"},
		{k, Downstream, nil, "Keitaro cannot be connected downstream (it is upstream)"},
		{c, Upstream, nil, "CATS cannot be connected upstream"},
		{c, Downstream, map[string]string{"network_id": "n1", "baton": "https://b.example"}, "input token is required with network_id"},
	} {
		_, err := Fill(tc.s, tc.role, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s %s %v: %v, want %q", tc.s.ID, tc.role, tc.in, err, tc.msg)
		}
	}
	// Defaults fill what the user leaves out; a downstream preset without
	// a network yet has no kickback URL.
	f, _ := Lookup("fc2")
	p, err := Fill(f, Upstream, map[string]string{"shop_id": "26", "password": "pw"})
	if err != nil || p.Endpoints[0].URLTemplate != "https://affiliate.fc2.com/tracking/tracking_post.php" ||
		p.Endpoints[0].BodyTemplate != "shopid=26&unique_id={order_id}&amount_y={amount}&ref_userid={sub1}&ref_siteid={sub2}&passwd={secret:password}" ||
		!slices.Equal(p.Endpoints[0].Secrets, []SecretValue{{Name: "password", Value: "pw"}}) ||
		!slices.Equal(p.SubIDParams, []string{"aff_userid", "aff_siteid"}) {
		t.Errorf("fc2: %+v %v", p, err)
	}
	p, err = Fill(c, Downstream, nil)
	if err != nil || p.KickbackURL != "" || p.DownstreamClickIDParam != "param1" {
		t.Errorf("cats before the network exists: %+v %v", p, err)
	}
}

// TestAppendParam follows the CATS document: "?" when the URL has none,
// "&" when it has one; the query, the encoded characters and the fragment
// are kept.
func TestAppendParam(t *testing.T) {
	for _, c := range []struct{ in, name, value, out string }{
		{"https://baton.example/c/abc", "param1", "{clickid}", "https://baton.example/c/abc?param1={clickid}"},
		{"https://baton.example/c/abc?site=1", "param1", "{clickid}", "https://baton.example/c/abc?site=1&param1={clickid}"},
		{"https://baton.example/c/abc?", "pbid", "##SID##", "https://baton.example/c/abc?pbid=##SID##"},
		{"https://baton.example/c/abc?a=1&", "pbid", "##SID##", "https://baton.example/c/abc?a=1&pbid=##SID##"},
		{"https://baton.example/c/abc#top", "cid", "{clickid}", "https://baton.example/c/abc?cid={clickid}#top"},
		{"https://baton.example/c/abc?a=1#top?x=1&y", "cid", "{clickid}", "https://baton.example/c/abc?a=1&cid={clickid}#top?x=1&y"},
		{"https://baton.example/c/abc?q=%E3%81%82%20b&r=a%2Bb+c", "reqid", "#reqid#", "https://baton.example/c/abc?q=%E3%81%82%20b&r=a%2Bb+c&reqid=#reqid#"},
		{"https://baton.example/c/%7Eabc", "subid", "{subid}", "https://baton.example/c/%7Eabc?subid={subid}"},
		{"https://baton.example/c/abc?param1=&x=2", "param1", "{clickid}", "https://baton.example/c/abc?param1={clickid}&x=2"},
		{"https://baton.example/c/abc?x=2&param%31=old#f", "param1", "{clickid}", "https://baton.example/c/abc?x=2&param1={clickid}#f"},
		{"http://baton.example:8080/c/abc", "a8", "", "http://baton.example:8080/c/abc?a8="},
	} {
		got, err := AppendParam(c.in, c.name, c.value)
		if err != nil || got != c.out {
			t.Errorf("AppendParam(%q, %q, %q) = %q, %v\n want %q", c.in, c.name, c.value, got, err, c.out)
		}
	}
	for _, bad := range []string{"", "baton.example/c/abc", "/c/abc", "ftp://baton.example/x", "https://", "https://baton.example/%zz"} {
		if got, err := AppendParam(bad, "p", "v"); err == nil || !strings.Contains(err.Error(), "absolute http(s) URL") {
			t.Errorf("AppendParam(%q) = %q, %v; want refused", bad, got, err)
		}
	}
}

func TestMediaURL(t *testing.T) {
	link := "https://baton.example/c/Lk1?s=1#lp"
	for id, want := range map[string]string{
		"keitaro":    "https://baton.example/c/Lk1?s=1&subid={subid}#lp",
		"voluum":     "https://baton.example/c/Lk1?s=1&cid={clickid}#lp",
		"affise":     "https://baton.example/c/Lk1?s=1&clickid={clickid}#lp",
		"everflow":   "https://baton.example/c/Lk1?s=1&transaction_id={transaction_id}#lp",
		"cake":       "https://baton.example/c/Lk1?s=1&reqid=#reqid##lp",
		"affilicode": "https://baton.example/c/Lk1?s=1&pbid=##SID###lp",
		"a8":         link,
		"fc2":        link,
		"baton":      link,
	} {
		s, _ := Lookup(id)
		got, note, err := MediaURL(link, s)
		if err != nil || got != want || note == "" {
			t.Errorf("%s: %q (%s), %v; want %q", id, got, note, err, want)
		}
	}
	c, _ := Lookup("cats")
	if _, _, err := MediaURL(link, c); err == nil || !strings.Contains(err.Error(), "CATS does not send clicks to Baton") {
		t.Errorf("cats: %v", err)
	}
}

func TestLeftovers(t *testing.T) {
	got := Leftovers("https://p.example/pb?a=##para1##&b=#S1#&c={CLICK_ID}&d={{sub2}}&e=[clickid]&f=${token}&g=%SUBID%&h=x%20y%E3%81%82&i=#s1&j=##PARA1&items[name]=1")
	want := []Leftover{
		{"##para1##", "##PARA1##"}, {"#S1#", "#s1#"}, {"{CLICK_ID}", "{click_id}"}, {"{{sub2}}", "{sub2}"},
		{"[clickid]", "{sub1}"}, {"${token}", ""}, {"%SUBID%", "{sub1}"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Leftovers =\n %+v\nwant\n %+v", got, want)
	}
	if l := Leftovers("https://p.example/pb?a=abc&amount=1980&name=caf%C3%A9&s=%7Bx%7D%23y%23&k=%EF%BD%AF%EF%BD%AF"); len(l) != 0 {
		t.Errorf("a clean postback has leftovers: %v", l)
	}
}
