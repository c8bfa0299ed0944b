package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/batonhq/baton/server/internal/domain"
)

// TestOutbox records a test conversion and one delivery of it to one
// endpoint, inside the caller's transaction (delivery.Queue).
type TestOutbox interface {
	TestEvent(ctx context.Context, tx domain.OutboxTx, c domain.Conversion, ep domain.PostbackEndpoint, event domain.ConversionStatus, actor string) (domain.Delivery, error)
}

// linkLister finds an offer for an endpoint that names none.
type linkLister interface {
	ListLinks(ctx context.Context, offerID, publisherID, advertiserID string, page domain.Page) ([]domain.TrackingLink, string, error)
}

// testAmount is what a test postback reports as the sale: JPY 1,980.
var testAmount = domain.Money{Currency: "JPY", Minor: 1980}

// SendTest sends a postback for a new test conversion to the endpoint id
// (the caller's own, or any for an admin) now, whatever its events and
// test flag, and returns the delivery.
func (s *Postbacks) SendTest(ctx context.Context, p domain.Principal, id string, event domain.ConversionStatus) (domain.Delivery, error) {
	out, ok := s.requeue.(TestOutbox)
	if !ok {
		return domain.Delivery{}, errors.New("test postbacks: the queue cannot send them")
	}
	ep, err := s.ownEndpoint(ctx, p, id)
	if err != nil {
		return domain.Delivery{}, err
	}
	if ep.State != domain.EndpointEnabled {
		return domain.Delivery{}, domain.Failed("endpoint %s is %s; enable it to send a test postback", ep.ID, ep.State)
	}
	if event == "" {
		event = domain.StatusPending
	}
	offerID := ep.OfferID
	if offerID == "" {
		ll, ok := s.store.(linkLister)
		if !ok {
			return domain.Delivery{}, errors.New("test postbacks: cannot list links")
		}
		links, _, err := ll.ListLinks(ctx, "", ep.PublisherID, "", domain.Page{Size: 1})
		if err != nil {
			return domain.Delivery{}, err
		}
		if len(links) == 0 {
			return domain.Delivery{}, domain.Failed("endpoint %s names no offer and publisher %s has no tracking link; set the endpoint's offer_id", ep.ID, ep.PublisherID)
		}
		offerID = links[0].OfferID
	}
	offer, err := s.store.GetOffer(ctx, offerID)
	if err != nil {
		return domain.Delivery{}, err
	}
	now := s.now()
	c := domain.Conversion{
		AdvertiserID: offer.AdvertiserID, OfferID: offer.ID, PublisherID: ep.PublisherID,
		Amount: testAmount, Commission: domain.Money{Currency: testAmount.Currency},
		Status: domain.StatusPending, Test: true, Source: domain.SourceAPI,
		Attribution: domain.Explanation{Path: "none", Summary: fmt.Sprintf("A test postback to endpoint %s, sent by %s: not a sale, never paid or counted.", ep.ID, p.KeyID)},
		SaleAt:      now, CreatedAt: now, UpdatedAt: now,
	}
	var d domain.Delivery
	err = s.inTx(ctx, func(tx ConversionTx) error {
		var err error
		d, err = out.TestEvent(ctx, tx, c, ep, event, "test postback ("+p.KeyID+")")
		return err
	})
	if err != nil {
		return domain.Delivery{}, err
	}
	return s.store.GetDelivery(ctx, d.ID)
}

// queueStatser reads the queue at a glance (store.Store).
type queueStatser interface {
	QueueStats(ctx context.Context) (domain.QueueStats, error)
}

// QueueStats is the postback queue at a glance, for admin keys only: it
// spans every publisher.
func (s *Postbacks) QueueStats(ctx context.Context, p domain.Principal) (domain.QueueStats, error) {
	if !p.IsAdmin() {
		return domain.QueueStats{}, domain.Denied("only an admin key may read the delivery queue")
	}
	qs, ok := s.store.(queueStatser)
	if !ok {
		return domain.QueueStats{}, errors.New("delivery queue: the store cannot count it")
	}
	return qs.QueueStats(ctx)
}
