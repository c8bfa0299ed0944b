package postback

import (
	"strconv"
	"time"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
)

// EventVars are the values a template can use for a conversion event,
// frozen when the event happens (they are stored with the delivery, so a
// retry days later sends the same). They never hold an endpoint's sealed
// secrets: those are resolved when each attempt is rendered.
func EventVars(c domain.Conversion, event domain.ConversionStatus, deliveryID string, at time.Time) map[string]string {
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
