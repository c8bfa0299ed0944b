package app_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/proof"
)

// sqlish are values that would break a query built by string concatenation.
var sqlish = []string{
	`Robert'); DROP TABLE clicks; --`,
	`" OR "1"="1`,
	`'; UPDATE api_keys SET revoked_at = NULL; --`,
	`\'; SELECT pg_sleep(10); --`,
	`$1$$; DROP TABLE conversions; $$`,
}

// TestHostileStringsAreStoredAsData puts SQL metacharacters in every kind of
// string field (names, order IDs, sub-IDs, FC2 parameters): each is stored
// and read back verbatim, and the tables are intact.
func TestHostileStringsAreStoredAsData(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	ctx := context.Background()
	tried := 0
	for i, v := range sqlish {
		tried++
		pub, err := e.clickEnv.admin.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: v, Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
		if err != nil || pub.GetPublisher().GetName() != v {
			t.Fatalf("publisher name %q: %v %v", v, pub, err)
		}
		tried++
		click := e.click(t, nil, "param1="+url.QueryEscape(v), browserUA)
		id := clickIDFrom(t, click, "sid")
		c, err := e.clicks.GetClick(ctx, &batonv1.GetClickRequest{Id: id})
		if err != nil || c.GetClick().GetUpstream().GetId() != v {
			t.Fatalf("sub-ID %q: %v %v", v, c, err)
		}
		tried++
		order := fmt.Sprintf("%s-%d", v, i)
		conv, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: order, AmountJpy: yen(1)})
		if err != nil || conv.GetConversion().GetOrderId() != order {
			t.Fatalf("order ID %q: %v %v", order, conv, err)
		}
		tried++
		tagOrder := fmt.Sprintf("tag-%d-%s", i, v)
		e.pixel(t, fc2Tag(map[string]string{"shopid": "100", "unique_id": tagOrder, "amount_y": "1", "ts": nowTS()}, demoShopPassword))
		e.conversionByOrder(t, tagOrder)
	}
	// The tables are all there and the keys still work.
	if _, err := e.clicks.ListClicks(ctx, &batonv1.ListClicksRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{}); err != nil {
		t.Fatal(err)
	}
	proof.Tally(t, "hostile: SQL metacharacters through HTTP", tried, 0,
		fmt.Sprintf("%d values in publisher names, click sub-IDs, API order IDs and FC2 tags: all stored verbatim, tables intact", tried))
}
