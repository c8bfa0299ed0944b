package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
)

// reasonsEnv is an offer that holds a conversion faster than 15 s after its
// click and rejects past a cap of one conversion a month, and a network
// rule holding every sale for a day, with a held and a cap-rejected
// conversion of the demo publisher on it.
type reasonsEnv struct {
	*convEnv
	held, capped string
}

func newReasonsEnv(t *testing.T, mutate ...func(*config.Config)) reasonsEnv {
	t.Helper()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{}, mutate...)
	ctx := context.Background()
	caps := batonv1connect.NewCapServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	if _, err := caps.SetOfferControls(ctx, &batonv1.SetOfferControlsRequest{OfferId: e.offer.GetId(), Controls: &batonv1.OfferControls{
		MinClickToConversion: durationpb.New(15 * time.Second),
		SignalActions:        []*batonv1.SignalAction{{Signal: "fast_conversion", Action: batonv1.ControlAction_CONTROL_ACTION_HOLD}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := caps.SetCaps(ctx, &batonv1.SetCapsRequest{OfferId: e.offer.GetId(), Caps: []*batonv1.Cap{{Kind: batonv1.CapKind_CAP_KIND_CONVERSIONS,
		Period: batonv1.CapPeriod_CAP_PERIOD_MONTH, Limit: 1, Action: batonv1.ControlAction_CONTROL_ACTION_REJECT}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rulesClient(e.clickEnv, adminKey).PutRuleSet(ctx, &batonv1.PutRuleSetRequest{RulesJson: `{"rules":[{"name":"hold every sale",
 "scope":{"advertiser_id":"adv_demo"},"conditions":{"amount":{"currency":"JPY","min":1000}},"action":{"type":"hold","hold_days":1}}]}`}); err != nil {
		t.Fatal(err)
	}
	r := reasonsEnv{convEnv: e}
	for i, id := range []*string{&r.held, &r.capped} {
		rec, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: e.clickID(t, ""),
			OrderId: "REASONS-" + string(rune('A'+i)), AmountJpy: yen(1000)})
		if err != nil {
			t.Fatal(err)
		}
		*id = rec.GetConversion().GetId()
	}
	return r
}

// seen returns the hold reason and the latest status change note of
// conversion id as conv's key reads it by GetConversion, checking
// that ListConversions shows the same reasons.
func (r reasonsEnv) seen(t *testing.T, conv batonv1connect.ConversionServiceClient, id string) (hold, note string) {
	t.Helper()
	ctx := context.Background()
	got, err := conv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetConversion()
	if h := c.GetHistory(); len(h) > 0 {
		note = h[len(h)-1].GetNote() // the latest status change's
	}
	l, err := conv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: c.GetOrderId()})
	if err != nil || len(l.GetConversions()) != 1 || l.GetConversions()[0].GetHoldReason() != c.GetHoldReason() {
		t.Fatalf("the list shows another hold reason than the conversion: %v %v", l, err)
	}
	return c.GetHoldReason(), note
}

// explained returns the rule ExplainConversion names for conversion id as
// key reads it.
func (r reasonsEnv) explained(t *testing.T, key, id string) *batonv1.RuleOutcome {
	t.Helper()
	ex, err := batonv1connect.NewAttributionServiceClient(r.client, r.url, withKey(key)).ExplainConversion(context.Background(),
		&batonv1.ExplainConversionRequest{ConversionId: id})
	if err != nil {
		t.Fatal(err)
	}
	return ex.GetRule()
}

// TestPublisherReadsReasonSummaries: a publisher reads why its conversion
// was held or rejected as a summary ("held: click-to-conversion 0s",
// "rejected: cap reached") in GetConversion and ListConversions, never the
// offer's threshold or the cap's limit and usage; the advertiser reads the
// full reasons. In ExplainConversion the publisher reads what the rule did,
// not the rule.
func TestPublisherReadsReasonSummaries(t *testing.T) {
	t.Parallel()
	r := newReasonsEnv(t)

	hold, _ := r.seen(t, r.adv, r.held)
	if !strings.HasPrefix(hold, "fast_conversion: click-to-conversion ") || !strings.Contains(hold, "the offer's minimum is 15 seconds") {
		t.Fatalf("the advertiser reads the full hold reason: %q", hold)
	}
	_, note := r.seen(t, r.adv, r.capped)
	if note != "cap_reached: offer conversions cap per month reached (1 of 1 used)" {
		t.Fatalf("the advertiser reads the cap's numbers: %q", note)
	}

	hold, _ = r.seen(t, r.pubConv, r.held)
	if !strings.HasPrefix(hold, "held: click-to-conversion ") || strings.Contains(hold, "minimum") || strings.Contains(hold, "15 seconds") {
		t.Fatalf("the publisher reads a summary of the hold: %q", hold)
	}
	hold, note = r.seen(t, r.pubConv, r.capped)
	if note != "rejected: cap reached" {
		t.Fatalf("the publisher reads that a cap was reached, not its numbers: %q", note)
	}
	if !strings.HasPrefix(hold, "held: click-to-conversion ") {
		t.Fatalf("the capped conversion's hold reason: %q", hold)
	}
	if rule := r.explained(t, app.DemoAdvertiserKey, r.held); rule.GetName() != "hold every sale" || rule.GetCondition() == "" {
		t.Fatalf("the advertiser reads the rule: %v", rule)
	}
	if rule := r.explained(t, app.DemoPublisherKey, r.held); rule.GetName() != "" || rule.GetCondition() != "" || rule.GetRuleId() != "" ||
		rule.GetInternalText() != "" || rule.GetPublicText() == "" || rule.GetAction() != batonv1.RuleAction_RULE_ACTION_HOLD {
		t.Fatalf("the publisher reads what the rule did, not the rule: %v", rule)
	}
}

// TestNetworkLetsPublishersReadFullReasons: with BATON_PUBLISHER_REASONS=
// full a publisher reads the reasons, and the rule that decided, as the
// advertiser does.
func TestNetworkLetsPublishersReadFullReasons(t *testing.T) {
	t.Parallel()
	r := newReasonsEnv(t, func(c *config.Config) { c.PublisherReasons = "full" })
	advHold, _ := r.seen(t, r.adv, r.held)
	hold, _ := r.seen(t, r.pubConv, r.held)
	if hold != advHold || !strings.Contains(hold, "the offer's minimum is 15 seconds") {
		t.Fatalf("the publisher reads the full hold reason: %q, the advertiser %q", hold, advHold)
	}
	_, advNote := r.seen(t, r.adv, r.capped)
	_, note := r.seen(t, r.pubConv, r.capped)
	if note != advNote || !strings.Contains(note, "1 of 1 used") {
		t.Fatalf("the publisher reads the cap's numbers: %q, the advertiser %q", note, advNote)
	}
	if rule := r.explained(t, app.DemoPublisherKey, r.held); rule.GetName() != "hold every sale" || rule.GetCondition() == "" {
		t.Fatalf("the publisher reads the rule: %v", rule)
	}
}
