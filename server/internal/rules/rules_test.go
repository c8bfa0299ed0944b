package rules_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/rules"
)

var sale = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC) // 12:00 in Tokyo

func base() rules.Input {
	click := sale.Add(-8 * time.Second)
	return rules.Input{AdvertiserID: "ad_1", OfferID: "of_1", PublisherID: "pb_1", Amount: domain.Money{Currency: "JPY", Minor: 1980},
		SubIDs: []string{"camp-42", "", "x"}, ClickAt: &click, SaleAt: sale, Path: "click_id", IP: "203.0.113.7",
		UserAgent: "Mozilla/5.0 (compatible; Googlebot/2.1)", Signals: []domain.Signal{domain.SignalFastConversion},
		ClickFlags: domain.FlagBot, Source: domain.SourcePixel}
}

func parse(t *testing.T, js string) *rules.RuleSet {
	t.Helper()
	s, err := rules.Parse([]byte(js))
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	for i := range s.Rules {
		s.Rules[i].ID, s.Rules[i].Version = "ru_"+string(rune('a'+i)), 1
	}
	return &s
}

// one is a rule set of one hold rule with the given conditions.
func one(cond string) string {
	return `{"rules":[{"name":"r","conditions":` + cond + `,"action":{"type":"hold","hold_days":3}}]}`
}

// Every condition, on a conversion it holds for and one it does not.
func TestEachCondition(t *testing.T) {
	for _, tc := range []struct {
		name, cond string
		change     func(*rules.Input) // makes the condition fail
		text       string             // in the public text
	}{
		{"amount", `{"amount":{"currency":"JPY","min":1000,"max":2000}}`, func(in *rules.Input) { in.Amount.Minor = 2001 }, "amount JPY 1,980"},
		{"amount other currency", `{"amount":{"currency":"JPY","min":1000}}`, func(in *rules.Input) { in.Amount.Currency = "USD" }, "amount"},
		{"currency", `{"currency":["JPY","USD"]}`, func(in *rules.Input) { in.Amount.Currency = "EUR" }, "currency JPY"},
		{"sub_id exact", `{"sub_id":{"slot":1,"exact":["camp-42"]}}`, func(in *rules.Input) { in.SubIDs[0] = "camp-43" }, `sub1 "camp-42"`},
		{"sub_id prefix", `{"sub_id":{"slot":1,"prefix":["camp-"]}}`, func(in *rules.Input) { in.SubIDs[0] = "x" }, "sub1"},
		{"sub_id glob", `{"sub_id":{"slot":3,"glob":["?"]}}`, func(in *rules.Input) { in.SubIDs[2] = "xy" }, "sub3"},
		{"sub_id regexp", `{"sub_id":{"slot":1,"regexp":["^camp-[0-9]+$"]}}`, func(in *rules.Input) { in.SubIDs[0] = "camp-x" }, "sub1"},
		{"sub_id missing slot", `{"sub_id":{"slot":5,"exact":["y"]}}`, nil, ""},
		{"click_to_conversion", `{"click_to_conversion":{"max":"15s"}}`, func(in *rules.Input) { c := sale.Add(-time.Minute); in.ClickAt = &c }, "click-to-conversion 8 s"},
		{"click_to_conversion no click", `{"click_to_conversion":{"min":"0s"}}`, func(in *rules.Input) { in.ClickAt = nil }, ""},
		{"attribution_path", `{"attribution_path":["click_id","cookie"]}`, func(in *rules.Input) { in.Path = "ip_match" }, "attribution path click_id"},
		{"test", `{"test":false}`, func(in *rules.Input) { in.Test = true }, "not a test conversion"},
		{"ip", `{"ip":["203.0.113.0/24","2001:db8::1"]}`, func(in *rules.Input) { in.IP = "198.51.100.1" }, "buyer IP 203.0.113.7 in 203.0.113.0/24"},
		{"ip mapped", `{"ip":["203.0.113.7"]}`, func(in *rules.Input) { in.IP = "" }, ""},
		{"user_agent contains", `{"user_agent":{"contains":["Googlebot"]}}`, func(in *rules.Input) { in.UserAgent = "Safari" }, `user agent contains "Googlebot"`},
		{"user_agent regexp", `{"user_agent":{"regexp":["(?i)bot/"]}}`, func(in *rules.Input) { in.UserAgent = "Safari" }, "user agent matches"},
		{"time_of_day", `{"time_of_day":{"from":"09:00","to":"17:00","time_zone":"Asia/Tokyo"}}`, func(in *rules.Input) { in.SaleAt = sale.Add(6 * time.Hour) }, "sale at 12:00 Asia/Tokyo"},
		{"time_of_day wraps", `{"time_of_day":{"from":"22:00","to":"13:00","time_zone":"Asia/Tokyo"}}`, func(in *rules.Input) { in.SaleAt = sale.Add(2 * time.Hour) }, "sale at 12:00"},
		{"date", `{"date":{"from":"2026-12-01","to":"2026-12-02","time_zone":"Asia/Tokyo"}}`, func(in *rules.Input) { in.SaleAt = sale.Add(24 * time.Hour) }, "sale on 2026-12-02"},
		{"signals", `{"signals":["fast_conversion","bot_click"]}`, func(in *rules.Input) { in.Signals = nil }, "signal fast_conversion"},
		{"click_flags", `{"click_flags":["duplicate","bot"]}`, func(in *rules.Input) { in.ClickFlags = domain.FlagQueryCut }, "click flagged bot"},
		{"source", `{"source":["tag","post"]}`, func(in *rules.Input) { in.Source = domain.SourceAPI }, "source tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := parse(t, one(tc.cond))
			in := base()
			if tc.change == nil { // a condition that must not hold on base
				if d := rules.Evaluate(in, set); d.Matched {
					t.Fatalf("matched: %+v", d)
				}
				return
			}
			d := rules.Evaluate(in, set)
			if !d.Matched || d.Action.Type != rules.Hold {
				t.Fatalf("did not match: %+v", d)
			}
			if !strings.Contains(d.Public, tc.text) || !strings.HasPrefix(d.Public, "held for 3 days: ") {
				t.Errorf("public %q, want it to say %q", d.Public, tc.text)
			}
			if !strings.HasPrefix(d.Condition, "conditions.") || !strings.Contains(d.Internal, `rule "r" (ru_a v1)`) {
				t.Errorf("condition %q internal %q", d.Condition, d.Internal)
			}
			in = base()
			in.SubIDs = append([]string(nil), in.SubIDs...)
			tc.change(&in)
			if d := rules.Evaluate(in, set); d.Matched {
				t.Errorf("still matched after the change: %+v", d)
			}
		})
	}
}

func TestAndOr(t *testing.T) {
	set := parse(t, one(`{"all":[{"source":["tag"]},{"any":[{"currency":["USD"]},{"click_to_conversion":{"max":"10s"}}]}]}`))
	d := rules.Evaluate(base(), set)
	if !d.Matched || d.Condition != "conditions.all[0].source and conditions.all[1].any[1].click_to_conversion" {
		t.Fatalf("got %+v", d)
	}
	if d.Public != "held for 3 days: source tag and click-to-conversion 8 s" {
		t.Errorf("public %q", d.Public)
	}
	in := base()
	in.Source = domain.SourceAPI // AND fails
	if rules.Evaluate(in, set).Matched {
		t.Error("all matched with one child false")
	}
	in = base()
	c := sale.Add(-time.Hour) // both OR children false
	in.ClickAt = &c
	if rules.Evaluate(in, set).Matched {
		t.Error("any matched with every child false")
	}
}

// The first rule that matches decides; scope decides which rules apply;
// later sets are looked at only when no rule of an earlier one matched.
func TestOrderAndScope(t *testing.T) {
	network := parse(t, `{"rules":[
		{"name":"other offer","scope":{"offer_id":"of_2"},"action":{"type":"reject","reason":"no"}},
		{"name":"publisher","scope":{"publisher_id":"pb_1"},"conditions":{"currency":["JPY"]},"action":{"type":"payout","payout":{"percent_bps":250}}},
		{"name":"all","action":{"type":"reject","reason":"everything"}}]}`)
	d := rules.Evaluate(base(), network)
	if d.RuleName != "publisher" || d.Action.Type != rules.ChangePayout || d.Public != "payout changed to 2.5% of the sale: currency JPY" {
		t.Fatalf("got %+v", d)
	}
	in := base()
	in.PublisherID = "pb_2"
	if d := rules.Evaluate(in, network); d.RuleName != "all" || d.Public != "rejected: everything" || d.Condition != "" {
		t.Fatalf("got %+v", d)
	}
	adv := parse(t, `{"rules":[{"name":"accept","action":{"type":"accept"}}]}`)
	if d := rules.Evaluate(base(), adv, network); d.RuleName != "accept" || d.Public != "accepted: every conversion in scope" {
		t.Fatalf("got %+v", d)
	}
	if d := rules.Evaluate(base(), nil, parse(t, `{"rules":[]}`)); d.Matched {
		t.Fatalf("no rules matched: %+v", d)
	}
}

func TestPayoutCommission(t *testing.T) {
	bps := uint32(333)
	p := rules.Payout{PercentBPS: &bps}
	if got := p.Commission(domain.Money{Currency: "JPY", Minor: 1980}); got != (domain.Money{Currency: "JPY", Minor: 65}) { // 65.934 down
		t.Errorf("got %v", got)
	}
	if got := p.Commission(domain.Money{Currency: "JPY", Minor: 1e18}); got.Minor != 1e14*333 {
		t.Errorf("big got %v", got)
	}
	f := rules.Payout{Fixed: &rules.Money{Currency: "USD", Minor: 500}}
	if got := f.Commission(domain.Money{Currency: "USD", Minor: 1}); got != (domain.Money{Currency: "USD", Minor: 500}) {
		t.Errorf("fixed got %v", got)
	}
	if s := f.String(); s != "USD 5.00" {
		t.Errorf("fixed string %q", s)
	}
}

// Impossible or unknown input is refused by the path of the field at
// fault.
func TestValidationNamesTheField(t *testing.T) {
	r := func(cond, action string) string {
		return `{"rules":[{"name":"ok","action":{"type":"accept"}},{"name":"ok","action":{"type":"accept"}},{"name":"x","conditions":` + cond + `,"action":` + action + `}]}`
	}
	hold := `{"type":"hold","hold_days":1}`
	for _, tc := range []struct{ js, field string }{
		{r(`{"any":[{"amount":{"currency":"JPY","min":5,"max":4}}]}`, hold), "rules[2].conditions.any[0].amount.min"},
		{r(`{"any":[{"amount":{"currency":"JPY","mín":5}}]}`, hold), "rules[2].conditions.any[0].amount.mín"},
		{r(`{"amount":{"currency":"yen","min":5}}`, hold), "rules[2].conditions.amount.currency"},
		{r(`{"amount":{"currency":"JPY"}}`, hold), "rules[2].conditions.amount"},
		{r(`{"amount":{"currency":"JPY","min":"5"}}`, hold), "rules[2].conditions.amount.min"},
		{r(`{"all":[]}`, hold), "rules[2].conditions.all"},
		{r(`{}`, hold), "rules[2].conditions"},
		{r(`{"currency":["JPY"],"test":true}`, hold), "rules[2].conditions"},
		{r(`{"ip":["10.0.0.0/33"]}`, hold), "rules[2].conditions.ip[0]"},
		{r(`{"user_agent":{"regexp":["(unclosed"]}}`, hold), "rules[2].conditions.user_agent.regexp[0]"},
		{r(`{"user_agent":{"regexp":["a{1000}{1000}"]}}`, hold), "rules[2].conditions.user_agent.regexp[0]"},
		{r(`{"sub_id":{"slot":6,"exact":["a"]}}`, hold), "rules[2].conditions.sub_id.slot"},
		{r(`{"sub_id":{"slot":1,"exact":["a"],"prefix":["b"]}}`, hold), "rules[2].conditions.sub_id"},
		{r(`{"click_to_conversion":{"min":"1h","max":"1m"}}`, hold), "rules[2].conditions.click_to_conversion.min"},
		{r(`{"click_to_conversion":{"min":"soon"}}`, hold), "rules[2].conditions.click_to_conversion.min"},
		{r(`{"attribution_path":["telepathy"]}`, hold), "rules[2].conditions.attribution_path[0]"},
		{r(`{"time_of_day":{"from":"09:00","to":"09:00","time_zone":"UTC"}}`, hold), "rules[2].conditions.time_of_day.to"},
		{r(`{"time_of_day":{"from":"9","to":"10:00","time_zone":"UTC"}}`, hold), "rules[2].conditions.time_of_day.from"},
		{r(`{"date":{"from":"2026-02-01","to":"2026-01-01","time_zone":"UTC"}}`, hold), "rules[2].conditions.date.from"},
		{r(`{"date":{"from":"2026-01-01","to":"2026-02-01","time_zone":"Mars/Olympus"}}`, hold), "rules[2].conditions.date.time_zone"},
		{r(`{"signals":["bad_vibes"]}`, hold), "rules[2].conditions.signals[0]"},
		{r(`{"click_flags":["sus"]}`, hold), "rules[2].conditions.click_flags[0]"},
		{r(`{"source":["fax"]}`, hold), "rules[2].conditions.source[0]"},
		{r(`{"test":true}`, `{"type":"hold","hold_days":0}`), "rules[2].action.hold_days"},
		{r(`{"test":true}`, `{"type":"reject"}`), "rules[2].action.reason"},
		{r(`{"test":true}`, `{"type":"explode"}`), "rules[2].action.type"},
		{r(`{"test":true}`, `{"type":"payout","payout":{}}`), "rules[2].action.payout"},
		{r(`{"test":true}`, `{"type":"payout","payout":{"percent_bps":10001}}`), "rules[2].action.payout.percent_bps"},
		{r(`{"all":[{"amount":{"currency":"JPY","min":1}}]}`, `{"type":"payout","payout":{"fixed":{"currency":"USD","minor":100}}}`), "rules[2].action.payout.fixed.currency"},
		{`{"rules":[{"name":"","action":{"type":"accept"}}]}`, "rules[0].name"},
		{`{"rules":[{"name":"a","action":{"type":"accept"},"priority":1}]}`, "rules[0].priority"},
		{`{"rulez":[]}`, "rulez"},
	} {
		_, err := rules.Parse([]byte(tc.js))
		var de *domain.Error
		if !errors.As(err, &de) || !errors.Is(err, domain.ErrInvalid) || de.Field != tc.field {
			t.Errorf("%s: got %v (field %q), want field %s", tc.js, err, fieldOf(de), tc.field)
		}
	}
}

func fieldOf(e *domain.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

func TestNeedsClickFlags(t *testing.T) {
	if rules.NeedsClickFlags(parse(t, one(`{"any":[{"test":true},{"all":[{"source":["api"]}]}]}`))) {
		t.Error("no click flags tested")
	}
	if !rules.NeedsClickFlags(nil, parse(t, one(`{"any":[{"test":true},{"all":[{"click_flags":["bot"]}]}]}`))) {
		t.Error("click flags tested")
	}
}
