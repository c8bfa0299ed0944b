package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

// TestRefusalsAreAggregatedPerMinuteAndExpire: repeated refusals of one
// advertiser, source and code in one minute are one row, counted, with the
// first RefusalSamples kept; the next minute starts another; a report for a
// shop that does not exist keeps nothing but its count; retention deletes
// aggregates first seen before the cutoff.
func TestRefusalsAreAggregatedPerMinuteAndExpire(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 10, 0, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	st, err := store.Open(context.Background(), testdb.URL(t), store.Options{Box: box, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx := context.Background()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	add := func(adv string, code domain.RefusalCode, order string) {
		t.Helper()
		if err := st.AddRefusal(ctx, domain.Refusal{AdvertiserID: adv, Source: domain.SourcePixel, Code: code, Message: "bad " + order,
			OrderID: order, Params: map[string]string{"unique_id": order}, RemoteIP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); add("adv_1", domain.RefusalInvalidParameter, fmt.Sprintf("O-%d", i)) }()
	}
	wg.Wait()
	add("adv_1", domain.RefusalBadSignature, "SIG")
	add("", domain.RefusalUnknownShop, "SECRET-ORDER")
	add("", domain.RefusalUnknownShop, "SECRET-ORDER-2")
	set(now.Add(time.Minute))
	add("adv_1", domain.RefusalInvalidParameter, "NEXT-MINUTE")

	list, _, err := st.ListRefusals(ctx, "", 0, time.Time{}, time.Time{}, domain.Page{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]domain.Refusal{}
	for _, r := range list {
		got[fmt.Sprintf("%s/%s/%s", r.AdvertiserID, r.Code, r.CreatedAt.Format("15:04"))] = r
	}
	if len(list) != 4 {
		t.Fatalf("%d aggregates, want 4: %v", len(list), got)
	}
	flood := got["adv_1/invalid_parameter/10:00"]
	if flood.Count != 50 || len(flood.Samples) != store.RefusalSamples || flood.Samples[0].OrderID != flood.OrderID || flood.LastSeen.Before(flood.CreatedAt) {
		t.Errorf("flood aggregate: count %d, %d samples (first %q, top %q), first %v last %v", flood.Count, len(flood.Samples),
			flood.Samples[0].OrderID, flood.OrderID, flood.CreatedAt, flood.LastSeen)
	}
	if r := got["adv_1/invalid_parameter/10:01"]; r.Count != 1 || len(r.Samples) != 1 || r.Samples[0].OrderID != "NEXT-MINUTE" || r.Samples[0].Params["unique_id"] != "NEXT-MINUTE" {
		t.Errorf("next minute: %+v", r)
	}
	if r := got["/unknown_shop/10:00"]; r.Count != 2 || len(r.Samples) != 0 || r.OrderID != "" || len(r.Params) != 0 || r.RemoteIP != "" {
		t.Errorf("unknown shop keeps what it sent: %+v", r)
	}
	// Retention: aggregates first seen before the cutoff go.
	n, err := st.DeleteRefusalsBefore(ctx, time.Date(2026, 5, 1, 10, 1, 0, 0, time.UTC))
	if err != nil || n != 3 {
		t.Fatalf("deleted %d, %v; want the 3 aggregates of 10:00", n, err)
	}
	list, _, _ = st.ListRefusals(ctx, "", 0, time.Time{}, time.Time{}, domain.Page{Size: 100})
	if len(list) != 1 || list[0].OrderID != "NEXT-MINUTE" {
		t.Errorf("after retention: %+v", list)
	}
}
