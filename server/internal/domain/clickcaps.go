package domain

import "time"

// CapPeriod is what a cap counts over.
type CapPeriod string

// Cap periods.
const (
	CapDay   CapPeriod = "day"
	CapMonth CapPeriod = "month"
	CapTotal CapPeriod = "total"
)

// ClickCap is a limit on the clicks of an offer (all publishers, or one)
// per period: past it, the redirect goes to the offer's fallback URL and
// the click is flagged FlagCapped.
type ClickCap struct {
	ID          string
	OfferID     string
	PublisherID string // empty: the offer's clicks from every publisher
	Period      CapPeriod
	Limit       int64
}

// PeriodStart is when the period holding t began, in loc (day and month);
// the zero time for total.
func (p CapPeriod) PeriodStart(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	switch p {
	case CapDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	case CapMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}
