package delivery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/batonhq/baton/server/internal/delivery"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestManyDeliveriesAtOnceEachSentOnceAndLogged owes 200 postbacks at once
// to two endpoints, one answering 200 and one 503, so that the workers'
// reads and attempt writes go in batches: every delivery of the first is
// sent exactly once (its own delivery ID) and succeeded with one attempt
// logged; every delivery of the second has its one retryable attempt
// logged and stays pending with its next attempt scheduled.
func TestManyDeliveriesAtOnceEachSentOnceAndLogged(t *testing.T) {
	const n = 100
	var mu sync.Mutex
	sent := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent[r.Header.Get("X-Baton-Delivery")]++
		mu.Unlock()
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer rcv.Close()
	ctx := context.Background()
	st, adv, pub, offer := seamStore(t)
	var eps []domain.PostbackEndpoint
	for _, path := range []string{"/up", "/down"} {
		ep, err := st.CreateEndpoint(ctx, domain.PostbackEndpoint{PublisherID: pub.ID, Events: []domain.ConversionStatus{domain.StatusPending},
			Method: domain.MethodGet, URLTemplate: rcv.URL + path + "?c={click_id}"}, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	q, err := delivery.NewQueue(st, func(c *river.Config) (delivery.Runner, error) { return st.QueueClient(c) },
		delivery.Options{Client: &http.Client{Timeout: 5 * time.Second}, Workers: 64, Schedule: []time.Duration{time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	// Everything is owed before the workers start: their first fetches
	// claim full batches.
	now := time.Now()
	err = st.InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			c, _, err := tx.InsertConversion(ctx, domain.Conversion{ID: fmt.Sprintf("cv_%d", i), AdvertiserID: adv.ID, OfferID: offer.ID,
				PublisherID: pub.ID, ClickID: fmt.Sprintf("clk_%d", i), OrderID: fmt.Sprintf("o%d", i), Amount: domain.Money{Currency: "JPY", Minor: 1},
				Commission: domain.Money{Currency: "JPY"}, Status: domain.StatusPending, Source: domain.SourceAPI,
				Attribution: domain.Explanation{Path: "last_click"}, SaleAt: now, CreatedAt: now}, "test")
			if err != nil {
				return err
			}
			if err := q.ConversionEvent(ctx, tx, c, domain.StatusPending); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Stop(context.Background()) }()
	settled := func(ep string, want func(domain.Delivery) bool) func() bool {
		return func() bool {
			list, _, err := st.ListDeliveries(ctx, domain.DeliveryFilter{EndpointID: ep}, domain.Page{Size: 2 * n})
			if err != nil || len(list) != n {
				return false
			}
			for _, d := range list {
				if !want(d) {
					return false
				}
			}
			return true
		}
	}
	testwait.Until(t, 60*time.Second, "every delivery to the 200 endpoint succeeded", settled(eps[0].ID, func(d domain.Delivery) bool {
		return d.State == domain.DeliverySucceeded && d.AttemptCount == 1 && len(d.Attempts) == 1 && d.Attempts[0].Outcome == "success"
	}))
	testwait.Until(t, 60*time.Second, "every delivery to the 503 endpoint has its attempt logged", settled(eps[1].ID, func(d domain.Delivery) bool {
		return d.State == domain.DeliveryPending && d.AttemptCount == 1 && len(d.Attempts) == 1 && d.Attempts[0].StatusCode == http.StatusServiceUnavailable &&
			d.NextAttemptAt != nil && d.NextAttemptAt.After(now.Add(45*time.Minute)) // an hour, less the jitter (20%)
	}))
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2*n {
		t.Fatalf("%d distinct delivery IDs received, want %d", len(sent), 2*n)
	}
	for id, k := range sent {
		if k != 1 {
			t.Errorf("delivery %s sent %d times", id, k)
		}
	}
}
