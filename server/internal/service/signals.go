package service

import (
	"context"
	"fmt"
	"time"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
)

// ControlStore is what the conversion controls read outside the
// conversion's transaction (signals are heuristics: a count a moment old
// is good enough; caps, which must be exact, count inside it).
type ControlStore interface {
	CountConversionsByClick(ctx context.Context, clickID string) (int, error)
	CountConversionsByIP(ctx context.Context, offerID, ip string, since time.Time) (int, error)
}

// ControlTx is what the conversion controls write inside the conversion's
// transaction: caps and what a cap or a signal decides.
type ControlTx interface {
	OfferCaps(ctx context.Context, offerID string) ([]domain.Cap, error)
	UseCap(ctx context.Context, capID string, periodStart time.Time, n, limit int64) (bool, int64, error)
	ReleaseCap(ctx context.Context, capID string, periodStart time.Time, n int64) error
	SetHold(ctx context.Context, id string, until *time.Time, reason string) error
	AddSignals(ctx context.Context, id string, signals []domain.Signal) error
}

// signalNote is one signal found on a conversion and why, for a person
// (it becomes the hold reason or the rejection's note).
type signalNote struct {
	signal domain.Signal
	why    string
}

// findSignals adds to conv the signals the offer's controls find on it
// (click-to-conversion time, conversions per click, per buyer IP) and
// returns them with their reasons. Called after price() and before the
// rules (D1), which may test conv.Signals. A signal alone changes nothing:
// see signalDecision.
func (c *Conversions) findSignals(ctx context.Context, offer domain.Offer, conv *domain.Conversion, now time.Time) ([]signalNote, error) {
	ctl := offer.Controls
	var found []signalNote
	if conv.ClickCreatedAt != nil && (ctl.MinClickToConversion > 0 || ctl.MaxClickToConversion > 0) {
		d := conv.SaleAt.Sub(*conv.ClickCreatedAt)
		switch {
		case ctl.MinClickToConversion > 0 && d < ctl.MinClickToConversion:
			found = append(found, signalNote{domain.SignalFastConversion, fmt.Sprintf("click-to-conversion %s (the offer's minimum is %s)",
				attribution.Age(d), attribution.Age(ctl.MinClickToConversion))})
		case ctl.MaxClickToConversion > 0 && d > ctl.MaxClickToConversion:
			found = append(found, signalNote{domain.SignalSlowConversion, fmt.Sprintf("click-to-conversion %s (the offer's maximum is %s)",
				attribution.Age(d), attribution.Age(ctl.MaxClickToConversion))})
		}
	}
	if ctl.MaxConversionsPerClick > 0 && conv.ClickID != "" {
		n, err := c.store.CountConversionsByClick(ctx, conv.ClickID)
		if err != nil {
			return nil, err
		}
		if n >= ctl.MaxConversionsPerClick {
			found = append(found, signalNote{domain.SignalConversionsPerClick, fmt.Sprintf("conversion %d on one click (the offer allows %d)",
				n+1, ctl.MaxConversionsPerClick)})
		}
	}
	if ctl.MaxConversionsPerIP > 0 && conv.BuyerIP != "" {
		n, err := c.store.CountConversionsByIP(ctx, offer.ID, conv.BuyerIP, now.Add(-ctl.IPWindow))
		if err != nil {
			return nil, err
		}
		if n >= ctl.MaxConversionsPerIP {
			found = append(found, signalNote{domain.SignalConversionsPerIP, fmt.Sprintf("conversion %d from one IP within %s (the offer allows %d)",
				n+1, attribution.Age(ctl.IPWindow), ctl.MaxConversionsPerIP)})
		}
	}
	for _, f := range found {
		conv.Signals = addSignal(conv.Signals, f.signal)
	}
	return found, nil
}

func addSignal(list []domain.Signal, s domain.Signal) []domain.Signal {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// signalDecision applies the offer's action per signal: the strongest one
// wins (reject over hold over record). It returns the action and the note
// that explains it.
func signalDecision(ctl domain.OfferControls, found []signalNote) (domain.SignalAction, string) {
	action, note := domain.ActionRecord, ""
	for _, f := range found {
		a := ctl.SignalActions[f.signal]
		switch {
		case a == domain.ActionReject && action != domain.ActionReject:
			action, note = a, string(f.signal)+": "+f.why
		case a == domain.ActionHold && action == domain.ActionRecord:
			action, note = a, string(f.signal)+": "+f.why
		}
	}
	return action, note
}
