package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
)

// TestCapServiceOverTheAPI: controls and caps are set through CapService,
// refused by field when impossible and for a publisher; a conversion
// carries its signals and hold reason in the API, the publisher sees why
// it is held, and the signal report counts it.
func TestCapServiceOverTheAPI(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	advCaps := batonv1connect.NewCapServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	pubCaps := batonv1connect.NewCapServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	offer := e.offer.GetId()

	_, err := advCaps.SetOfferControls(ctx, &batonv1.SetOfferControlsRequest{OfferId: offer, Controls: &batonv1.OfferControls{TimeZone: "Mars/Olympus"}})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "controls.time_zone") {
		t.Fatalf("an unknown time zone: %v", err)
	}
	_, err = advCaps.SetCaps(ctx, &batonv1.SetCapsRequest{OfferId: offer, Caps: []*batonv1.Cap{{Kind: batonv1.CapKind_CAP_KIND_PAYOUT,
		Period: batonv1.CapPeriod_CAP_PERIOD_DAY, Limit: 100}}})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "currency") {
		t.Fatalf("a payout cap without its currency: %v", err)
	}
	if _, err := pubCaps.SetCaps(ctx, &batonv1.SetCapsRequest{OfferId: offer}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a publisher sets caps: %v", err)
	}
	res, err := advCaps.SetOfferControls(ctx, &batonv1.SetOfferControlsRequest{OfferId: offer, Controls: &batonv1.OfferControls{
		MinClickToConversion: durationpb.New(15 * time.Second), HoldPeriod: durationpb.New(24 * time.Hour), LockPeriod: durationpb.New(30 * 24 * time.Hour),
		SignalActions: []*batonv1.SignalAction{{Signal: "fast_conversion", Action: batonv1.ControlAction_CONTROL_ACTION_HOLD}}}})
	if err != nil || res.GetControls().GetHoldPeriod().AsDuration() != 24*time.Hour {
		t.Fatalf("controls: %v %v", res, err)
	}
	if _, err := advCaps.SetCaps(ctx, &batonv1.SetCapsRequest{OfferId: offer, Caps: []*batonv1.Cap{{Kind: batonv1.CapKind_CAP_KIND_CONVERSIONS,
		Period: batonv1.CapPeriod_CAP_PERIOD_MONTH, Limit: 10, Action: batonv1.ControlAction_CONTROL_ACTION_HOLD}}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.clickEnv.admin.GetOffer(ctx, &batonv1.GetOfferRequest{Id: offer})
	if err != nil || got.GetOffer().GetControls().GetMinClickToConversion().AsDuration() != 15*time.Second {
		t.Fatalf("the offer shows its controls: %v %v", got.GetOffer().GetControls(), err)
	}

	id := e.clickID(t, "")
	rec, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "CAPS-API-1", AmountJpy: yen(1000)})
	if err != nil {
		t.Fatal(err)
	}
	c := rec.GetConversion()
	if c.GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_PENDING || !slices.Equal(c.GetSignals(), []string{"fast_conversion"}) ||
		!strings.HasPrefix(c.GetHoldReason(), "fast_conversion: click-to-conversion") || c.GetHoldUntil() == nil {
		t.Fatalf("a fast conversion is held: %v", c)
	}
	seen, err := e.pubConv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: c.GetId()})
	if err != nil || !strings.HasPrefix(seen.GetConversion().GetHoldReason(), "held: click-to-conversion ") || strings.Contains(seen.GetConversion().GetHoldReason(), "minimum") {
		t.Fatalf("the publisher sees why it is held, as a summary: %v %v", seen, err)
	}
	usage, err := pubCaps.GetCapUsage(ctx, &batonv1.GetCapUsageRequest{OfferId: offer})
	if err != nil || len(usage.GetUsage()) != 1 || usage.GetUsage()[0].GetUsed() != 1 {
		t.Fatalf("usage: %v %v", usage, err)
	}
	now := time.Now()
	rep, err := pubCaps.GetSignalReport(ctx, &batonv1.GetSignalReportRequest{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now.Add(time.Hour))})
	if err != nil || len(rep.GetRows()) != 1 || rep.GetRows()[0].GetSignal() != "fast_conversion" || rep.GetRows()[0].GetConversions() != 1 {
		t.Fatalf("signal report: %v %v", rep, err)
	}
}

// TestLockedConversionChangesOnlyByAReversalThatIsPostedBack: after the
// offer's lock period a status change is refused with a clear error, and
// a reversal with a note goes through and is posted back to the
// publisher like any status change.
func TestLockedConversionChangesOnlyByAReversalThatIsPostedBack(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	e := pbEnvOn(newClickEnvWith(t, []app.Option{app.WithClock(clock.Now)}, pbOffer(), fastRetries))
	ctx := context.Background()
	caps := batonv1connect.NewCapServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	if _, err := caps.SetOfferControls(ctx, &batonv1.SetOfferControlsRequest{OfferId: e.offer.GetId(),
		Controls: &batonv1.OfferControls{LockPeriod: durationpb.New(24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/r?s={status}&o={order_id}",
		Events: []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_REVERSED}})
	c := e.sale(t, "m", "LOCK-1")
	other := e.sale(t, "m", "LOCK-2")
	if _, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: c.GetId(),
		Status: batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED, Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(25 * time.Hour)
	_, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: other.GetId(),
		Status: batonv1.ConversionStatus_CONVERSION_STATUS_REJECTED, Reason: batonv1.StatusReason_STATUS_REASON_FRAUD})
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "is locked since") {
		t.Fatalf("a rejection after the lock: %v", err)
	}
	_, err = e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: c.GetId(),
		Status: batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED, Reason: batonv1.StatusReason_STATUS_REASON_REFUND})
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("a reversal without a note after the lock: %v", err)
	}
	res, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: c.GetId(),
		Status: batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED, Reason: batonv1.StatusReason_STATUS_REASON_REFUND, Note: "chargeback after the lock"})
	if err != nil || res.GetConversion().GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED {
		t.Fatalf("a reversal with a note: %v %v", res, err)
	}
	rcv.await(t, 1, 15*time.Second)
	if req, _ := rcv.request(0); req.URL.RawQuery != "s=reversed&o=LOCK-1" {
		t.Fatalf("reversal postback %s", req.URL.RawQuery)
	}
}
