package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testwait"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestInjectedClockDrivesTheAttributionWindow moves time past an offer's
// one-hour window without waiting for it: a conversion reported "now" (no
// sale time) two hours after the click earns nothing, and says why.
func TestInjectedClockDrivesTheAttributionWindow(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	e := newConvEnvWith(t, []app.Option{app.WithClock(clock.Now)}, &batonv1.CreateOfferRequest{AttributionWindow: durationpb.New(time.Hour)})
	ctx := context.Background()

	inside := e.clickID(t, "")
	clock.Advance(30 * time.Minute)
	res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: inside, OrderId: "CLOCK-1", AmountJpy: yen(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.GetConversion(); c.GetPublisherId() != app.DemoPublisherID {
		t.Fatalf("30 minutes after the click, inside the 1 hour window: %v", c)
	}
	if got, want := res.GetConversion().GetSaleTime().AsTime(), clock.Now().Truncate(time.Microsecond); !got.Equal(want) {
		t.Fatalf("sale time %v, want the injected clock's %v", got, want)
	}

	outside := e.clickID(t, "")
	clock.Advance(2 * time.Hour)
	res, err = e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: outside, OrderId: "CLOCK-2", AmountJpy: yen(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.GetConversion(); c.GetPublisherId() != "" || !strings.Contains(c.GetAttributionSummary(), "outside the 1 hour window") {
		t.Fatalf("2 hours after the click, outside the 1 hour window: %v", c)
	}
}

// TestInjectedClockExpiresCachedKeys: a key revoked by another Baton (here,
// straight in the database) stops working in this one once its cache entry
// is older than ten seconds, by the injected clock, with no wait.
func TestInjectedClockExpiresCachedKeys(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	s := startWith(t, []app.Option{app.WithClock(clock.Now)})
	ctx := context.Background()
	created, err := s.config(adminKey).CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "elsewhere", Role: batonv1.Role_ROLE_ADVERTISER, PartnerId: app.DemoAdvertiserID})
	if err != nil {
		t.Fatal(err)
	}
	shop := s.config(created.GetKey())
	conn, err := pgx.Connect(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The node's configuration listener drops every cache when it first
	// connects (announcements may have been missed before): let it connect
	// before the key is cached.
	testwait.Until(t, 10*time.Second, "the configuration listener listens", func() bool {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1 AND (query LIKE 'LISTEN%' OR query = '-- ping')`, store.ListenerName).Scan(&n)
		return err == nil && n > 0
	})
	if _, err := shop.WhoAmI(ctx, &batonv1.WhoAmIRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, created.GetApiKey().GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := shop.WhoAmI(ctx, &batonv1.WhoAmIRequest{}); err != nil {
		t.Fatalf("within the cache's ten seconds the key still answers: %v", err)
	}
	clock.Advance(11 * time.Second)
	if _, err := shop.WhoAmI(ctx, &batonv1.WhoAmIRequest{}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("eleven seconds after its revocation elsewhere: %v, want unauthenticated", err)
	}
}

// TestInjectedClockDatesADryRunSample: a dry run's sample sale with no time
// happens "now" by the injected clock, as every other time in the server
// does (the RPC layer used to read the wall clock itself).
func TestInjectedClockDatesADryRunSample(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	s := startWith(t, []app.Option{app.WithClock(func() time.Time { return fixed })})
	pb := batonv1connect.NewPostbackServiceClient(s.client, s.url, withKey(adminKey))
	res, err := pb.RenderPostback(context.Background(), &batonv1.RenderPostbackRequest{
		UrlTemplate: "https://m.example/cv?sale={sale_time}&o={order_id}",
		Sample:      &batonv1.SampleConversion{OrderId: "CLOCK-SAMPLE"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetVariables()["sale_time"]; got != "2031-02-03T04:05:06Z" {
		t.Fatalf("sale_time %q (URL %s), want the injected clock's 2031-02-03T04:05:06Z", got, res.GetUrl())
	}
}
