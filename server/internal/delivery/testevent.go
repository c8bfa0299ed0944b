package delivery

import (
	"context"
	"errors"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/telemetry"
)

// TestEvent implements service.TestOutbox: inside the caller's transaction,
// it records the test conversion c and one delivery of it to ep alone (not
// to the publisher's other endpoints), with its job.
func (q *Queue) TestEvent(ctx context.Context, tx domain.OutboxTx, c domain.Conversion, ep domain.PostbackEndpoint, event domain.ConversionStatus, actor string) (domain.Delivery, error) {
	if !c.Test {
		return domain.Delivery{}, errors.New("postback outbox: a test postback needs a test conversion")
	}
	c.ID = tx.NewID("cv")
	if c.OrderID == "" {
		c.OrderID = "TEST-" + c.ID
	}
	c, inserted, err := tx.InsertConversion(ctx, c, actor)
	if err != nil {
		return domain.Delivery{}, err
	}
	if !inserted {
		return domain.Delivery{}, errors.New("postback outbox: the test conversion was not recorded")
	}
	now := q.now()
	d := domain.Delivery{
		ID: tx.NewID("dlv"), EndpointID: ep.ID, PublisherID: ep.PublisherID, AdvertiserID: c.AdvertiserID,
		ConversionID: c.ID, Event: event, Test: true, CreatedAt: now, TraceParent: telemetry.TraceParent(ctx),
	}
	d.Vars = postback.EventVars(c, event, d.ID, now)
	if err := tx.InsertDelivery(ctx, d); err != nil {
		return domain.Delivery{}, err
	}
	if err := tx.EnqueueDelivery(ctx, d.ID); err != nil {
		return domain.Delivery{}, err
	}
	return d, nil
}
