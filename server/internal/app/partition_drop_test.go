package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/ids"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/store"
)

// TestExpiredPartitionsAreDroppedUnderLoad: while conversions come in
// through the API and their postbacks go out, the retention job drops a
// month three years old of conversions, deliveries, attempts and refusals.
// Every request is answered without error, every acknowledged conversion
// is stored once with one delivery, delivered once, and the old month is
// gone.
func TestExpiredPartitionsAreDroppedUnderLoad(t *testing.T) {
	t.Parallel()
	e := newPBEnv(t)
	rcv := newReceiver(t)
	ep, _ := e.endpoint(t, &batonv1.CreatePostbackEndpointRequest{UrlTemplate: rcv.URL + "/cv?c={click_id}"})
	ctx := context.Background()

	// The expired month, written as it was three years ago.
	ago := -3 * 365 * 24 * time.Hour
	clock := func() time.Time { return time.Now().Add(ago) }
	old, err := store.Open(ctx, e.db, store.Options{Box: testBox(t), Now: clock, IDs: ids.NewSource(clock, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.EnsurePartitions(ctx); err != nil {
		t.Fatal(err)
	}
	const nOld = 40
	for i := range nOld {
		var dlv string
		err := old.InTx(ctx, func(tx store.Tx) error {
			c, _, err := tx.InsertConversion(ctx, domain.Conversion{ID: tx.NewID("cv"), AdvertiserID: app.DemoAdvertiserID, OfferID: e.offer.GetId(),
				PublisherID: app.DemoPublisherID, OrderID: fmt.Sprintf("OLD-%d", i), DedupeKey: fmt.Sprintf("OLD-%d", i),
				Amount: domain.Money{Currency: "JPY", Minor: 1980}, Commission: domain.Money{Currency: "JPY", Minor: 19}, Status: domain.StatusPending,
				Source: domain.SourceAPI, Attribution: domain.Explanation{Path: "none"}, SaleAt: clock(), CreatedAt: clock()}, "test")
			if err != nil {
				return err
			}
			dlv = tx.NewID("dlv")
			return tx.InsertDelivery(ctx, domain.Delivery{ID: dlv, EndpointID: ep.GetId(), PublisherID: app.DemoPublisherID,
				AdvertiserID: app.DemoAdvertiserID, ConversionID: c.ID, Event: domain.StatusPending, Vars: map[string]string{}, CreatedAt: clock()})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := old.RecordAttempt(ctx, dlv, domain.Attempt{Number: 1, At: clock(), URL: "https://old.example/", StatusCode: 200, Outcome: "success"},
			domain.DeliverySucceeded, nil); err != nil {
			t.Fatal(err)
		}
		if err := old.AddRefusal(ctx, domain.Refusal{AdvertiserID: app.DemoAdvertiserID, Source: domain.SourcePixel,
			Code: domain.RefusalInvalidParameter, Message: fmt.Sprintf("old %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	month := clock().UTC().Format("200601")

	// The load: n conversions on n clicks, 16 at a time, and a reader.
	const n = 240
	clicks := make([]string, n)
	for i := range clicks {
		clicks[i] = e.clickID(t, fmt.Sprintf("param1=load-%d", i))
	}
	dropper, err := store.Open(ctx, e.db, store.Options{Box: testBox(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer dropper.Close()
	var acked, requestErrors atomic.Int64
	var wg sync.WaitGroup
	third := make(chan struct{})
	var thirdOnce sync.Once
	var dropped []string
	var dropErr error
	var dropTook time.Duration
	var duringDrop int64
	dropDone := make(chan struct{})
	go func() {
		defer close(dropDone)
		<-third
		two := 2 * 365 * 24 * time.Hour
		start, before := time.Now(), acked.Load()
		dropped, dropErr = dropper.DropExpiredPartitions(ctx, store.Retention{Conversions: two, Deliveries: two, Refusals: two})
		dropTook, duringDrop = time.Since(start), acked.Load()-before
	}()
	stopReading := make(chan struct{})
	var reads atomic.Int64
	wg.Add(1)
	go func() { // the reports a partner reads meanwhile
		defer wg.Done()
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			if _, err := e.adv.ListConversions(ctx, &batonv1.ListConversionsRequest{}); err != nil {
				requestErrors.Add(1)
			}
			if _, err := e.pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{}); err != nil {
				requestErrors.Add(1)
			}
			reads.Add(2)
		}
	}()
	sem := make(chan struct{}, 16)
	var load sync.WaitGroup
	for i := range n {
		load.Add(1)
		sem <- struct{}{}
		go func() {
			defer load.Done()
			defer func() { <-sem }()
			res, err := e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: clicks[i], OrderId: fmt.Sprintf("LIVE-%d", i), AmountJpy: yen(1980)})
			switch {
			case err != nil:
				requestErrors.Add(1)
				t.Logf("conversion %d: %v", i, err)
			case res.GetDuplicate():
				t.Errorf("conversion %d answered as a duplicate", i)
			default:
				if acked.Add(1) == n/3 {
					thirdOnce.Do(func() { close(third) })
				}
			}
		}()
	}
	load.Wait()
	thirdOnce.Do(func() { close(third) })
	<-dropDone
	close(stopReading)
	wg.Wait()
	if dropErr != nil {
		t.Fatalf("retention job: %v", dropErr)
	}
	for _, want := range []string{"conversions_" + month, "postback_deliveries_" + month, "postback_attempts_" + month, "conversion_refusals_" + month} {
		if !slices.Contains(dropped, want) {
			t.Errorf("dropped %v, want %s among them", dropped, want)
		}
	}
	settled(t, e.testServer)

	conn, err := pgx.Connect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored, distinct, deliveries, delivered, oldLeft int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT order_id) FROM conversions WHERE order_id LIKE 'LIVE-%'`).Scan(&stored, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE d.state = 'succeeded') FROM postback_deliveries d
		JOIN conversions c ON c.id = d.conversion_id WHERE c.order_id LIKE 'LIVE-%'`).Scan(&deliveries, &delivered); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM conversions WHERE order_id LIKE 'OLD-%')
		+ (SELECT count(*) FROM conversion_keys WHERE key LIKE 'OLD-%')
		+ (SELECT count(*) FROM postback_attempts WHERE url = 'https://old.example/')
		+ (SELECT count(*) FROM conversion_refusals WHERE message LIKE 'old %')`).Scan(&oldLeft); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	sent := map[string]int{}
	for _, r := range rcv.got {
		sent[r.Header.Get("X-Baton-Delivery")]++
	}
	received := len(rcv.got)
	rcv.mu.Unlock()
	ack := int(acked.Load())
	lost := abs(ack-stored) + (stored - distinct) + abs(ack-deliveries) + abs(ack-delivered) + abs(ack-len(sent)) + (received - len(sent)) +
		int(requestErrors.Load())
	if oldLeft != 0 {
		t.Errorf("%d rows of the expired month left", oldLeft)
	}
	proof.Tally(t, "fault: expired partitions dropped under conversion and postback load", n, lost,
		fmt.Sprintf("%d acknowledged, %d stored (%d distinct), %d delivered once (%d postbacks), %d request errors (%d reads); dropped %d partitions in %v while %d were acknowledged",
			ack, stored, distinct, len(sent), received, requestErrors.Load(), reads.Load(), len(dropped), dropTook.Round(time.Millisecond), duringDrop))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
