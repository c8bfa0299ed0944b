// Package delivery sends postbacks: it is the outbox the conversion use
// cases write to (inside their transaction) and the worker that delivers,
// retries and logs every attempt. The durable queue is River
// (riverqueue/river) on Baton's own PostgreSQL, so enqueueing a postback is
// part of the transaction that causes it.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/telemetry"
)

// Migrate applies River's own migrations (its job tables).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// DeliverArgs is the River job that delivers one postback.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "baton_postback" }

// InsertOpts implements river.JobArgsWithInsertOpts. Attempts are counted by
// Baton (postback_deliveries), which reschedules with JobSnooze; River's own
// retries only cover failures to record an attempt (the database down).
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, MaxAttempts: 100}
}

// QueueName is the River queue of postbacks.
const QueueName = "postbacks"

// Store is what the queue and its worker read and write.
type Store interface {
	LoadDelivery(ctx context.Context, id string) (domain.Delivery, error)
	EndpointForDelivery(ctx context.Context, id string) (domain.PostbackEndpoint, []string, error)
	RecordAttempt(ctx context.Context, id string, a domain.Attempt, state domain.DeliveryState, nextAt *time.Time) error
	SetDeliveryState(ctx context.Context, id string, state domain.DeliveryState) error
	EndpointFailed(ctx context.Context, id string, now, disableBefore time.Time) (bool, error)
	EndpointSucceeded(ctx context.Context, id string) error
}

// outboxTx is the transaction the outbox needs: store.Tx satisfies it.
type outboxTx interface {
	EndpointsFor(ctx context.Context, publisherID, offerID string, event domain.ConversionStatus, test bool) ([]domain.PostbackEndpoint, error)
	InsertDelivery(ctx context.Context, d domain.Delivery) error
	RequeueDelivery(ctx context.Context, id string, now time.Time) error
	NewID(prefix string) string
	Raw() pgx.Tx
}

// Options configure the queue.
type Options struct {
	// Schedule is the wait before each retry (postback.DefaultSchedule).
	Schedule []time.Duration
	// Workers is how many deliveries run at once.
	Workers int
	// Client sends the requests (Guard.Client in production).
	Client *http.Client
	// DisableAfter disables an endpoint that has failed for this long.
	DisableAfter time.Duration
	// FetchCooldown bounds how often new jobs are fetched (latency floor).
	FetchCooldown time.Duration
	// AttemptTimeout bounds one attempt (the client's timeout).
	AttemptTimeout time.Duration
	// RescueAfter is when a job whose worker died (a crash mid-send) runs
	// again; it must exceed 2×AttemptTimeout.
	RescueAfter time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Queue is the outbox and its workers.
type Queue struct {
	client *river.Client[pgx.Tx]
	now    func() time.Time
	log    *slog.Logger
}

// NewQueue builds the queue; Start runs its workers.
func NewQueue(pool *pgxpool.Pool, st Store, o Options) (*Queue, error) {
	if o.Schedule == nil {
		o.Schedule = postback.DefaultSchedule
	}
	if o.Workers <= 0 {
		o.Workers = 50
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = 72 * time.Hour
	}
	if o.FetchCooldown <= 0 {
		o.FetchCooldown = 10 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	if o.RescueAfter <= 2*o.AttemptTimeout {
		o.RescueAfter = 2*o.AttemptTimeout + time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	w := &worker{store: st, client: o.Client, schedule: o.Schedule, disableAfter: o.DisableAfter, now: o.Now, log: o.Logger,
		rnd: rand.Float64}
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:               map[string]river.QueueConfig{QueueName: {MaxWorkers: o.Workers}},
		Workers:              workers,
		FetchCooldown:        o.FetchCooldown,
		FetchPollInterval:    100 * time.Millisecond, // bounds the wait when an insert notification was rate-limited away
		JobTimeout:           2 * o.AttemptTimeout,
		RescueStuckJobsAfter: o.RescueAfter,
		Logger:               o.Logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("postback queue: %w", err)
	}
	return &Queue{client: client, now: o.Now, log: o.Logger}, nil
}

// Start starts the workers.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running deliveries finish (up to ctx) and stops.
func (q *Queue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

var _ service.Outbox = (*Queue)(nil)

// ConversionEvent implements service.Outbox: inside the caller's
// transaction, one delivery (and its job) for every enabled endpoint of the
// conversion's publisher that wants the event.
func (q *Queue) ConversionEvent(ctx context.Context, stx service.ConversionTx, c domain.Conversion, event domain.ConversionStatus) error {
	if c.PublisherID == "" || c.Attribution.Unidentified {
		// No click earned it: nobody to tell. Or a publisher is credited
		// without knowing which click was the buyer's (an FC2 POST naming
		// an affiliate by ref_userid): kicking back nothing beats another
		// visitor's IDs, and the explanation says so.
		return nil
	}
	tx, ok := stx.(outboxTx)
	if !ok {
		return errors.New("postback outbox: the transaction cannot enqueue")
	}
	endpoints, err := tx.EndpointsFor(ctx, c.PublisherID, c.OfferID, event, c.Test)
	if err != nil {
		return err
	}
	now := q.now()
	for _, ep := range endpoints {
		d := domain.Delivery{
			ID: tx.NewID("dlv"), EndpointID: ep.ID, PublisherID: c.PublisherID, AdvertiserID: c.AdvertiserID,
			ConversionID: c.ID, Event: event, Test: c.Test, CreatedAt: now,
			// The delivery continues the trace of what caused it.
			TraceParent: telemetry.TraceParent(ctx),
		}
		d.Vars = Vars(c, event, d.ID, now)
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		if _, err := q.client.InsertTx(ctx, tx.Raw(), DeliverArgs{DeliveryID: d.ID}, nil); err != nil {
			return fmt.Errorf("enqueue postback: %w", err)
		}
	}
	return nil
}

// Requeue sets deliveries pending again and enqueues them, in one
// transaction run by inTx.
func (q *Queue) Requeue(ctx context.Context, inTx service.TxRunner, ids []string) error {
	return inTx(ctx, func(stx service.ConversionTx) error {
		tx, ok := stx.(outboxTx)
		if !ok {
			return errors.New("postback outbox: the transaction cannot enqueue")
		}
		for _, id := range ids {
			if err := tx.RequeueDelivery(ctx, id, q.now()); err != nil {
				return err
			}
			if _, err := q.client.InsertTx(ctx, tx.Raw(), DeliverArgs{DeliveryID: id}, nil); err != nil {
				return fmt.Errorf("enqueue postback: %w", err)
			}
		}
		return nil
	})
}

// Vars are the values a postback template can use for a conversion event,
// frozen when the event happens.
func Vars(c domain.Conversion, event domain.ConversionStatus, deliveryID string, at time.Time) map[string]string {
	v := map[string]string{
		"click_id": c.ClickID, "amount": attribution.Decimal(c.Amount.Currency, c.Amount.Minor),
		"amount_minor": strconv.FormatInt(c.Amount.Minor, 10), "currency": c.Amount.Currency,
		"order_id": c.OrderID, "order_id_2": c.OrderID2, "status": string(event), "event": string(event),
		"commission":          attribution.Decimal(c.Commission.Currency, c.Commission.Minor),
		"commission_minor":    strconv.FormatInt(c.Commission.Minor, 10),
		"commission_currency": c.Commission.Currency, "offer_id": c.OfferID, "advertiser_id": c.AdvertiserID,
		"publisher_id": c.PublisherID, "site_id": c.SiteID, "conversion_id": c.ID, "delivery_id": deliveryID,
		"upstream_id": c.UpstreamID, "downstream_id": c.DownstreamID, "buyer_user_name": c.BuyerUserName,
		"event_time": at.UTC().Format(time.RFC3339), "sale_time": c.SaleAt.UTC().Format(time.RFC3339),
		"timestamp": strconv.FormatInt(at.Unix(), 10),
	}
	for i := range 5 {
		s := ""
		if i < len(c.SubIDs) {
			s = c.SubIDs[i]
		}
		v["sub"+strconv.Itoa(i+1)] = s
	}
	return v
}
