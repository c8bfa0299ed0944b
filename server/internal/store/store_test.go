package store_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func open(t *testing.T) *store.Store {
	t.Helper()
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	st, err := store.Open(context.Background(), testdb.URL(t), store.Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Migrating again applies nothing.
	if again, err := st.Migrate(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("second migration: %v %v", again, err)
	}
	return st
}

func TestAutoApprovalIsDueAfterTheOffersDays(t *testing.T) {
	t.Parallel()
	st := open(t)
	ctx := context.Background()
	adv, err := st.CreateAdvertiser(ctx, domain.Advertiser{Name: "shop"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(days int) domain.Offer {
		o, err := st.CreateOffer(ctx, domain.Offer{AdvertiserID: adv.ID, Name: "o", Status: domain.OfferActive, LandingURL: "https://s.example/",
			AttributionWindow: time.Hour, AttributionModel: domain.LastClick, TimestampTolerance: time.Hour, DuplicateClickInterval: time.Second,
			AutoApproveAfterDays: days, Payout: domain.Payout{PercentBPS: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	auto, manual := mk(2), mk(0)
	now := time.Now()
	conv := func(o domain.Offer, order string, age time.Duration, test bool) {
		err := st.InTx(ctx, func(tx store.Tx) error {
			_, _, err := tx.InsertConversion(ctx, domain.Conversion{ID: "cv_" + order, AdvertiserID: adv.ID, OfferID: o.ID, OrderID: order,
				Amount: domain.Money{Currency: "JPY", Minor: 1}, Commission: domain.Money{Currency: "JPY"}, Status: domain.StatusPending,
				Test: test, Source: domain.SourceAPI, Attribution: domain.Explanation{Path: "none"}, SaleAt: now.Add(-age), CreatedAt: now.Add(-age)}, "test")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	conv(auto, "old", 49*time.Hour, false)
	conv(auto, "young", 47*time.Hour, false)
	conv(auto, "oldtest", 49*time.Hour, true)
	conv(manual, "manual", 100*time.Hour, false)
	ids, err := st.DueForAutoApproval(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != "cv_old" {
		t.Fatalf("due for auto-approval: %v, want only cv_old", ids)
	}
}
