package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/store"
)

// outboxFixture is a publisher's endpoint and a conversion to owe it a
// postback for.
type outboxFixture struct {
	st   *store.Store
	ep   domain.PostbackEndpoint
	conv domain.Conversion
}

func newOutboxFixture(t *testing.T, secrets []domain.EndpointSecret) outboxFixture {
	t.Helper()
	st := open(t)
	ctx := context.Background()
	if err := st.MigrateQueue(ctx); err != nil {
		t.Fatal(err)
	}
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
		Method: domain.MethodGet, URLTemplate: "https://media.example/pb?c={click_id}", Secrets: secrets}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var conv domain.Conversion
	err = st.InTx(ctx, func(tx store.Tx) error {
		conv, _, err = tx.InsertConversion(ctx, domain.Conversion{ID: "cv_1", AdvertiserID: adv.ID, OfferID: offer.ID, PublisherID: pub.ID,
			OrderID: "o1", Amount: domain.Money{Currency: "JPY", Minor: 1}, Commission: domain.Money{Currency: "JPY"}, Status: domain.StatusPending,
			Source: domain.SourceAPI, Attribution: domain.Explanation{Path: "none"}, SaleAt: now, CreatedAt: now}, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return outboxFixture{st: st, ep: ep, conv: conv}
}

// jobs lists the delivery IDs of the postback jobs in River's table.
func jobs(t *testing.T, st *store.Store) []string {
	t.Helper()
	rows, err := store.PoolOf(st).Query(context.Background(), `SELECT args->>'delivery_id' FROM river_job WHERE kind = $1 AND queue = $2 ORDER BY id`,
		domain.DeliveryJobKind, domain.DeliveryQueue)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// TestOutboxEnqueuesInTheCallersTransaction: a delivery and its job are
// written through the caller's transaction: rolled back, neither exists;
// committed, both do, and the job names the delivery. Requeueing sets the
// delivery pending and enqueues it again, or does nothing for an unknown
// delivery.
func TestOutboxEnqueuesInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t, nil)
	ctx := context.Background()
	owe := func(tx domain.OutboxTx, id string) error {
		eps, err := tx.EndpointsFor(ctx, f.conv.PublisherID, f.conv.OfferID, domain.StatusPending, false)
		if err != nil || len(eps) != 1 || eps[0].ID != f.ep.ID {
			t.Fatalf("endpoints for the conversion: %v %v", eps, err)
		}
		d := domain.Delivery{ID: id, EndpointID: f.ep.ID, PublisherID: f.conv.PublisherID, AdvertiserID: f.conv.AdvertiserID,
			ConversionID: f.conv.ID, Event: domain.StatusPending, CreatedAt: time.Now(), Vars: map[string]string{"click_id": "c"}}
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		return tx.EnqueueDelivery(ctx, id)
	}
	errRollback := errors.New("roll back")
	err := f.st.InTx(ctx, func(tx store.Tx) error {
		if err := owe(tx, "dlv_rolled_back"); err != nil {
			t.Fatal(err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx: %v", err)
	}
	if got := jobs(t, f.st); len(got) != 0 {
		t.Fatalf("a rolled-back transaction left jobs %v", got)
	}
	if _, err := f.st.LoadDelivery(ctx, "dlv_rolled_back"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a rolled-back delivery: %v", err)
	}
	if err := f.st.InTx(ctx, func(tx store.Tx) error { return owe(tx, "dlv_kept") }); err != nil {
		t.Fatal(err)
	}
	if got := jobs(t, f.st); !slices.Equal(got, []string{"dlv_kept"}) {
		t.Fatalf("jobs after commit: %v, want [dlv_kept]", got)
	}
	if err := f.st.SetDeliveryState(ctx, "dlv_kept", domain.DeliveryFailed); err != nil {
		t.Fatal(err)
	}
	if err := f.st.RequeueDeliveries(ctx, []string{"dlv_kept"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	d, err := f.st.LoadDelivery(ctx, "dlv_kept")
	if err != nil || d.State != domain.DeliveryPending {
		t.Fatalf("requeued delivery: %v %v, want pending", d.State, err)
	}
	if got := jobs(t, f.st); !slices.Equal(got, []string{"dlv_kept", "dlv_kept"}) {
		t.Fatalf("jobs after requeue: %v, want two for dlv_kept", got)
	}
	// All or nothing: an unknown delivery fails the whole requeue.
	err = f.st.RequeueDeliveries(ctx, []string{"dlv_kept", "dlv_nope"}, time.Now())
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("requeue of an unknown delivery: %v, want not found", err)
	}
	if got := jobs(t, f.st); len(got) != 2 {
		t.Fatalf("a failed requeue left jobs: %v", got)
	}
}

// TestPoolStatsCountConnections: the gauges' numbers come from the store.
func TestPoolStatsCountConnections(t *testing.T) {
	t.Parallel()
	st := open(t)
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	ps := st.PoolStats()
	if ps.Total < 1 || ps.Acquired < 0 || ps.Acquired > ps.Total {
		t.Fatalf("pool stats %+v: want at least one open connection", ps)
	}
}

// TestEndpointSecretsAreSealedAndWriteOnly: an endpoint's secrets are
// stored sealed (the value appears nowhere in the row), every read carries
// the names only, the delivery worker's read has the values, and an update
// keeps a value it does not give, replaces one it gives and drops one it
// leaves out.
func TestEndpointSecretsAreSealedAndWriteOnly(t *testing.T) {
	t.Parallel()
	const apiKey, header = "sk_live_5ecr3t_API_KEY", "hdr-S3CRET-value"
	f := newOutboxFixture(t, []domain.EndpointSecret{{Name: "api_key", Value: apiKey}, {Name: "X-Api-Key", Header: true, Value: header}})
	ctx := context.Background()
	names := []domain.EndpointSecret{{Name: "api_key"}, {Name: "X-Api-Key", Header: true}}
	if !slices.Equal(f.ep.Secrets, names) {
		t.Fatalf("created endpoint's secrets: %+v, want names only %+v", f.ep.Secrets, names)
	}
	var row string
	if err := store.PoolOf(f.st).QueryRow(ctx, `SELECT p::text FROM postback_endpoints p WHERE id = $1`, f.ep.ID).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, apiKey) || strings.Contains(row, header) || strings.Contains(row, "5ecr3t") {
		t.Fatalf("a secret is stored in clear: %s", row)
	}
	got, err := f.st.GetEndpoint(ctx, f.ep.ID)
	if err != nil || !slices.Equal(got.Secrets, names) {
		t.Fatalf("GetEndpoint: %+v %v, want names only", got.Secrets, err)
	}
	list, _, err := f.st.ListEndpoints(ctx, f.ep.PublisherID, "", "", domain.Page{})
	if err != nil || len(list) != 1 || !slices.Equal(list[0].Secrets, names) {
		t.Fatalf("ListEndpoints: %+v %v, want names only", list, err)
	}
	full, _, err := f.st.EndpointForDelivery(ctx, f.ep.ID)
	if err != nil || !slices.Equal(full.Secrets, []domain.EndpointSecret{{Name: "api_key", Value: apiKey}, {Name: "X-Api-Key", Header: true, Value: header}}) {
		t.Fatalf("EndpointForDelivery: %+v %v, want the values", full.Secrets, err)
	}
	// Written back as read: the values stay.
	got.URLTemplate = "https://media.example/pb2?c={click_id}&k={secret:api_key}"
	if _, err := f.st.UpdateEndpoint(ctx, got); err != nil {
		t.Fatal(err)
	}
	if full, _, _ = f.st.EndpointForDelivery(ctx, f.ep.ID); len(full.Secrets) != 2 || full.Secrets[0].Value != apiKey || full.Secrets[1].Value != header {
		t.Fatalf("after an update without values: %+v", full.Secrets)
	}
	// A new value replaces; a secret left out is removed.
	got.Secrets = []domain.EndpointSecret{{Name: "api_key", Value: "sk_rotated_value"}}
	upd, err := f.st.UpdateEndpoint(ctx, got)
	if err != nil || !slices.Equal(upd.Secrets, []domain.EndpointSecret{{Name: "api_key"}}) {
		t.Fatalf("update: %+v %v", upd.Secrets, err)
	}
	if full, _, _ = f.st.EndpointForDelivery(ctx, f.ep.ID); len(full.Secrets) != 1 || full.Secrets[0].Value != "sk_rotated_value" {
		t.Fatalf("after replacing: %+v", full.Secrets)
	}
	// A name without a value that the endpoint does not hold is refused.
	got.Secrets = []domain.EndpointSecret{{Name: "other"}}
	if _, err := f.st.UpdateEndpoint(ctx, got); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("a new secret without a value: %v, want invalid", err)
	}
}
