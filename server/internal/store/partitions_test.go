package store_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/ids"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

// openAt opens the database at url with the store's clock and IDs at
// now() + shift, so that rows land in the months of that time.
func openAt(t *testing.T, url string, shift time.Duration) *store.Store {
	t.Helper()
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	clock := func() time.Time { return time.Now().Add(shift) }
	st, err := store.Open(context.Background(), url, store.Options{Box: box, Now: clock, IDs: ids.NewSource(clock, nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestIDFloorMatchesPackageIDs: the partition bounds made in SQL are the
// smallest IDs package ids makes at that time, so an ID made in a month
// falls in that month's partition.
func TestIDFloorMatchesPackageIDs(t *testing.T) {
	t.Parallel()
	st := open(t)
	ctx := context.Background()
	for _, at := range []time.Time{time.UnixMilli(1), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC),
		time.UnixMilli(1_765_000_000_123)} {
		var floor string
		if err := store.PoolOf(st).QueryRow(ctx, `SELECT baton_id_floor('cv', $1)`, at).Scan(&floor); err != nil {
			t.Fatal(err)
		}
		zero := ids.NewSource(func() time.Time { return at }, bytes.NewReader(make([]byte, 10))).New("cv")
		before := ids.NewSource(func() time.Time { return at.Add(-time.Millisecond) }, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10))).New("cv")
		if floor != zero || before >= floor {
			t.Errorf("floor at %v = %q; want %q (the smallest ID of that millisecond), above %q", at, floor, zero, before)
		}
	}
}

type partFixture struct {
	adv, pub, offer, endpoint string
}

func newPartFixture(t *testing.T, st *store.Store) partFixture {
	t.Helper()
	ctx := context.Background()
	adv, err := st.CreateAdvertiser(ctx, domain.Advertiser{Name: "shop"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := st.CreatePublisher(ctx, domain.Publisher{Name: "media", Kind: domain.PublisherMedia})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := st.CreateOffer(ctx, domain.Offer{AdvertiserID: adv.ID, Name: "o", Status: domain.OfferActive, LandingURL: "https://s.example/",
		AttributionWindow: time.Hour, AttributionModel: domain.LastClick, TimestampTolerance: time.Hour, DuplicateClickInterval: time.Second,
		Payout: domain.Payout{PercentBPS: 100}})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := st.CreateEndpoint(ctx, domain.PostbackEndpoint{PublisherID: pub.ID, Events: []domain.ConversionStatus{domain.StatusPending},
		Method: domain.MethodGet, URLTemplate: "https://media.example/pb?c={click_id}"}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	return partFixture{adv: adv.ID, pub: pub.ID, offer: offer.ID, endpoint: ep.ID}
}

// newLegacyPartFixture is newPartFixture on a database migrated only up to
// 0029: the offer is written by SQL of that schema, since the store's
// CreateOffer writes columns added later (offers.controls, 0045).
func newLegacyPartFixture(t *testing.T, st *store.Store) partFixture {
	t.Helper()
	ctx := context.Background()
	adv, err := st.CreateAdvertiser(ctx, domain.Advertiser{Name: "shop"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := st.CreatePublisher(ctx, domain.Publisher{Name: "media", Kind: domain.PublisherMedia})
	if err != nil {
		t.Fatal(err)
	}
	offer := ids.Default.New("of")
	if _, err := store.PoolOf(st).Exec(ctx, `INSERT INTO offers (id, advertiser_id, name, status, landing_url, attribution_window,
		attribution_model, ip_match_window, timestamp_tolerance, duplicate_click_interval, payout_percent_bps)
		VALUES ($1, $2, 'o', 'active', 'https://s.example/', '1 hour', 'last_click', '1 hour', '1 hour', '1 second', 100)`, offer, adv.ID); err != nil {
		t.Fatal(err)
	}
	ep, err := st.CreateEndpoint(ctx, domain.PostbackEndpoint{PublisherID: pub.ID, Events: []domain.ConversionStatus{domain.StatusPending},
		Method: domain.MethodGet, URLTemplate: "https://media.example/pb?c={click_id}"}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	return partFixture{adv: adv.ID, pub: pub.ID, offer: offer, endpoint: ep.ID}
}

// sale records a conversion with st's clock and IDs (order as dedupe key,
// idem as idempotency key when set) and, unless delivery is "", a delivery
// in that state (succeeded ones with one attempt). It returns the
// conversion and delivery IDs and whether the conversion was new.
func (f partFixture) sale(t *testing.T, st *store.Store, now time.Time, order, idem string, delivery domain.DeliveryState) (string, string, bool) {
	t.Helper()
	ctx := context.Background()
	var conv domain.Conversion
	var inserted bool
	var dlv string
	err := st.InTx(ctx, func(tx store.Tx) error {
		var err error
		conv, inserted, err = tx.InsertConversion(ctx, domain.Conversion{ID: tx.NewID("cv"), AdvertiserID: f.adv, OfferID: f.offer, PublisherID: f.pub,
			OrderID: order, DedupeKey: order, IdempotencyKey: idem, Amount: domain.Money{Currency: "JPY", Minor: 100},
			Commission: domain.Money{Currency: "JPY", Minor: 1}, Status: domain.StatusPending, Source: domain.SourceAPI,
			Attribution: domain.Explanation{Path: "none"}, SaleAt: now, CreatedAt: now}, "test")
		if err != nil || !inserted || delivery == "" {
			return err
		}
		dlv = tx.NewID("dlv")
		return tx.InsertDelivery(ctx, domain.Delivery{ID: dlv, EndpointID: f.endpoint, PublisherID: f.pub, AdvertiserID: f.adv,
			ConversionID: conv.ID, Event: domain.StatusPending, Vars: map[string]string{"order_id": order}, CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if delivery == domain.DeliverySucceeded {
		if err := st.RecordAttempt(ctx, dlv, domain.Attempt{Number: 1, At: now, URL: "https://media.example/pb", StatusCode: 200, Outcome: "success"},
			domain.DeliverySucceeded, nil); err != nil {
			t.Fatal(err)
		}
	}
	return conv.ID, dlv, inserted
}

// partitionOf names the partition holding the row of table where col = val.
func partitionOf(t *testing.T, st *store.Store, table, col, val string) string {
	t.Helper()
	var name string
	err := store.PoolOf(st).QueryRow(context.Background(), `SELECT tableoid::regclass::text FROM `+table+` WHERE `+col+` = $1 LIMIT 1`, val).Scan(&name)
	if err != nil {
		t.Fatalf("%s %s=%s: %v", table, col, val, err)
	}
	return name
}

// TestPartitionsAreCreatedAndDroppedPerTable: conversions (with history),
// deliveries, attempts and refusals land in the monthly partition of their
// time; the retention of each table drops its months past it and keeps the
// rest; a month of deliveries holding a pending one is kept, and so is the
// month of conversions it points into, until it is delivered. Order IDs of
// dropped conversions are free again; those of kept ones, in any month,
// still deduplicate.
func TestPartitionsAreCreatedAndDroppedPerTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	live := openAt(t, url, 0)
	threeYears, fourYears := -3*365*24*time.Hour, -4*365*24*time.Hour
	oldA, oldB := openAt(t, url, threeYears), openAt(t, url, fourYears)
	f := newPartFixture(t, live)
	for _, st := range []*store.Store{live, oldA, oldB} {
		if _, err := st.EnsurePartitions(ctx); err != nil {
			t.Fatal(err)
		}
	}
	monthA := time.Now().Add(threeYears).UTC().Format("200601")
	monthB := time.Now().Add(fourYears).UTC().Format("200601")
	monthL := time.Now().UTC().Format("200601")

	cvA, dA, _ := f.sale(t, oldA, time.Now().Add(threeYears), "ORDER-A", "", domain.DeliverySucceeded)
	cvB, dB, _ := f.sale(t, oldB, time.Now().Add(fourYears), "ORDER-B", "KEY-B", domain.DeliveryPending)
	cvL, dL, _ := f.sale(t, live, time.Now(), "ORDER-L", "", domain.DeliverySucceeded)
	for _, st := range []*store.Store{oldA, live} {
		if err := st.AddRefusal(ctx, domain.Refusal{AdvertiserID: f.adv, Source: domain.SourcePixel, Code: domain.RefusalInvalidParameter, Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ table, col, val, want string }{
		{"conversions", "id", cvA, "conversions_" + monthA},
		{"conversion_status_changes", "conversion_id", cvA, "conversion_status_changes_" + monthA},
		{"postback_deliveries", "id", dA, "postback_deliveries_" + monthA},
		{"postback_attempts", "delivery_id", dA, "postback_attempts_" + monthA},
		{"conversions", "id", cvB, "conversions_" + monthB},
		{"conversions", "id", cvL, "conversions_" + monthL},
		{"postback_attempts", "delivery_id", dL, "postback_attempts_" + monthL},
	} {
		if got := partitionOf(t, live, c.table, c.col, c.val); got != c.want {
			t.Errorf("%s %s: in %s, want %s", c.table, c.val, got, c.want)
		}
	}
	for _, m := range []string{monthA, monthL} {
		var n int
		if err := store.PoolOf(live).QueryRow(ctx, `SELECT count(*) FROM conversion_refusals_`+m).Scan(&n); err != nil || n != 1 {
			t.Errorf("refusals in month %s: %d (%v), want 1", m, n, err)
		}
	}
	// The idempotency key of a conversion four years old still holds now,
	// and a report taking one key of two takes neither.
	if id, _, inserted := f.sale(t, live, time.Now(), "ORDER-NEW", "KEY-B", ""); inserted || id != cvB {
		t.Fatalf("idempotency key of a 4-year-old conversion: got %s (new %v), want %s", id, inserted, cvB)
	}
	if _, _, inserted := f.sale(t, live, time.Now(), "ORDER-NEW", "", ""); !inserted {
		t.Fatal("an order ID left taken by a report that was not recorded")
	}

	two := 2 * 365 * 24 * time.Hour
	dropped, err := live.DropExpiredPartitions(ctx, store.Retention{Conversions: two, Deliveries: two, Refusals: two})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"conversions_" + monthA, "postback_deliveries_" + monthA, "postback_attempts_" + monthA,
		"conversion_refusals_" + monthA} {
		if !slices.Contains(dropped, want) {
			t.Errorf("dropped %v, want %s among them", dropped, want)
		}
	}
	for _, kept := range []string{"conversions_" + monthB, "postback_deliveries_" + monthB, "conversions_" + monthL, "postback_deliveries_" + monthL} {
		if slices.Contains(dropped, kept) {
			t.Errorf("dropped %s: it holds a pending delivery (or what it points to), or is live", kept)
		}
	}
	if _, err := live.GetConversion(ctx, cvA); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("conversion of a dropped month: %v, want not found", err)
	}
	for _, id := range []string{cvB, cvL} {
		if c, err := live.GetConversion(ctx, id); err != nil || len(c.History) != 1 {
			t.Errorf("kept conversion %s: %v (history %v)", id, err, c.History)
		}
	}
	if d, err := live.GetDelivery(ctx, dL); err != nil || len(d.Attempts) != 1 {
		t.Errorf("live delivery: %v %v", d, err)
	}
	if _, _, inserted := f.sale(t, live, time.Now(), "ORDER-A", "", ""); !inserted {
		t.Error("the order ID of a dropped conversion is still taken")
	}
	if id, _, inserted := f.sale(t, live, time.Now(), "ORDER-B", "", ""); inserted || id != cvB {
		t.Errorf("order of a kept 4-year-old conversion: %s (new %v), want %s", id, inserted, cvB)
	}

	// Delivered, the old month goes at the next run, with its conversions.
	if err := live.RecordAttempt(ctx, dB, domain.Attempt{Number: 1, At: time.Now(), URL: "u", StatusCode: 200, Outcome: "success"},
		domain.DeliverySucceeded, nil); err != nil {
		t.Fatal(err)
	}
	dropped, err = live.DropExpiredPartitions(ctx, store.Retention{Conversions: two, Deliveries: two, Refusals: two})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(dropped, "postback_deliveries_"+monthB) || !slices.Contains(dropped, "conversions_"+monthB) {
		t.Errorf("second run dropped %v, want the delivered month %s of deliveries and conversions", dropped, monthB)
	}
	// Nothing of the current months is ever dropped, and they exist.
	var n int
	if err := store.PoolOf(live).QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = ANY($1)`,
		[]string{"conversions_" + monthL, "conversion_status_changes_" + monthL, "postback_deliveries_" + monthL,
			"postback_attempts_" + monthL, "conversion_refusals_" + monthL}).Scan(&n); err != nil || n != 5 {
		t.Errorf("live partitions: %d of 5 (%v)", n, err)
	}
}

// TestUpgradeMovesRowsIntoPartitions: a database of the schema before
// partitioning (migration 0029), with conversions, history, keys,
// deliveries, attempts and refusals, is converted in place: every row is
// kept and lands in its month, the indexes and foreign keys are back under
// their names, and the old order IDs and idempotency keys still
// deduplicate.
func TestUpgradeMovesRowsIntoPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	st, err := store.Open(ctx, testdb.URL(t), store.Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := store.MigrateUpTo(ctx, st, 29); err != nil {
		t.Fatal(err)
	}
	f := newLegacyPartFixture(t, st)
	pool := store.PoolOf(st)
	old := time.Now().AddDate(0, -7, 0)
	cvOld := ids.NewSource(func() time.Time { return old }, nil).New("cv")
	cvNow := ids.Default.New("cv")
	dlv := ids.Default.New("dlv")
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for _, c := range []struct {
		id, order string
		at        time.Time
	}{{cvOld, "UP-OLD", old}, {cvNow, "UP-NOW", time.Now()}} {
		exec(`INSERT INTO conversions (id, advertiser_id, offer_id, publisher_id, order_id, dedupe_key, idempotency_key, currency, amount_minor,
			commission_currency, commission_minor, status, source, attribution_path, attribution, sale_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5, 'key-' || $5, 'JPY', 100, 'JPY', 1, 'pending', 1, 'none', '{}', $6, $6, $6)`,
			c.id, f.adv, f.offer, f.pub, c.order, c.at)
		exec(`INSERT INTO conversion_status_changes (conversion_id, seq, from_status, to_status, reason, actor, at)
			VALUES ($1, 1, '', 'pending', 'recorded', 'test', $2)`, c.id, c.at)
	}
	exec(`INSERT INTO postback_deliveries (id, endpoint_id, publisher_id, advertiser_id, conversion_id, event, state, vars, test, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', 'succeeded', '{}', false, now(), now())`, dlv, f.endpoint, f.pub, f.adv, cvOld)
	exec(`INSERT INTO postback_attempts (delivery_id, number, at, url, status_code, outcome, latency_us) VALUES ($1, 1, now(), 'u', 200, 'success', 5)`, dlv)
	exec(`INSERT INTO conversion_refusals (id, advertiser_id, source, code, message, created_at, last_seen) VALUES ('ref_legacy', $1, 1, 'x', 'before 0017', now(), now())`, f.adv)
	if err := st.AddRefusal(ctx, domain.Refusal{AdvertiserID: f.adv, Source: domain.SourcePixel, Code: domain.RefusalInvalidParameter, Message: "m"}); err != nil {
		t.Fatal(err)
	}

	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ table, col, val, want string }{
		{"conversions", "id", cvOld, "conversions_" + old.UTC().Format("200601")},
		{"conversion_status_changes", "conversion_id", cvOld, "conversion_status_changes_" + old.UTC().Format("200601")},
		{"conversions", "id", cvNow, "conversions_" + time.Now().UTC().Format("200601")},
		{"postback_deliveries", "id", dlv, "postback_deliveries_" + time.Now().UTC().Format("200601")},
		{"postback_attempts", "delivery_id", dlv, "postback_attempts_" + time.Now().UTC().Format("200601")},
		{"conversion_refusals", "id", "ref_legacy", "conversion_refusals_default"},
		{"conversion_refusals", "code", string(domain.RefusalInvalidParameter), "conversion_refusals_" + time.Now().UTC().Format("200601")},
	} {
		if got := partitionOf(t, st, c.table, c.col, c.val); got != c.want {
			t.Errorf("%s %s: in %s, want %s", c.table, c.val, got, c.want)
		}
	}
	var names []string
	rows, _ := pool.Query(ctx, `SELECT conname FROM pg_constraint WHERE conrelid = ANY('{conversions,conversion_status_changes,postback_deliveries,postback_attempts}'::regclass[])
		AND conparentid = 0 AND contype IN ('f', 'p') UNION ALL
		SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = ANY('{conversions,postback_deliveries,conversion_refusals}'::regclass[])
		ORDER BY 1`)
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	for _, want := range []string{"conversions_pkey", "conversions_advertiser_id_fkey", "conversions_offer_id_fkey", "conversions_publisher_idx",
		"conversions_pending_idx", "conversions_click_idx", "conversion_status_changes_conversion_id_fkey", "postback_deliveries_conversion_id_fkey",
		"postback_deliveries_endpoint_id_fkey", "postback_deliveries_pending_idx", "postback_attempts_delivery_id_fkey", "postback_attempts_pkey",
		"conversion_refusals_bucket_idx", "conversion_refusals_created_idx", "conversion_refusals_advertiser_idx"} {
		if !slices.Contains(names, want) {
			t.Errorf("after the upgrade: no %s among %v", want, names)
		}
	}
	for _, c := range []struct{ order, idem, want string }{{"UP-OLD", "", cvOld}, {"UP-OTHER", "key-UP-NOW", cvNow}} {
		if id, _, inserted := f.sale(t, st, time.Now(), c.order, c.idem, ""); inserted || id != c.want {
			t.Errorf("order %s key %s after the upgrade: %s (new %v), want %s", c.order, c.idem, id, inserted, c.want)
		}
	}
	if c, err := st.GetConversion(ctx, cvOld); err != nil || len(c.History) != 1 {
		t.Errorf("moved conversion: %v %v", c, err)
	}
	if d, err := st.GetDelivery(ctx, dlv); err != nil || len(d.Attempts) != 1 {
		t.Errorf("moved delivery: %v %v", d, err)
	}
}
