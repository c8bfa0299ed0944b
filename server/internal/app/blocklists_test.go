package app_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
)

// Through the API: an admin blocks the loopback range; the next click from
// it still lands (302 to the landing page), and GetClick and GetReport name
// the reason. Bad entries are refused with a field, and partners may not
// touch the lists.
func TestBlocklistServiceOverHTTP(t *testing.T) {
	t.Parallel()
	e := newClickEnv(t, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	ctx := context.Background()
	admin := batonv1connect.NewBlocklistServiceClient(e.client, e.url, withKey(adminKey))

	_, err := admin.AddBlocklistEntry(ctx, &batonv1.AddBlocklistEntryRequest{Kind: batonv1.BlocklistKind_BLOCKLIST_KIND_IP, Value: "127.0.0.300/8"})
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("a malformed CIDR: %v, want invalid argument", err)
	}
	_, err = admin.AddBlocklistEntry(ctx, &batonv1.AddBlocklistEntryRequest{Value: "x"})
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("no kind: %v, want invalid argument", err)
	}
	pub := batonv1connect.NewBlocklistServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	if _, err := pub.ListBlocklistEntries(ctx, &batonv1.ListBlocklistEntriesRequest{}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a publisher listing blocklists: %v, want permission denied", err)
	}

	added, err := admin.AddBlocklistEntry(ctx, &batonv1.AddBlocklistEntryRequest{
		Kind: batonv1.BlocklistKind_BLOCKLIST_KIND_IP, Value: "127.0.0.0/8", OfferId: e.offer.GetId(), Note: "loopback"})
	if err != nil {
		t.Fatal(err)
	}
	if en := added.GetEntry(); en.GetMatch() != batonv1.BlocklistMatch_BLOCKLIST_MATCH_CIDR || en.GetOfferId() != e.offer.GetId() || en.GetId() == "" {
		t.Fatalf("added %v", en)
	}
	list, err := admin.ListBlocklistEntries(ctx, &batonv1.ListBlocklistEntriesRequest{Kind: batonv1.BlocklistKind_BLOCKLIST_KIND_IP})
	if err != nil || len(list.GetEntries()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}

	res := e.click(t, nil, "", browserUA)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("a blocked click answered %d, want 302: the visit must not break", res.StatusCode)
	}
	id := clickIDFrom(t, res, "sid")
	got, err := e.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetClick()
	if !slices.Equal(c.GetReasons(), []string{"blocked_ip"}) || c.GetUnique() || !slices.Contains(c.GetFlags(), batonv1.ClickFlag_CLICK_FLAG_BLOCKED_IP) {
		t.Fatalf("blocked click: reasons %v flags %v unique %v", c.GetReasons(), c.GetFlags(), c.GetUnique())
	}
	now := time.Now()
	rep, err := batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(adminKey)).GetReport(ctx, &batonv1.GetReportRequest{
		OfferId: e.offer.GetId(), TimeRange: &batonv1.TimeRange{Start: timestamppb.New(now.Add(-time.Hour)), End: timestamppb.New(now.Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	if rows := rep.GetRows(); len(rows) != 1 || len(rows[0].GetClicksByReason()) != 1 ||
		rows[0].GetClicksByReason()[0].GetReason() != "blocked_ip" || rows[0].GetClicksByReason()[0].GetClicks() != 1 {
		t.Fatalf("report rows %v, want one with clicks_by_reason blocked_ip: 1", rows)
	}

	if _, err := admin.RemoveBlocklistEntry(ctx, &batonv1.RemoveBlocklistEntryRequest{Id: added.GetEntry().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.RemoveBlocklistEntry(ctx, &batonv1.RemoveBlocklistEntryRequest{Id: added.GetEntry().GetId()})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound {
		t.Fatalf("removing it again: %v, want not found", err)
	}
	res = e.click(t, nil, "", browserUA+" x")
	got, err = e.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: clickIDFrom(t, res, "sid")})
	if err != nil || len(got.GetClick().GetReasons()) != 0 || !got.GetClick().GetUnique() {
		t.Fatalf("after removal: %v %v", got.GetClick(), err)
	}
}
