package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/signature"
)

type convEnv struct {
	*clickEnv
	adv     batonv1connect.ConversionServiceClient // the demo advertiser's key
	admin   batonv1connect.ConversionServiceClient
	attr    batonv1connect.AttributionServiceClient
	pubConv batonv1connect.ConversionServiceClient
}

func newConvEnv(t testing.TB, offer *batonv1.CreateOfferRequest, mutate ...func(*config.Config)) *convEnv {
	t.Helper()
	return newConvEnvWith(t, nil, offer, mutate...)
}

func newConvEnvWith(t testing.TB, opts []app.Option, offer *batonv1.CreateOfferRequest, mutate ...func(*config.Config)) *convEnv {
	t.Helper()
	if offer.LandingUrl == "" {
		offer.LandingUrl = "https://shop.example/lp"
	}
	if offer.Downstream == nil {
		offer.Downstream = &batonv1.DownstreamLink{ClickIdParam: "sid"}
	}
	e := newClickEnvWith(t, opts, offer, mutate...)
	return &convEnv{clickEnv: e,
		adv:     batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey)),
		admin:   batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(adminKey)),
		attr:    batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey)),
		pubConv: batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoPublisherKey)),
	}
}

// clickID makes a click through the redirect and returns its ID.
func (e *convEnv) clickID(t testing.TB, query string) string {
	t.Helper()
	return clickIDFrom(t, e.click(t, nil, query, browserUA), "sid")
}

func yen(n int64) *int64 { return &n }

func TestConversionByClickIDWithCommission(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 500}}})
	ctx := context.Background()
	id := e.clickID(t, "param1=media-777")
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "ORD-1", AmountJpy: yen(1999),
		Items: []*batonv1.Item{{Code: "sample1", Quantity: 2}}, Buyer: &batonv1.Buyer{UserName: "tarou", Email: "Tarou@Example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.GetConversion()
	if res.GetDuplicate() || c.GetPublisherId() != app.DemoPublisherID || c.GetClickId() != id || c.GetUpstreamId() != "media-777" ||
		c.GetStatus() != batonv1.ConversionStatus_CONVERSION_STATUS_PENDING || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_CLICK_ID {
		t.Fatalf("conversion %v", c)
	}
	if got := c.GetCommission(); got.GetCurrencyCode() != "JPY" || got.GetAmountMinor() != 99 {
		t.Fatalf("5%% of ¥1,999 must be ¥99 (rounded down), got %v", got)
	}
	if c.GetBuyerEmail() != "" || len(c.GetBuyerEmailHash()) != 64 {
		t.Fatalf("email must be stored hashed only: %q %q", c.GetBuyerEmail(), c.GetBuyerEmailHash())
	}
	ex, err := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: c.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if ex.GetCommissionRule() != "5% of ¥1,999 = ¥99 (rounded down)" || !strings.Contains(ex.GetSummary(), "by the click ID the conversion named") ||
		len(ex.GetCandidates()) != 1 || !ex.GetCandidates()[0].GetWinner() {
		t.Fatalf("explain %v", ex)
	}
	// The publisher sees it; another publisher cannot.
	if _, err := e.pubConv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: c.GetId()}); err != nil {
		t.Fatal(err)
	}
	pub2 := batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoPublisher2Key))
	if _, err := pub2.GetConversion(ctx, &batonv1.GetConversionRequest{Id: c.GetId()}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("another publisher: %v", err)
	}
	if l, err := pub2.ListConversions(ctx, &batonv1.ListConversionsRequest{}); err != nil || len(l.GetConversions()) != 0 {
		t.Fatalf("another publisher lists %v %v", l, err)
	}
	if l, err := e.pubConv.ListConversions(ctx, &batonv1.ListConversionsRequest{}); err != nil || len(l.GetConversions()) != 1 {
		t.Fatalf("publisher lists %v %v", l, err)
	}
}

func TestDuplicatesSequentialAndRacing(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	id := e.clickID(t, "")
	req := &batonv1.RecordConversionRequest{ClickId: id, OrderId: "ORD-DUP", AmountJpy: yen(1000)}
	first, err := e.adv.RecordConversion(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.adv.RecordConversion(ctx, req)
	if err != nil || !again.GetDuplicate() || again.GetConversion().GetId() != first.GetConversion().GetId() {
		t.Fatalf("sequential duplicate: %v %v", again, err)
	}
	// 50 racing reports of one new order: one conversion.
	var wg sync.WaitGroup
	ids := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "ORD-RACE", AmountJpy: yen(500)})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- r.GetConversion().GetId()
		}()
	}
	wg.Wait()
	close(ids)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	list, err := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: "ORD-RACE"})
	if len(distinct) != 1 || err != nil || len(list.GetConversions()) != 1 {
		t.Fatalf("racing: %d distinct IDs answered, %d stored (%v)", len(distinct), len(list.GetConversions()), err)
	}
}

func TestDedupOffStillHonoursIdempotencyKeys(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{DedupeOrderId: proto.Bool(false)})
	ctx := context.Background()
	id := e.clickID(t, "")
	for range 2 {
		if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "SAME", AmountJpy: yen(100)}); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{OrderId: "SAME"})
	if len(list.GetConversions()) != 2 {
		t.Fatalf("dedup off: %d conversions, want 2 (one per hop)", len(list.GetConversions()))
	}
	k := &batonv1.RecordConversionRequest{ClickId: id, OrderId: "SAME", AmountJpy: yen(100), IdempotencyKey: "retry-1"}
	a, err := e.adv.RecordConversion(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.adv.RecordConversion(ctx, k)
	if err != nil || !b.GetDuplicate() || b.GetConversion().GetId() != a.GetConversion().GetId() {
		t.Fatalf("retry with the same idempotency key: %v %v", b, err)
	}
}

func sign(secret string, req *batonv1.RecordConversionRequest) string {
	var minor int64
	cur := ""
	switch {
	case req.AmountJpy != nil:
		cur, minor = "JPY", req.GetAmountJpy()
	}
	return signature.HMAC(secret, signature.Conversion{RequestTime: req.GetRequestTime().AsTime(), ClickID: req.GetClickId(),
		OfferID: req.GetOfferId(), OrderID: req.GetOrderId(), Currency: cur, AmountMinor: minor, IdempotencyKey: req.GetIdempotencyKey()}.Canonical())
}

func TestSignaturesTimestampsAndReplays(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{DedupeOrderId: proto.Bool(false)})
	ctx := context.Background()
	// A publisher key cannot report conversions, unless it holds the
	// advertiser's signature.
	pub := e.pubConv
	id := e.clickID(t, "")
	unsigned := &batonv1.RecordConversionRequest{ClickId: id, OrderId: "S-1", AmountJpy: yen(100)}
	if _, err := pub.RecordConversion(ctx, unsigned); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("unsigned from a publisher key: %v", err)
	}
	now := time.Now()
	signed := &batonv1.RecordConversionRequest{ClickId: id, OrderId: "S-2", AmountJpy: yen(100), RequestTime: timestamppb.New(now)}
	signed.Signature = sign("demo-shop-password", signed)
	if _, err := pub.RecordConversion(ctx, signed); err != nil {
		t.Fatalf("signed with the shop's secret: %v", err)
	}
	// The same signed request again: a replay, refused (dedup is off here).
	if _, err := pub.RecordConversion(ctx, signed); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("replayed: %v", err)
	}
	forged := proto.Clone(signed).(*batonv1.RecordConversionRequest)
	forged.OrderId = "S-3"
	forged.AmountJpy = yen(100000) // the signature was for another amount
	if _, err := pub.RecordConversion(ctx, forged); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("forged: %v", err)
	}
	stale := &batonv1.RecordConversionRequest{ClickId: id, OrderId: "S-4", AmountJpy: yen(100), RequestTime: timestamppb.New(now.Add(-61 * time.Minute))}
	stale.Signature = sign("demo-shop-password", stale)
	_, err := pub.RecordConversion(ctx, stale)
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "too old") {
		t.Fatalf("stale (61 minutes, tolerance 1 hour): %v", err)
	}
	// Nothing refused was counted, and every refusal is visible to the shop.
	list, _ := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{OfferId: e.offer.GetId()})
	if len(list.GetConversions()) != 1 {
		t.Fatalf("%d conversions stored, want only the signed one", len(list.GetConversions()))
	}
	refusals, err := e.adv.ListRefusals(ctx, &batonv1.ListRefusalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, r := range refusalsOf(refusals) {
		codes = append(codes, r.GetCode())
	}
	if got := strings.Join(codes, ","); got != "not_authorized,replayed,bad_signature,stale_timestamp" {
		t.Fatalf("refusals %s", got)
	}
	// Unknown and foreign click IDs.
	if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: "06h0000000000000000000000000g", OrderId: "X", AmountJpy: yen(1)}); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "not issued by this network") {
		t.Fatalf("unknown click: %v", err)
	}
}

func TestTestModeIsRecordedButNeverPaid(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	// No click at all: recorded as a test, with the reason.
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{OfferId: e.offer.GetId(), OrderId: "T-1", AmountJpy: yen(1980),
		Buyer: &batonv1.Buyer{Email: "test@fc2.com"}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.GetConversion()
	if !c.GetTest() || c.GetCommission().GetAmountMinor() != 0 || !strings.Contains(c.GetAttributionSummary(), "Test conversion, never paid: it would not have been attributed") {
		t.Fatalf("test conversion %v", c)
	}
	id := e.clickID(t, "")
	res, err = e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "T-2", AmountJpy: yen(1980), Test: true})
	if err != nil || res.GetConversion().GetCommission().GetAmountMinor() != 0 || !strings.Contains(res.GetConversion().GetAttributionSummary(), "it would have been attributed") {
		t.Fatalf("test with a click: %v %v", res, err)
	}
	// Not listed (or counted) unless asked for.
	if l, _ := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{}); len(l.GetConversions()) != 0 {
		t.Fatalf("test conversions listed by default: %v", l)
	}
	if l, _ := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{IncludeTest: true}); len(l.GetConversions()) != 2 {
		t.Fatalf("include_test: %v", l)
	}
}

func TestIPFallbackFirstAndLastClickAndNone(t *testing.T) {
	t.Parallel()
	for _, model := range []batonv1.AttributionModel{batonv1.AttributionModel_ATTRIBUTION_MODEL_LAST_CLICK, batonv1.AttributionModel_ATTRIBUTION_MODEL_FIRST_CLICK} {
		clock := newTestClock()
		e := newConvEnvWith(t, []app.Option{app.WithClock(clock.Now)}, &batonv1.CreateOfferRequest{AttributionModel: model, DuplicateClickInterval: durationpb.New(time.Nanosecond)})
		ctx := context.Background()
		first := e.clickID(t, "param1=first")
		clock.Advance(time.Second) // the second click is later, without waiting
		last := e.clickID(t, "param1=last")
		clock.Advance(time.Second)
		res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{OfferId: e.offer.GetId(), OrderId: "IP-1", AmountJpy: yen(1000),
			Buyer: &batonv1.Buyer{Ip: "127.0.0.1", UserAgent: browserUA}})
		if err != nil {
			t.Fatal(err)
		}
		c := res.GetConversion()
		want := last
		if model == batonv1.AttributionModel_ATTRIBUTION_MODEL_FIRST_CLICK {
			want = first
		}
		if c.GetClickId() != want || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_IP_MATCH {
			t.Fatalf("%v: click %s path %v, want %s by IP", model, c.GetClickId(), c.GetAttributionPath(), want)
		}
		ex, _ := e.attr.ExplainConversion(ctx, &batonv1.ExplainConversionRequest{ConversionId: c.GetId()})
		if len(ex.GetCandidates()) != 2 || !strings.Contains(ex.GetSummary(), "2 clicks were candidates") {
			t.Fatalf("explain: %v", ex)
		}
		// Another IP: nothing, and Explain says why.
		none, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{OfferId: e.offer.GetId(), OrderId: "IP-2", AmountJpy: yen(1000),
			Buyer: &batonv1.Buyer{Ip: "198.51.100.7"}})
		if err != nil || none.GetConversion().GetPublisherId() != "" || none.GetConversion().GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_NONE ||
			!strings.Contains(none.GetConversion().GetAttributionSummary(), "no click came from its IP address") {
			t.Fatalf("none: %v %v", none, err)
		}
	}
}

// TestASaleBeforeItsClickEarnsNothing checks the window end to end; its
// edges (exactly at the window, one second past) are in package
// attribution, where the clock is the test's.
func TestASaleBeforeItsClickEarnsNothing(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{AttributionWindow: durationpb.New(time.Hour)})
	ctx := context.Background()
	id := e.clickID(t, "")
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "W-2", AmountJpy: yen(1000),
		SaleTime: timestamppb.New(time.Now().Add(-2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.GetConversion(); c.GetPublisherId() != "" || !strings.Contains(c.GetAttributionSummary(), "after the sale") {
		t.Fatalf("sale before the click: %v", c)
	}
}

func TestRecurringChargeFindsThePreviousSale(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	id := e.clickID(t, "param1=sub-monthly")
	if _, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: "M-1", AmountJpy: yen(980),
		Buyer: &batonv1.Buyer{UserName: "hanako"}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{OfferId: e.offer.GetId(), OrderId: "M-2", AmountJpy: yen(980),
		Recurring: true, Buyer: &batonv1.Buyer{UserName: "hanako"}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.GetConversion()
	if c.GetClickId() != id || c.GetAttributionPath() != batonv1.AttributionPath_ATTRIBUTION_PATH_RECURRING_USER || c.GetUpstreamId() != "sub-monthly" {
		t.Fatalf("recurring: %v", c)
	}
	other, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{OfferId: e.offer.GetId(), OrderId: "M-3", AmountJpy: yen(980),
		Recurring: true, Buyer: &batonv1.Buyer{UserName: "jiro"}})
	if err != nil || other.GetConversion().GetPublisherId() != "" || !strings.Contains(other.GetConversion().GetAttributionSummary(), "no earlier attributed sale under this user name") {
		t.Fatalf("unknown user: %v %v", other, err)
	}
}

func TestStatusChanges(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	id := e.clickID(t, "")
	mk := func(order string) string {
		r, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: order, AmountJpy: yen(1000)})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetConversion().GetId()
	}
	set := func(cid string, to batonv1.ConversionStatus, reason batonv1.StatusReason) error {
		_, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: cid, Status: to, Reason: reason, Note: "checked"})
		return err
	}
	const (
		approved = batonv1.ConversionStatus_CONVERSION_STATUS_APPROVED
		rejected = batonv1.ConversionStatus_CONVERSION_STATUS_REJECTED
		reversed = batonv1.ConversionStatus_CONVERSION_STATUS_REVERSED
	)
	a := mk("A")
	if err := set(a, reversed, batonv1.StatusReason_STATUS_REASON_REFUND); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("pending → reversed: %v", err)
	}
	if err := set(a, approved, batonv1.StatusReason_STATUS_REASON_VALID_SALE); err != nil {
		t.Fatal(err)
	}
	if err := set(a, rejected, batonv1.StatusReason_STATUS_REASON_FRAUD); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("approved → rejected: %v", err)
	}
	if err := set(a, reversed, batonv1.StatusReason_STATUS_REASON_REFUND); err != nil {
		t.Fatal(err)
	}
	if err := set(a, approved, batonv1.StatusReason_STATUS_REASON_VALID_SALE); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("reversed is final: %v", err)
	}
	got, _ := e.adv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: a})
	h := got.GetConversion().GetHistory()
	if len(h) != 3 || h[1].GetTo() != approved || h[2].GetReason() != batonv1.StatusReason_STATUS_REASON_REFUND || h[2].GetActor() != "key_demo_advertiser" || h[2].GetNote() != "checked" {
		t.Fatalf("history %v", h)
	}
	b := mk("B")
	if err := set(b, rejected, batonv1.StatusReason_STATUS_REASON_DUPLICATE); err != nil {
		t.Fatal(err)
	}
	if err := set(b, approved, batonv1.StatusReason_STATUS_REASON_VALID_SALE); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("rejected is final: %v", err)
	}
	// expected_status guards against silent overwrites.
	c := mk("C")
	_, err := e.adv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: c, Status: approved, Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE,
		ExpectedStatus: approved})
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("expected_status mismatch: %v", err)
	}
	// A publisher cannot approve its own sales.
	if _, err := e.pubConv.UpdateConversionStatus(ctx, &batonv1.UpdateConversionStatusRequest{Id: c, Status: approved, Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("publisher approving: %v", err)
	}
	// Bulk by order IDs.
	mk("D")
	bulk, err := e.adv.BulkUpdateConversionStatus(ctx, &batonv1.BulkUpdateConversionStatusRequest{OfferId: e.offer.GetId(),
		OrderIds: []string{"C", "D", "B", "nope"}, Status: approved, Reason: batonv1.StatusReason_STATUS_REASON_VALID_SALE})
	if err != nil {
		t.Fatal(err)
	}
	var outcome []string
	for _, r := range bulk.GetResults() {
		outcome = append(outcome, fmt.Sprintf("%s:%v", r.GetOrderId(), r.GetError() == ""))
	}
	if strings.Join(outcome, " ") != "C:true D:true B:false nope:false" || bulk.GetUpdatedCount() != 2 {
		t.Fatalf("bulk: %v", bulk)
	}
}

func TestPayoutOverridesAndReports(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{Payout: &batonv1.Payout{Kind: &batonv1.Payout_Fixed{Fixed: &batonv1.Money{CurrencyCode: "JPY", AmountMinor: 300}}}})
	ctx := context.Background()
	if _, err := e.admin.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: e.clickID(t, ""), OrderId: "F-1", AmountUsd: proto.String("19.99")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clickEnv.admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{
		Offer: &batonv1.Offer{Id: e.offer.GetId(), PayoutOverrides: []*batonv1.PayoutOverride{{PublisherId: app.DemoPublisherID,
			Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 1000}}}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"payout_overrides"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.admin.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: e.clickID(t, ""), OrderId: "F-2", AmountUsd: proto.String("19.99")})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.GetConversion().GetCommission(); c.GetCurrencyCode() != "USD" || c.GetAmountMinor() != 199 {
		t.Fatalf("override 10%% of $19.99 = $1.99: %v", c)
	}
	now := time.Now()
	rep, err := batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoPublisherKey)).GetReport(ctx, &batonv1.GetReportRequest{
		TimeRange: &batonv1.TimeRange{Start: timestamppb.New(now.Add(-24 * time.Hour)), End: timestamppb.New(now.Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.GetRows()) != 1 {
		t.Fatalf("report rows %v", rep.GetRows())
	}
	r := rep.GetRows()[0]
	if r.GetClicks() != 2 || r.GetConversions() != 2 || r.GetPendingConversions() != 2 || r.GetPublisherId() != app.DemoPublisherID {
		t.Fatalf("row %v", r)
	}
	var pending []string
	for _, m := range r.GetCommissionsPending() {
		pending = append(pending, fmt.Sprintf("%s %d", m.GetCurrencyCode(), m.GetAmountMinor()))
	}
	if strings.Join(pending, ",") != "JPY 300,USD 199" {
		t.Fatalf("pending commissions %v", pending)
	}
	pub2 := batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoPublisher2Key))
	if rep2, err := pub2.GetReport(ctx, &batonv1.GetReportRequest{TimeRange: &batonv1.TimeRange{Start: timestamppb.New(now.Add(-time.Hour)), End: timestamppb.New(now.Add(time.Hour))}}); err != nil || len(rep2.GetRows()) != 0 {
		t.Fatalf("another publisher's report %v %v", rep2, err)
	}
	_ = http.StatusOK
}
