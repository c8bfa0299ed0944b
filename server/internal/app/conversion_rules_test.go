package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
)

// sameRules is one network rule set for the demo advertiser: a ¥70,000
// sale is accepted (the first rule wins over the next, which rejects big
// sales), middling ones are held, a ¥777 sale pays a fixed ¥100, the rest
// are recorded as without rules.
const sameRules = `{"rules":[
 {"name":"trusted big order","scope":{"advertiser_id":"adv_demo"},"conditions":{"amount":{"currency":"JPY","min":70000,"max":70000}},
  "action":{"type":"accept"}},
 {"name":"big orders","scope":{"advertiser_id":"adv_demo"},"conditions":{"amount":{"currency":"JPY","min":50000}},
  "action":{"type":"reject","reason":"orders of ¥50,000 or more are confirmed by phone"}},
 {"name":"middling orders","scope":{"advertiser_id":"adv_demo"},"conditions":{"all":[{"amount":{"currency":"JPY","min":30000}},{"test":false}]},
  "action":{"type":"hold","hold_days":3}},
 {"name":"lucky sevens","scope":{"advertiser_id":"adv_demo"},"conditions":{"any":[{"currency":["USD"]},{"amount":{"currency":"JPY","min":777,"max":777}}]},
  "action":{"type":"payout","payout":{"fixed":{"currency":"JPY","minor":100}}}}]}`

func rulesClient(e *clickEnv, key string) batonv1connect.RuleServiceClient {
	return batonv1connect.NewRuleServiceClient(e.client, e.url, withKey(key))
}

// entrance reports one sale of amount yen with order ID order through one
// of Baton's entrances, attributed to the demo publisher.
type entrance struct {
	name   string
	source batonv1.ConversionSource
	send   func(t *testing.T, order string, amount int64)
}

// checkSameRules puts sameRules in force and sends the four kinds of sale
// through each entrance: every entrance must be decided alike.
func checkSameRules(t *testing.T, e *convEnv, entrances []entrance) {
	ctx := context.Background()
	if _, err := rulesClient(e.clickEnv, adminKey).PutRuleSet(ctx, &batonv1.PutRuleSetRequest{RulesJson: sameRules}); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	for _, en := range entrances {
		pre := strings.ToUpper(en.name) + "-"
		en.send(t, pre+"BIG", 60000)
		en.send(t, pre+"TRUSTED", 70000)
		en.send(t, pre+"MID", 40000)
		en.send(t, pre+"LUCKY", 777)
		en.send(t, pre+"PLAIN", 500)
	}
	l, err := e.admin.ListRefusals(ctx, &batonv1.ListRefusalsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]*batonv1.Refusal{}
	for _, r := range refusalsOf(l) {
		refused[r.GetOrderId()] = r
	}
	pubAttr := batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	for _, en := range entrances {
		pre := strings.ToUpper(en.name) + "-"
		t.Run(en.name, func(t *testing.T) {
			// Rejected: refused with the named code and the rule's reason, not stored.
			r := refused[pre+"BIG"]
			if r.GetCode() != "rejected_by_rule" || r.GetReason() != batonv1.RefusalCode_REFUSAL_CODE_REJECTED_BY_RULE ||
				r.GetMessage() != "rejected: orders of ¥50,000 or more are confirmed by phone" || r.GetSource() != en.source {
				t.Errorf("big order refusal %v", r)
			}
			if l, _ := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: pre + "BIG"}); len(l.GetConversions()) != 0 {
				t.Errorf("a rejected sale was stored: %v", l.GetConversions())
			}
			// Accepted by the first rule, though the second matches too.
			trusted := conversionOf(t, e, pre+"TRUSTED")
			if r := trusted.GetRule(); r.GetAction() != batonv1.RuleAction_RULE_ACTION_ACCEPT || r.GetName() != "trusted big order" ||
				r.GetPublicText() != "accepted: amount JPY 70,000" || trusted.GetHoldUntil() != nil || trusted.GetCommission().GetAmountMinor() == 0 {
				t.Errorf("trusted order %v", trusted)
			}
			// Held: pending until three days from now, the rule named.
			mid := conversionOf(t, e, pre+"MID")
			hold := mid.GetHoldUntil().AsTime()
			if mid.GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_PENDING || hold.Before(started.Add(72*time.Hour-time.Minute)) ||
				hold.After(time.Now().Add(72*time.Hour+time.Minute)) {
				t.Errorf("held conversion %v", mid)
			}
			ex, err := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: mid.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			rule := ex.GetRule()
			if rule.GetName() != "middling orders" || rule.GetVersion() != 1 || !strings.HasPrefix(rule.GetRuleId(), "ru") ||
				rule.GetAction() != batonv1.RuleAction_RULE_ACTION_HOLD || rule.GetCondition() != "conditions.all[0].amount and conditions.all[1].test" ||
				rule.GetPublicText() != "held for 3 days: amount JPY 40,000 and not a test conversion" ||
				!strings.Contains(rule.GetInternalText(), `rule "middling orders"`) || !strings.Contains(ex.GetSummary(), "Held for 3 days: amount JPY 40,000") {
				t.Errorf("explanation of the hold: %v", ex)
			}
			// The publisher reads what happened and why, not the rule.
			pex, err := pubAttr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: mid.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if pr := pex.GetRule(); pr.GetPublicText() != rule.GetPublicText() || pr.GetInternalText() != "" || pr.GetName() != "" ||
				pr.GetRuleId() != "" || pr.GetCondition() != "" || pr.GetAction() != batonv1.RuleAction_RULE_ACTION_HOLD {
				t.Errorf("the publisher sees %v", pr)
			}
			// Payout changed: a fixed ¥100, explained.
			lucky := conversionOf(t, e, pre+"LUCKY")
			if c := lucky.GetCommission(); c.GetAmountMinor() != 100 || c.GetCurrencyCode() != "JPY" || lucky.GetRule().GetName() != "lucky sevens" ||
				lucky.GetRule().GetCondition() != "conditions.any[1].amount" || lucky.GetHoldUntil() != nil {
				t.Errorf("payout change %v", lucky)
			}
			lex, err := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: lucky.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(lex.GetCommissionRule(), "payout changed to JPY 100: amount JPY 777: JPY 100 instead of JPY ") {
				t.Errorf("commission rule %q", lex.GetCommissionRule())
			}
			// No rule matched: as without rules.
			if plain := conversionOf(t, e, pre+"PLAIN"); plain.GetRule() != nil || plain.GetHoldUntil() != nil || plain.GetPublisherId() != app.DemoPublisherID {
				t.Errorf("plain conversion %v", plain)
			}
		})
	}
}

func conversionOf(t *testing.T, e *convEnv, order string) *batonv1.Conversion {
	t.Helper()
	l, err := e.adv.ListConversions(context.Background(), &batonv1.ListConversionsRequest{OrderId: order})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.GetConversions()) != 1 {
		t.Fatalf("order %s: %d conversions, want 1", order, len(l.GetConversions()))
	}
	return l.GetConversions()[0]
}

// The API, the FC2 image tag and the FC2 server POST obey one rule set.
func TestEveryEntranceObeysTheSameRulesFC2(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	// A banner click sets the cookie the image tag reads; its landing URL
	// carries the affiliate the POST names.
	click := e.click(t, e.client, "param1=media-9", browserUA)
	loc, _ := url.Parse(click.Header.Get("Location"))
	checkSameRules(t, e.convEnv, []entrance{
		{"api", batonv1.ConversionSource_CONVERSION_SOURCE_API, func(t *testing.T, order string, amount int64) {
			_, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: e.clickID(t, "param1=m"), OrderId: order, AmountJpy: yen(amount)})
			if err != nil && connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatal(err)
			}
		}},
		{"tag", batonv1.ConversionSource_CONVERSION_SOURCE_PIXEL, func(t *testing.T, order string, amount int64) {
			e.pixel(t, fc2Tag(map[string]string{"shopid": "100", "unique_id": order, "amount_y": strconv.FormatInt(amount, 10), "ts": nowTS()}, demoShopPassword))
		}},
		{"post", batonv1.ConversionSource_CONVERSION_SOURCE_SERVER_POST, func(t *testing.T, order string, amount int64) {
			e.post(t, url.Values{"shopid": {"100"}, "unique_id": {order}, "amount_y": {strconv.FormatInt(amount, 10)}, "ts": {nowTS()},
				"ref_userid": {loc.Query().Get("aff_userid")}, "ref_siteid": {loc.Query().Get("aff_siteid")}, "passwd": {demoShopPassword}})
		}},
	})
}

// A kickback from the downstream network obeys the same rule set.
func TestEveryEntranceObeysTheSameRulesKickback(t *testing.T) {
	t.Parallel()
	e := newKickbackEnv(t)
	checkSameRules(t, e.convEnv, []entrance{
		{"kickback", batonv1.ConversionSource_CONVERSION_SOURCE_KICKBACK, func(t *testing.T, order string, amount int64) {
			e.kick(t, url.Values{"click_id": {e.clickOf(t, "param1=m")}, "order_id": {order}, "amount": {strconv.FormatInt(amount, 10)}})
		}},
	})
}

// Rules are saved by version, refused by the name of the field at fault,
// kept from publishers, and a dry run says what a proposal would do to
// the latest conversions before it is saved.
func TestRuleSetsVersionsAndTheDryRun(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}})
	ctx := context.Background()
	admin, adv := rulesClient(e.clickEnv, adminKey), rulesClient(e.clickEnv, app.DemoAdvertiserKey)

	// Refused by name: an impossible range, an unknown field.
	_, err := adv.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{AdvertiserId: app.DemoAdvertiserID, RulesJson: `{"rules":[{"name":"a","action":{"type":"accept"}},
		{"name":"b","conditions":{"any":[{"amount":{"currency":"JPY","min":9,"max":1}}]},"action":{"type":"accept"}}]}`})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "rules[1].conditions.any[0].amount.min") {
		t.Fatalf("impossible range: %v", err)
	}
	_, err = adv.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{AdvertiserId: app.DemoAdvertiserID, RulesJson: `{"rules":[{"name":"a","action":{"type":"accept","days":3}}]}`})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "rules[0].action.days") {
		t.Fatalf("unknown field: %v", err)
	}
	// Publishers never see rules; an advertiser only its own set.
	if _, err := rulesClient(e.clickEnv, app.DemoPublisherKey).ListRules(ctx, &batonv1.ListRulesRequest{AdvertiserId: app.DemoAdvertiserID}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("publisher: %v", err)
	}
	if _, err := adv.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{RulesJson: `{"rules":[]}`}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("advertiser writing the network's rules: %v", err)
	}

	// Conversions recorded with no rules, then a dry run.
	for i, amount := range []int64{1000, 2000, 8000} {
		if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: e.clickID(t, "param1=m"), OrderId: "D-" + strconv.Itoa(i),
			AmountJpy: yen(amount)}); err != nil {
			t.Fatal(err)
		}
	}
	proposal := `{"rules":[{"name":"review big","conditions":{"amount":{"currency":"JPY","min":5000}},"action":{"type":"hold","hold_days":7}},
		{"name":"small pays 1%","conditions":{"amount":{"currency":"JPY","max":1500}},"action":{"type":"payout","payout":{"percent_bps":100}}}]}`
	dry, err := adv.DryRunRules(ctx, &batonv1.DryRunRulesRequest{AdvertiserId: app.DemoAdvertiserID, RulesJson: proposal, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if c := dry.GetCounts(); c.GetTotal() != 3 || c.GetHold() != 1 || c.GetChangePayout() != 1 || c.GetNoRule() != 1 || c.GetChanged() != 2 {
		t.Fatalf("counts %v", c)
	}
	for _, it := range dry.GetItems() {
		switch it.GetOrderId() {
		case "D-2":
			if it.GetWould().GetAction() != batonv1.RuleAction_RULE_ACTION_HOLD || it.GetWould().GetRuleId() != "new:rules[0]" || it.GetHappened() != nil ||
				it.GetWould().GetPublicText() != "held for 7 days: amount JPY 8,000" || !it.GetChanged() {
				t.Errorf("D-2 %v", it)
			}
		case "D-0":
			if it.GetCommission().GetAmountMinor() != 50 || it.GetWouldCommission().GetAmountMinor() != 10 || it.GetWould().GetName() != "small pays 1%" {
				t.Errorf("D-0 %v", it)
			}
		case "D-1":
			if it.GetWould() != nil || it.GetChanged() || it.GetWouldCommission().GetAmountMinor() != 100 {
				t.Errorf("D-1 %v", it)
			}
		}
	}
	if l, _ := adv.ListRules(ctx, &batonv1.ListRulesRequest{AdvertiserId: app.DemoAdvertiserID}); l.GetRuleSet().GetVersion() != 0 || len(l.GetRuleSet().GetRules()) != 0 {
		t.Fatalf("a dry run saved rules: %v", l)
	}

	// Saved: versions 1; then one rule changed, the other kept.
	put, err := adv.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{AdvertiserId: app.DemoAdvertiserID, RulesJson: proposal})
	if err != nil {
		t.Fatal(err)
	}
	rs := put.GetRuleSet()
	if rs.GetVersion() != 1 || len(rs.GetRules()) != 2 || rs.GetRules()[0].GetVersion() != 1 || rs.GetRules()[0].GetScope().GetAdvertiserId() != app.DemoAdvertiserID {
		t.Fatalf("saved %v", rs)
	}
	hold, small := rs.GetRules()[0].GetId(), rs.GetRules()[1].GetId()
	edited := strings.Replace(rs.GetRulesJson(), `"hold_days":7`, `"hold_days":14`, 1)
	if _, err := adv.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{AdvertiserId: app.DemoAdvertiserID, RulesJson: edited, ExpectVersion: 7}); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("a stale edit: %v", err)
	}
	put, err = adv.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{AdvertiserId: app.DemoAdvertiserID, RulesJson: edited, ExpectVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := put.GetRuleSet().GetRules(); put.GetRuleSet().GetVersion() != 2 || r[0].GetId() != hold || r[0].GetVersion() != 2 || r[1].GetId() != small || r[1].GetVersion() != 1 {
		t.Fatalf("second save %v", put.GetRuleSet())
	}
	got, err := admin.GetRule(ctx, &batonv1.GetRuleRequest{RuleId: hold})
	if err != nil {
		t.Fatal(err)
	}
	if v := got.GetVersions(); len(v) != 2 || !strings.Contains(v[0].GetRule().GetDefinitionJson(), `"hold_days":7`) ||
		!strings.Contains(v[1].GetRule().GetDefinitionJson(), `"hold_days":14`) || got.GetAdvertiserId() != app.DemoAdvertiserID {
		t.Fatalf("versions %v", got)
	}

	// In force at once on this node: a big sale is held 14 days by v2.
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: e.clickID(t, "param1=m"), OrderId: "D-9", AmountJpy: yen(9000)})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.GetConversion().GetRule(); r.GetRuleId() != hold || r.GetVersion() != 2 || r.GetPublicText() != "held for 14 days: amount JPY 9,000" {
		t.Fatalf("decided by %v", r)
	}
}

// A rule saved on one node decides on another within a second
// (service.RuleCacheTTL), even with no notice between them: node b runs on
// a clock the test moves, so "a second later" needs no waiting.
func TestARuleChangeReachesAnotherNodeWithinASecond(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) // one master key for both nodes
	a := start(t, func(c *config.Config) { c.MasterKey = key })
	b := startWith(t, []app.Option{app.WithClock(clock.Now)}, func(c *config.Config) { c.DatabaseURL, c.MasterKey = a.db, key })
	ctx := context.Background()
	convB := batonv1connect.NewConversionServiceClient(b.client, b.url, withKey(app.DemoAdvertiserKey))
	record := func(order string) error {
		req, _ := http.NewRequest(http.MethodGet, b.url+"/c/"+app.DemoLinkID, nil)
		req.Header.Set("User-Agent", browserUA)
		res, err := noFollow(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		_, err = convB.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: clickIDFrom(t, res, "sid"), OrderId: order, AmountJpy: yen(1980)})
		return err
	}
	if err := record("NODE-B-1"); err != nil { // node b has read the rule sets: none
		t.Fatal(err)
	}
	rulesA := batonv1connect.NewRuleServiceClient(a.client, a.url, withKey(adminKey))
	if _, err := rulesA.PutRuleSet(ctx, &batonv1.PutRuleSetRequest{AdvertiserId: app.DemoAdvertiserID,
		RulesJson: `{"rules":[{"name":"closed","action":{"type":"reject","reason":"the shop is closed"}}]}`}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	err := record("NODE-B-2")
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "rejected: the shop is closed") {
		t.Fatalf("node b a second after the save: %v", err)
	}
}
