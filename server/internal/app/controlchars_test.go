package app_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/proof"
)

// TestControlCharactersAreRefusedAtIntake: order IDs and user names holding
// CR, LF, TAB or other control characters are refused by the API, the FC2
// POST and the image tag (they would end up in postback headers and logs),
// with a reason naming the field, and nothing is stored.
func TestControlCharactersAreRefusedAtIntake(t *testing.T) {
	e := newFC2Env(t)
	ctx := context.Background()
	before := e.rows(t)
	bad := []string{"A\x01B", "A\r\nX-Injected: 1", "A\tB", "A\x7fB", "A\u0085B"}
	tried, lost := 0, 0
	for i, v := range bad {
		tried++
		id := e.clickID(t, "param1=ok")
		_, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: id, OrderId: v, AmountJpy: yen(100)})
		if err == nil || !strings.Contains(err.Error(), "order_id") || !strings.Contains(err.Error(), "control character") {
			lost++
			t.Errorf("API order ID %q: %v, want a refusal naming order_id and control characters", v, err)
		}
		tried++
		code, body := e.post(t, url.Values{"shopid": {"100"}, "unique_id": {v}, "amount_y": {"100"}, "passwd": {demoShopPassword}})
		if code == 200 || body == "OK" {
			lost++
			t.Errorf("FC2 POST unique_id %q: %d %q", v, code, body)
		}
		tried++
		code, body = e.post(t, url.Values{"shopid": {"100"}, "unique_id": {fmt.Sprintf("U-%d", i)}, "uname": {v}, "amount_y": {"100"}, "passwd": {demoShopPassword}})
		if code == 200 || body == "OK" {
			lost++
			t.Errorf("FC2 POST uname %q: %d %q", v, code, body)
		}
	}
	after := e.rows(t)
	after["clicks"] = before["clicks"] // the test's own clicks
	if w := written(before, after); len(w) > 0 {
		lost += len(w)
		t.Errorf("refused input wrote rows: %v", w)
	}
	proof.Tally(t, "hostile: control characters in order IDs, names", tried, lost,
		fmt.Sprintf("%d values (SOH, CR LF, TAB, DEL, NEL) as API order ID, FC2 unique_id and uname: all refused (the API naming the field), 0 rows written", len(bad)))
}
