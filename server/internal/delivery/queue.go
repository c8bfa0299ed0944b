// Package delivery sends postbacks: it is the outbox the conversion use
// cases write to (inside their transaction) and the worker that delivers,
// retries and logs every attempt. The durable queue is River
// (riverqueue/river) on Baton's own PostgreSQL, so enqueueing a postback is
// part of the transaction that causes it.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/telemetry"
)

// DeliverArgs is the River job that delivers one postback. The store
// enqueues it (domain.OutboxTx.EnqueueDelivery) with the same kind and JSON.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return domain.DeliveryJobKind }

// InsertOpts implements river.JobArgsWithInsertOpts. Attempts are counted by
// Baton (postback_deliveries), which reschedules with JobSnooze; River's own
// retries only cover failures to record an attempt (the database down).
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, MaxAttempts: domain.DeliveryJobTries}
}

// QueueName is the River queue of postbacks.
const QueueName = domain.DeliveryQueue

// Store is what the queue and its worker read and write.
type Store interface {
	// LoadDeliveries reads deliveries by ID (a missing one is left out).
	LoadDeliveries(ctx context.Context, ids []string) ([]domain.Delivery, error)
	// EndpointsForDeliveries reads endpoints that were not deleted, by ID,
	// with their secrets opened.
	EndpointsForDeliveries(ctx context.Context, ids []string) (map[string]domain.SendableEndpoint, error)
	// RecordAttempts appends attempts and moves their deliveries, in one
	// statement: all or none. RecordAttempt is one of them.
	RecordAttempts(ctx context.Context, recs []domain.AttemptRecord) error
	RecordAttempt(ctx context.Context, id string, a domain.Attempt, state domain.DeliveryState, nextAt *time.Time) error
	SetDeliveryState(ctx context.Context, id string, state domain.DeliveryState) error
	EndpointFailed(ctx context.Context, id string, now, disableBefore time.Time) (bool, error)
	EndpointSucceeded(ctx context.Context, id string) error
	// RequeueDeliveries sets deliveries pending again and enqueues them,
	// in one transaction.
	RequeueDeliveries(ctx context.Context, ids []string, now time.Time) error
}

// Runner is the River client that works the queue: the store builds it on
// its pool (store.Store.QueueClient) from the configuration NewQueue gives.
type Runner interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// NewRunner builds a Runner from a River configuration.
type NewRunner func(cfg *river.Config) (Runner, error)

// Options configure the queue.
type Options struct {
	// Schedule is the wait before each retry (postback.DefaultSchedule).
	Schedule []time.Duration
	// Workers is how many deliveries run at once (River's MaxWorkers): also
	// the most a fetch claims, and so the largest read and write batch.
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
	// MetricEndpoints caps the distinct endpoint labels of the attempt
	// counter (0: DefaultMetricEndpoints); later endpoints count as "other".
	MetricEndpoints int
	Now             func() time.Time
	Logger          *slog.Logger
}

// Queue is the outbox and its workers.
type Queue struct {
	client Runner
	store  Store
	now    func() time.Time
	log    *slog.Logger
}

// NewQueue builds the queue, its workers run by the client newRunner builds;
// Start runs them.
func NewQueue(st Store, newRunner NewRunner, o Options) (*Queue, error) {
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
		rnd: rand.Float64, labels: newEndpointLabels(o.MetricEndpoints)}
	w.loads = newBatcher(o.Workers, batchParallel, o.AttemptTimeout, w.loadBatch)
	w.records = newBatcher(o.Workers, batchParallel, o.AttemptTimeout, w.recordBatch)
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, err
	}
	client, err := newRunner(&river.Config{
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
	return &Queue{client: client, store: st, now: o.Now, log: o.Logger}, nil
}

// Start starts the workers.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running deliveries finish (up to ctx) and stops.
func (q *Queue) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// ConversionEvent implements service.Outbox: inside the caller's
// transaction, one delivery (and its job) for every enabled endpoint of the
// conversion's publisher that wants the event.
func (q *Queue) ConversionEvent(ctx context.Context, tx domain.OutboxTx, c domain.Conversion, event domain.ConversionStatus) error {
	if c.PublisherID == "" || c.Attribution.Unidentified {
		// No click earned it: nobody to tell. Or a publisher is credited
		// without knowing which click was the buyer's (an FC2 POST naming
		// an affiliate by ref_userid): kicking back nothing beats another
		// visitor's IDs, and the explanation says so.
		return nil
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
		d.Vars = postback.EventVars(c, event, d.ID, now)
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		if err := tx.EnqueueDelivery(ctx, d.ID); err != nil {
			return err
		}
	}
	return nil
}

// Requeue sets deliveries pending again and enqueues them, in one
// transaction.
func (q *Queue) Requeue(ctx context.Context, ids []string) error {
	return q.store.RequeueDeliveries(ctx, ids, q.now())
}
