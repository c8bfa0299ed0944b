package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestAConversionForAClickStillInAnotherNodesSpoolIsRetryable: two nodes
// on one database; node A answers a click from its spool while its loader
// is held (the click is on A's disk, in no table). A conversion for it
// reported to node B is answered "unavailable, retry shortly" — not
// refused as a click this network never issued, which a shop would not
// retry — and once A has loaded the click, the retry is recorded, once.
func TestAConversionForAClickStillInAnotherNodesSpoolIsRetryable(t *testing.T) {
	t.Parallel()
	master := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	nodeA := startWith(t, nil, func(c *config.Config) { c.MasterKey = master })
	nodeB := startWith(t, nil, func(c *config.Config) { c.MasterKey = master; c.DatabaseURL = nodeA.db })
	e := clickEnvOn(t, nodeA, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	ctx := context.Background()

	// Hold node A's loader: inserts into clicks wait for this lock.
	conn, err := pgx.Connect(ctx, nodeA.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	hold, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx) // released below; a second rollback is a no-op
	if _, err := hold.Exec(ctx, `LOCK TABLE clicks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	sid := clickIDFrom(t, e.click(t, nil, "", browserUA), "sid")

	onB := batonv1connect.NewConversionServiceClient(nodeB.client, nodeB.url, withKey(app.DemoAdvertiserKey))
	report := &batonv1.RecordConversionRequest{ClickId: sid, OrderId: "ACROSS-NODES-1", AmountJpy: yen(2500)}
	_, err = onB.RecordConversion(ctx, report)
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "not stored yet") {
		t.Fatalf("a conversion on node B for a click still in node A's spool: %v; want unavailable (retry), not a refusal", err)
	}
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The shop retries (Connect clients retry unavailable); A loads the
	// click within milliseconds of the lock's release.
	var res *batonv1.RecordConversionResponse
	testwait.Until(t, 10*time.Second, "the retried conversion is answered", func() bool {
		res, err = onB.RecordConversion(ctx, report)
		return connect.CodeOf(err) != connect.CodeUnavailable
	})
	if err != nil || res.GetConversion().GetClickId() != sid || res.GetDuplicate() {
		t.Fatalf("the retry once the click is loaded: %v %v", res.GetConversion(), err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM conversions WHERE order_id = 'ACROSS-NODES-1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("conversions stored for the order: %d (%v), want 1", n, err)
	}
	proof.Tally(t, "nodes: a conversion on one node for a click still spooled on another", 1, 0,
		"answered unavailable while the click was only in the other node's spool, recorded once on retry after it loaded")
}
