package delivery_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/batonhq/baton/server/internal/delivery"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

// spans records every span the worker ends.
var spans = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	os.Exit(testdb.Main(m))
}

// seamStore opens a migrated store (closed with the test) holding an
// advertiser, a media publisher and an active offer.
func seamStore(t *testing.T) (*store.Store, domain.Advertiser, domain.Publisher, domain.Offer) {
	t.Helper()
	ctx := context.Background()
	box, _ := secretbox.New(bytes.Repeat([]byte{2}, secretbox.KeySize))
	st, err := store.Open(ctx, testdb.URL(t), store.Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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
	return st, adv, pub, offer
}

// TestQueueDeliversThroughTheStoreWithSecretsOutOfSpans runs the queue on a
// real database through the store's seam (the outbox insert in the
// conversion's transaction, the River client the store builds): the
// receiver gets the sealed secrets and a traceparent, and no span
// attribute or status holds a secret; the attempt span's url.full is the
// masked URL.
func TestQueueDeliversThroughTheStoreWithSecretsOutOfSpans(t *testing.T) {
	const apiKey, hdrKey = "sk_live_Tr4ce/Key+1", "hdr_live_Tr4ceHeader"
	var mu sync.Mutex
	var got []*http.Request
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok "+r.URL.Query().Get("k"))
	}))
	defer rcv.Close()

	ctx := context.Background()
	st, adv, pub, offer := seamStore(t)
	if _, err := st.CreateEndpoint(ctx, domain.PostbackEndpoint{PublisherID: pub.ID, Events: []domain.ConversionStatus{domain.StatusPending},
		Method: domain.MethodGet, URLTemplate: rcv.URL + "/cv?c={click_id}&k={secret:api_key}",
		Secrets: []domain.EndpointSecret{{Name: "api_key", Value: apiKey}, {Name: "X-Api-Key", Header: true, Value: hdrKey}}}, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	q, err := delivery.NewQueue(st, func(c *river.Config) (delivery.Runner, error) { return st.QueueClient(c) },
		delivery.Options{Client: delivery.Propagating(&http.Client{Timeout: 5 * time.Second})})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Stop(context.Background()) }()

	ctx, root := otel.Tracer("test").Start(ctx, "conversion")
	now := time.Now()
	err = st.InTx(ctx, func(tx store.Tx) error {
		c, _, err := tx.InsertConversion(ctx, domain.Conversion{ID: "cv_1", AdvertiserID: adv.ID, OfferID: offer.ID, PublisherID: pub.ID,
			ClickID: "clk_1", OrderID: "o1", Amount: domain.Money{Currency: "JPY", Minor: 1}, Commission: domain.Money{Currency: "JPY"},
			Status: domain.StatusPending, Source: domain.SourceAPI, Attribution: domain.Explanation{Path: "last_click"}, SaleAt: now, CreatedAt: now}, "test")
		if err != nil {
			return err
		}
		return q.ConversionEvent(ctx, tx, c, domain.StatusPending)
	})
	root.End()
	if err != nil {
		t.Fatal(err)
	}
	var d domain.Delivery
	for deadline := time.Now().Add(20 * time.Second); ; <-time.After(20 * time.Millisecond) {
		list, _, err := st.ListDeliveries(ctx, domain.DeliveryFilter{ConversionID: "cv_1"}, domain.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].State == domain.DeliverySucceeded {
			d = list[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery did not succeed: %+v", list)
		}
	}
	mu.Lock()
	r := got[0]
	mu.Unlock()
	if r.URL.Query().Get("k") != apiKey || r.Header.Get("X-Api-Key") != hdrKey || r.Header.Get("Traceparent") == "" {
		t.Fatalf("the receiver got %s %v", r.URL, r.Header)
	}
	if a := d.Attempts[0]; !strings.Contains(a.URL, "k=xxxxx") || strings.Contains(a.ResponseExcerpt, "Tr4ce") {
		t.Errorf("attempt %+v: want the secret masked", a)
	}
	var urlFull string
	for _, s := range spans.Ended() {
		text := s.Name() + " " + s.Status().Description
		for _, kv := range s.Attributes() {
			text += " " + string(kv.Key) + "=" + kv.Value.String()
			if kv.Key == "url.full" {
				urlFull = kv.Value.AsString()
			}
		}
		if strings.Contains(text, "Tr4ce") {
			t.Errorf("span %s holds a secret: %s", s.Name(), text)
		}
	}
	if !strings.Contains(urlFull, "k=xxxxx") {
		t.Errorf("the attempt span's url.full %q: want the masked URL", urlFull)
	}
}
