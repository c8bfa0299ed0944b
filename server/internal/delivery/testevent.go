package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/telemetry"
)

var _ service.TestOutbox = (*Queue)(nil)

// TestEvent implements service.TestOutbox: inside the caller's transaction,
// it records the test conversion c and one delivery of it to ep alone (not
// to the publisher's other endpoints), with its job.
func (q *Queue) TestEvent(ctx context.Context, stx service.ConversionTx, c domain.Conversion, ep domain.PostbackEndpoint, event domain.ConversionStatus, actor string) (domain.Delivery, error) {
	tx, ok := stx.(outboxTx)
	if !ok {
		return domain.Delivery{}, errors.New("postback outbox: the transaction cannot enqueue")
	}
	if !c.Test {
		return domain.Delivery{}, errors.New("postback outbox: a test postback needs a test conversion")
	}
	c.ID = tx.NewID("cv")
	if c.OrderID == "" {
		c.OrderID = "TEST-" + c.ID
	}
	c, inserted, err := stx.InsertConversion(ctx, c, actor)
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
	d.Vars = Vars(c, event, d.ID, now)
	if err := tx.InsertDelivery(ctx, d); err != nil {
		return domain.Delivery{}, err
	}
	if _, err := q.client.InsertTx(ctx, tx.Raw(), DeliverArgs{DeliveryID: d.ID}, nil); err != nil {
		return domain.Delivery{}, fmt.Errorf("enqueue postback: %w", err)
	}
	return d, nil
}
