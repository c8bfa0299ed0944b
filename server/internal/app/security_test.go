package app_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/app"
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
	fmt.Printf("security (SQL metacharacters): %d values tried in names, sub-IDs, order IDs and FC2 tags: all stored verbatim, tables intact\n", tried)
}

// TestMalformedBodiesAreRefusedAndWriteNothing: deeply nested JSON, invalid
// UTF-8 and another partner's IDs are refused with a clear code, and no
// record is written for them.
func TestMalformedBodiesAreRefusedAndWriteNothing(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()
	count := func() int {
		l, err := s.config(adminKey).ListPublishers(ctx, &batonv1.ListPublishersRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.GetPublishers())
	}
	before := count()
	cases := []struct{ name, body, code string }{
		{"deeply nested JSON", `{"name":"x","kind":"PUBLISHER_KIND_MEDIA","subIdParams":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, "invalid_argument"},
		{"invalid UTF-8 in a string", "{\"name\":\"a\xff\xfeb\",\"kind\":\"PUBLISHER_KIND_MEDIA\"}", "invalid_argument"},
		// Valid JSON and UTF-8, but PostgreSQL cannot store a NUL in text.
		{"a NUL in a name", `{"name":"a\u0000b","kind":"PUBLISHER_KIND_MEDIA"}`, "invalid_argument"},
		{"a number where a string goes", `{"name":123,"kind":"PUBLISHER_KIND_MEDIA"}`, "invalid_argument"},
		{"an unknown enum name", `{"name":"x","kind":"PUBLISHER_KIND_ROOT"}`, "invalid_argument"},
	}
	for _, tc := range cases {
		status, code, body := s.post(t, "/baton.v1.ConfigService/CreatePublisher", "application/json", adminKey, strings.NewReader(tc.body))
		if code != tc.code {
			t.Errorf("%s: got %d %q %s, want %s", tc.name, status, code, body, tc.code)
		}
	}
	if after := count(); after != before {
		t.Fatalf("%d publishers written by refused requests", after-before)
	}
	// Another partner's IDs with a publisher key: refused, nothing written.
	pub := s.config(app.DemoPublisherKey)
	if _, err := pub.CreateSite(ctx, &batonv1.CreateSiteRequest{PublisherId: app.DemoPublisher2ID, Name: "x", Url: "https://x.example/"}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("site for another publisher: %v", err)
	}
	sites, _ := s.config(adminKey).ListSites(ctx, &batonv1.ListSitesRequest{PublisherId: app.DemoPublisher2ID})
	if len(sites.GetSites()) != 0 {
		t.Fatal("a refused site was written")
	}
}
