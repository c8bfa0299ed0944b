package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/proof"
)

// TestHealthzReflectsThePostbackQueue: /healthz says ok while postbacks
// flow, and 503 with the reason once a delivery that is due has waited
// past the limit without a worker taking it (issue 15: a process whose
// postbacks are stuck is not healthy).
func TestHealthzReflectsThePostbackQueue(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	rcv := newReceiver(t)
	e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/pb?cid={click_id}"})
	conv := e.sale(t, "health", "HEALTH-1")
	e.waitDelivery(t, conv.GetId(), batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED)
	healthz := func() (int, string) {
		t.Helper()
		res, err := http.Get(e.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := healthz(); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz with postbacks flowing = %d %q, want 200 ok", status, body)
	}
	// The delivery is pending again and was due an hour ago, but no job
	// will ever take it: the queue is stuck.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE postback_deliveries SET state = 'pending', next_attempt_at = now() - interval '1 hour'
		WHERE conversion_id = $1`, conv.GetId()); err != nil {
		t.Fatal(err)
	}
	status, body := healthz()
	lost := 0
	if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "postback queue stuck: ") || !strings.Contains(body, "due 1 hour") {
		t.Errorf("/healthz with a delivery due an hour ago = %d %q, want 503 naming the stuck queue", status, body)
		lost++
	}
	proof.Tally(t, "fault: postback queue stuck", 1, lost, "a delivery due an hour ago, never attempted: /healthz 503 with the reason")
}
