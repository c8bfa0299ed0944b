package domain

import "context"

// OutboxTx is what the postback outbox writes through inside the
// transaction of the conversion (or status change) that owes the postbacks:
// the deliveries, their queue jobs and, for a test postback, the test
// conversion commit together or not at all. store.Tx implements it; the
// service's transactions include it, so the outbox needs no type check.
type OutboxTx interface {
	// EndpointsFor returns the enabled endpoints of a publisher that want
	// an event of a conversion of the offer.
	EndpointsFor(ctx context.Context, publisherID, offerID string, event ConversionStatus, test bool) ([]PostbackEndpoint, error)
	// InsertDelivery stores a delivery owed.
	InsertDelivery(ctx context.Context, d Delivery) error
	// EnqueueDelivery enqueues the job that delivers d (by ID), in the
	// same transaction.
	EnqueueDelivery(ctx context.Context, deliveryID string) error
	// InsertConversion records a conversion (a test postback's).
	InsertConversion(ctx context.Context, c Conversion, actor string) (Conversion, bool, error)
	// NewID makes an ID for a record made inside the transaction.
	NewID(prefix string) string
}

// The postback queue's job: its kind and queue, shared by the store (which
// enqueues it) and the delivery worker (which works it).
const (
	DeliveryJobKind  = "baton_postback"
	DeliveryQueue    = "postbacks"
	DeliveryJobTries = 100 // River's own retries: only failures to record an attempt
)

// PoolStats is the database connection pool at a glance.
type PoolStats struct {
	Acquired int64 // connections in use
	Total    int64 // connections open
}
