package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// holdPeriod is how long an offer's new conversions stay pending before
// they are approved automatically: the offer's hold period, or, as before
// hold periods existed, its auto_approve_after_days. Zero: until a person
// (or a kickback) decides.
func holdPeriod(o domain.Offer) time.Duration {
	if o.Controls.HoldPeriod > 0 {
		return o.Controls.HoldPeriod
	}
	return time.Duration(o.AutoApproveAfterDays) * 24 * time.Hour
}

// setHold gives a new conversion its hold: approved automatically at
// HoldUntil unless rejected first.
func setHold(o domain.Offer, conv *domain.Conversion) {
	if d := holdPeriod(o); d > 0 {
		t := conv.CreatedAt.Add(d)
		conv.HoldUntil = &t
	}
}

// lockedAt returns when an offer's conversion locks (zero: never).
func lockedAt(o domain.Offer, conv domain.Conversion) time.Time {
	if o.Controls.LockPeriod <= 0 {
		return time.Time{}
	}
	return conv.CreatedAt.Add(o.Controls.LockPeriod)
}

// checkLock refuses a status change of a locked conversion, unless it is
// an explicit reversal with a reason (a note saying why) or the approval
// its hold period scheduled (auto_approved).
func checkLock(o domain.Offer, conv domain.Conversion, to domain.ConversionStatus, reason, note string, now time.Time) error {
	at := lockedAt(o, conv)
	if at.IsZero() || now.Before(at) {
		return nil
	}
	if reason == "auto_approved" && to == domain.StatusApproved {
		return nil
	}
	if to == domain.StatusReversed && strings.TrimSpace(note) != "" {
		return nil
	}
	return &domain.Error{Kind: domain.ErrFailedPrecondition, Field: "status",
		Public: fmt.Sprintf("conversion %s is locked since %s (the offer locks conversions %s after they are recorded): "+
			"only a reversal with a note saying why may change it", conv.ID, at.UTC().Format(time.RFC3339), o.Controls.LockPeriod)}
}

// checkLocked is checkLock with the conversion's offer.
func (c *Conversions) checkLocked(ctx context.Context, conv domain.Conversion, to domain.ConversionStatus, reason, note string, now time.Time) error {
	offer, err := c.offers.get(conv.OfferID, now, func() (domain.Offer, error) { return c.store.GetOffer(ctx, conv.OfferID) })
	if err != nil {
		return err
	}
	return checkLock(offer, conv, to, reason, note, now)
}
