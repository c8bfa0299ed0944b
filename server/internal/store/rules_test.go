package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/store"
)

// The store's own rules, on a real PostgreSQL. Each test opens a fresh
// database (testdb.URL via open): Store owns a pgx pool and commits its own
// transactions (InTx), so it cannot run inside a test's transaction that is
// rolled back; a database per test (created and migrated in about a second
// on the embedded cluster, in parallel) isolates as well.

type fixture struct {
	st    *store.Store
	adv   domain.Advertiser
	pub   domain.Publisher
	offer domain.Offer
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: open(t), now: time.Now().UTC().Truncate(time.Microsecond)}
	var err error
	if f.adv, err = f.st.CreateAdvertiser(ctx, domain.Advertiser{Name: "shop"}, "secret"); err != nil {
		t.Fatal(err)
	}
	if f.pub, err = f.st.CreatePublisher(ctx, domain.Publisher{Name: "media", Kind: domain.PublisherMedia}); err != nil {
		t.Fatal(err)
	}
	f.offer, err = f.st.CreateOffer(ctx, domain.Offer{AdvertiserID: f.adv.ID, Name: "o", Status: domain.OfferActive, LandingURL: "https://s.example/",
		AttributionWindow: time.Hour, AttributionModel: domain.LastClick, TimestampTolerance: time.Hour, DuplicateClickInterval: time.Second,
		DedupeOrderID: true, Payout: domain.Payout{PercentBPS: 100}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) conversion(id, order string) domain.Conversion {
	return domain.Conversion{ID: id, AdvertiserID: f.adv.ID, OfferID: f.offer.ID, OrderID: order, DedupeKey: f.offer.ID + "/" + order,
		Amount: domain.Money{Currency: "JPY", Minor: 1980}, Commission: domain.Money{Currency: "JPY", Minor: 19}, Status: domain.StatusPending,
		Source: domain.SourceAPI, Attribution: domain.Explanation{Path: "none"}, SaleAt: f.now, CreatedAt: f.now}
}

func TestInsertConversionTwiceKeepsTheFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	insert := func(c domain.Conversion) (domain.Conversion, bool) {
		var out domain.Conversion
		var inserted bool
		if err := f.st.InTx(ctx, func(tx store.Tx) error {
			var err error
			out, inserted, err = tx.InsertConversion(ctx, c, "test")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out, inserted
	}
	first, inserted := insert(f.conversion("cv_first", "ORDER-1"))
	if !inserted || first.ID != "cv_first" || first.Amount.Minor != 1980 {
		t.Fatalf("first insert: %v %+v", inserted, first)
	}
	again, inserted := insert(f.conversion("cv_second", "ORDER-1"))
	if inserted || again.ID != "cv_first" {
		t.Fatalf("the same order again: inserted=%v id=%s, want the first conversion (cv_first) back", inserted, again.ID)
	}
	list, _, err := f.st.ListConversions(ctx, domain.ConversionFilter{AdvertiserID: f.adv.ID, IncludeTest: true}, domain.Page{Size: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("stored: %d conversions (%v), want 1", len(list), err)
	}
	if _, err := f.st.GetConversion(ctx, "cv_second"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the duplicate's ID: %v, want ErrNotFound", err)
	}
}

// TestDeliveryCommitsWithItsConversion is the outbox: the postback owed for
// a conversion is written in the conversion's transaction, so both are
// there or neither is.
func TestDeliveryCommitsWithItsConversion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ep, err := f.st.CreateEndpoint(ctx, domain.PostbackEndpoint{PublisherID: f.pub.ID, Events: []domain.ConversionStatus{domain.StatusPending},
		Method: domain.MethodGet, URLTemplate: "https://media.example/pb?o={order_id}", State: domain.EndpointEnabled}, "endpoint-secret")
	if err != nil {
		t.Fatal(err)
	}
	write := func(convID, delivID string, fail error) error {
		return f.st.InTx(ctx, func(tx store.Tx) error {
			c := f.conversion(convID, "ORDER-"+convID)
			c.PublisherID = f.pub.ID
			if _, _, err := tx.InsertConversion(ctx, c, "test"); err != nil {
				return err
			}
			eps, err := tx.EndpointsFor(ctx, f.pub.ID, f.offer.ID, domain.StatusPending, false)
			if err != nil {
				return err
			}
			if len(eps) != 1 || eps[0].ID != ep.ID {
				return fmt.Errorf("endpoints for the event: %v, want %s", eps, ep.ID)
			}
			if err := tx.InsertDelivery(ctx, domain.Delivery{ID: delivID, EndpointID: ep.ID, PublisherID: f.pub.ID, AdvertiserID: f.adv.ID,
				ConversionID: convID, Event: domain.StatusPending, Vars: map[string]string{"order_id": "ORDER-" + convID}, CreatedAt: f.now}); err != nil {
				return err
			}
			return fail
		})
	}
	abort := errors.New("abort after both writes")
	if err := write("cv_rolled", "pd_rolled", abort); !errors.Is(err, abort) {
		t.Fatalf("InTx: %v, want the function's own error back", err)
	}
	if _, err := f.st.GetConversion(ctx, "cv_rolled"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("rolled-back conversion: %v, want ErrNotFound", err)
	}
	if _, err := f.st.GetDelivery(ctx, "pd_rolled"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("rolled-back delivery: %v, want ErrNotFound", err)
	}
	if err := write("cv_kept", "pd_kept", nil); err != nil {
		t.Fatal(err)
	}
	d, err := f.st.GetDelivery(ctx, "pd_kept")
	if err != nil || d.ConversionID != "cv_kept" || d.State != domain.DeliveryPending || d.Vars["order_id"] != "ORDER-cv_kept" {
		t.Fatalf("committed delivery: %+v %v", d, err)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	k, err := f.st.CreateAPIKey(ctx, "shop", domain.RoleAdvertiser, f.adv.ID, "key-material-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := f.st.Authenticate(ctx, "key-material-0123456789"); err != nil || p.KeyID != k.ID || p.PartnerID != f.adv.ID || p.Role != domain.RoleAdvertiser {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	if _, err := f.st.Authenticate(ctx, "another-key-0123456789"); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("an unknown key: %v, want ErrUnauthenticated", err)
	}
	revoked, err := f.st.RevokeAPIKey(ctx, k.ID)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	if _, err := f.st.Authenticate(ctx, "key-material-0123456789"); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("a revoked key: %v, want ErrUnauthenticated", err)
	}
	if _, err := f.st.RevokeAPIKey(ctx, "key_missing"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoking an unknown key: %v, want ErrNotFound", err)
	}
}

func TestPagesVisitEveryRowOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	want := map[string]bool{f.adv.ID: true}
	for i := range 6 {
		a, err := f.st.CreateAdvertiser(ctx, domain.Advertiser{Name: fmt.Sprintf("shop %d", i)}, "secret")
		if err != nil {
			t.Fatal(err)
		}
		want[a.ID] = true
	}
	seen := map[string]bool{}
	page := domain.Page{Size: 3}
	pages := 0
	for {
		list, next, err := f.st.ListAdvertisers(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(list) > 3 {
			t.Fatalf("page %d has %d rows, want at most 3", pages, len(list))
		}
		for _, a := range list {
			if seen[a.ID] {
				t.Fatalf("%s on two pages", a.ID)
			}
			seen[a.ID] = true
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page.After = next
	}
	if len(seen) != len(want) || pages != 3 {
		t.Fatalf("%d pages, %d advertisers seen, want 3 pages and %d", pages, len(seen), len(want))
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("%s never listed", id)
		}
	}
}
