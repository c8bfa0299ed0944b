package domain

import "time"

// ClickCap is a limit on the clicks of an offer (all publishers, or one)
// per period (a caps row of kind clicks): past it, the redirect goes to the
// offer's fallback URL and the click is flagged FlagCapped.
type ClickCap struct {
	ID          string
	OfferID     string
	PublisherID string // empty: the offer's clicks from every publisher
	Period      CapPeriod
	Limit       int64
	// Location is the offer's time zone (OfferControls.Location), where
	// days and months begin.
	Location *time.Location
}

// PeriodStart is when the cap's period holding t began.
func (c ClickCap) PeriodStart(t time.Time) time.Time {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	return PeriodStart(c.Period, t, loc)
}
