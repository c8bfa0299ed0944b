package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/store"
)

// TestAttemptsRecordedInOneStatementAllOrNone: the worker's batched reads
// and writes. RecordAttempts appends each attempt and moves each delivery
// (a retry with its next time, a success settled); a batch holding one
// attempt the log refuses (the same attempt number twice for a delivery)
// changes nothing at all, so the worker can write them one by one instead.
// LoadDeliveries leaves out unknown IDs; EndpointsForDeliveries opens the
// endpoint's secrets and leaves out deleted endpoints.
func TestAttemptsRecordedInOneStatementAllOrNone(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t, []domain.EndpointSecret{{Name: "api_key", Value: "sk_batch_value"}})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := []string{"dlv_b1", "dlv_b2", "dlv_b3"}
	err := f.st.InTx(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			d := domain.Delivery{ID: id, EndpointID: f.ep.ID, PublisherID: f.conv.PublisherID, AdvertiserID: f.conv.AdvertiserID,
				ConversionID: f.conv.ID, Event: domain.StatusPending, CreatedAt: now, Vars: map[string]string{"click_id": id}}
			if err := tx.InsertDelivery(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.st.LoadDeliveries(ctx, append(ids, "dlv_unknown"))
	if err != nil || len(got) != 3 {
		t.Fatalf("LoadDeliveries: %d %v, want the 3 stored", len(got), err)
	}
	eps, err := f.st.EndpointsForDeliveries(ctx, []string{f.ep.ID, "pbe_unknown"})
	if err != nil || len(eps) != 1 {
		t.Fatalf("EndpointsForDeliveries: %v %v", eps, err)
	}
	if e := eps[f.ep.ID]; e.Err != nil || len(e.Secrets) != 1 || e.Secrets[0] != "whsec_test" ||
		len(e.Endpoint.Secrets) != 1 || e.Endpoint.Secrets[0].Value != "sk_batch_value" {
		t.Fatalf("endpoint for sending: %+v", e)
	}

	next := now.Add(5 * time.Second)
	attempt := func(n int, outcome string, code int) domain.Attempt {
		return domain.Attempt{Number: n, At: now, URL: "https://media.example/pb?c=***", StatusCode: code, Outcome: outcome,
			Latency: 1500 * time.Microsecond, ResponseExcerpt: "body", Error: ""}
	}
	// One attempt the log refuses: b3's attempt 1 twice. Nothing changes.
	bad := []domain.AttemptRecord{
		{DeliveryID: "dlv_b1", Attempt: attempt(1, "success", 200), State: domain.DeliverySucceeded},
		{DeliveryID: "dlv_b3", Attempt: attempt(1, "retryable_status", 503), State: domain.DeliveryPending, NextAt: &next},
		{DeliveryID: "dlv_b3", Attempt: attempt(1, "retryable_status", 503), State: domain.DeliveryPending, NextAt: &next},
	}
	if err := f.st.RecordAttempts(ctx, bad); err == nil {
		t.Fatal("a batch with a duplicate attempt was accepted")
	}
	for _, id := range ids {
		d, err := f.st.GetDelivery(ctx, id)
		if err != nil || d.State != domain.DeliveryPending || len(d.Attempts) != 0 || d.AttemptCount != 0 {
			t.Fatalf("%s after a refused batch: %+v %v, want untouched", id, d, err)
		}
	}

	good := []domain.AttemptRecord{
		{DeliveryID: "dlv_b1", Attempt: attempt(1, "success", 200), State: domain.DeliverySucceeded},
		{DeliveryID: "dlv_b2", Attempt: attempt(1, "refused", 410), State: domain.DeliveryFailed},
		{DeliveryID: "dlv_b3", Attempt: attempt(1, "retryable_status", 503), State: domain.DeliveryPending, NextAt: &next},
	}
	if err := f.st.RecordAttempts(ctx, good); err != nil {
		t.Fatal(err)
	}
	for i, want := range good {
		d, err := f.st.GetDelivery(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if d.State != want.State || d.AttemptCount != 1 || len(d.Attempts) != 1 {
			t.Fatalf("%s: state %s, %d attempts (count %d), want %s and 1", d.ID, d.State, len(d.Attempts), d.AttemptCount, want.State)
		}
		a := d.Attempts[0]
		if a.Outcome != want.Attempt.Outcome || a.StatusCode != want.Attempt.StatusCode || a.Latency != want.Attempt.Latency ||
			a.URL != want.Attempt.URL || a.ResponseExcerpt != "body" || !a.At.Equal(now) {
			t.Fatalf("%s attempt: %+v, want %+v", d.ID, a, want.Attempt)
		}
		if (want.NextAt == nil) != (d.NextAttemptAt == nil) || (want.NextAt != nil && !d.NextAttemptAt.Equal(next)) {
			t.Fatalf("%s next attempt %v, want %v", d.ID, d.NextAttemptAt, want.NextAt)
		}
	}
	// A delivery that does not exist fails the batch too.
	gone := []domain.AttemptRecord{{DeliveryID: "dlv_unknown", Attempt: attempt(1, "success", 200), State: domain.DeliverySucceeded}}
	if err := f.st.RecordAttempts(ctx, gone); err == nil {
		t.Fatal("an attempt for an unknown delivery was accepted")
	}
}
