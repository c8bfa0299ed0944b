package domain

import (
	"fmt"
	"time"
)

// SignalAction is what an offer does with a conversion that carries a
// signal: record it only (the default), hold it for a person to decide, or
// reject it.
type SignalAction string

// Signal actions.
const (
	ActionRecord SignalAction = "record"
	ActionHold   SignalAction = "hold"
	ActionReject SignalAction = "reject"
)

// OfferControls are an offer's conversion controls (issue 19). The zero
// value is today's behaviour: no hold beyond AutoApproveAfterDays, no lock,
// no thresholds, signals recorded only.
type OfferControls struct {
	// TimeZone is the IANA zone caps count days and months in; empty is
	// Asia/Tokyo.
	TimeZone string `json:"time_zone,omitempty"`
	// HoldPeriod: a new conversion stays pending this long, then is approved
	// unless rejected. Zero falls back to the offer's AutoApproveAfterDays.
	HoldPeriod time.Duration `json:"hold_period,omitempty"`
	// LockPeriod: this long after it was recorded a conversion can no longer
	// change, except by a reversal with a reason. Zero: never locked.
	LockPeriod time.Duration `json:"lock_period,omitempty"`
	// MinClickToConversion and MaxClickToConversion: a sale sooner or later
	// than these after its click carries fast_conversion/slow_conversion.
	MinClickToConversion time.Duration `json:"min_click_to_conversion,omitempty"`
	MaxClickToConversion time.Duration `json:"max_click_to_conversion,omitempty"`
	// MaxConversionsPerClick: more conversions than this on one click carry
	// conversions_per_click. Zero: no limit.
	MaxConversionsPerClick int `json:"max_conversions_per_click,omitempty"`
	// MaxConversionsPerIP within IPWindow: more conversions than this from
	// one buyer IP carry conversions_per_ip. Zero: no limit.
	MaxConversionsPerIP int           `json:"max_conversions_per_ip,omitempty"`
	IPWindow            time.Duration `json:"ip_window,omitempty"`
	// SignalActions: what each signal does; a signal not listed is recorded
	// only.
	SignalActions map[Signal]SignalAction `json:"signal_actions,omitempty"`
}

// DefaultControlsTimeZone is the zone of an offer that names none.
const DefaultControlsTimeZone = "Asia/Tokyo"

// Location returns the offer's time zone (Asia/Tokyo when unset or unknown).
func (c OfferControls) Location() *time.Location {
	name := c.TimeZone
	if name == "" {
		name = DefaultControlsTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc, _ = time.LoadLocation(DefaultControlsTimeZone) //nolint:errcheck // a fixed, known zone
	}
	if loc == nil {
		return time.UTC
	}
	return loc
}

// Validate refuses impossible controls, by field.
func (c OfferControls) Validate() error {
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return Invalid("controls.time_zone", "%q is not an IANA time zone", c.TimeZone)
		}
	}
	for name, d := range map[string]time.Duration{
		"controls.hold_period": c.HoldPeriod, "controls.lock_period": c.LockPeriod, "controls.ip_window": c.IPWindow,
		"controls.min_click_to_conversion": c.MinClickToConversion, "controls.max_click_to_conversion": c.MaxClickToConversion,
	} {
		if d < 0 {
			return Invalid(name, "must not be negative")
		}
	}
	if c.LockPeriod > 0 && c.HoldPeriod > c.LockPeriod {
		return Invalid("controls.lock_period", "the lock period (%s) must not be shorter than the hold period (%s): a held conversion could never be approved", c.LockPeriod, c.HoldPeriod)
	}
	if c.MaxClickToConversion > 0 && c.MinClickToConversion >= c.MaxClickToConversion {
		return Invalid("controls.max_click_to_conversion", "must be greater than min_click_to_conversion")
	}
	if c.MaxConversionsPerClick < 0 || c.MaxConversionsPerIP < 0 {
		return Invalid("controls.max_conversions_per_ip", "must not be negative")
	}
	if c.MaxConversionsPerIP > 0 && c.IPWindow <= 0 {
		return Invalid("controls.ip_window", "is required with max_conversions_per_ip")
	}
	for s, a := range c.SignalActions {
		if !KnownSignal(s) {
			return Invalid("controls.signal_actions", "unknown signal %q", s)
		}
		switch a {
		case ActionRecord, ActionHold, ActionReject:
		default:
			return Invalid("controls.signal_actions", "signal %s: unknown action %q (record, hold or reject)", s, a)
		}
	}
	return nil
}

// CapKind is what a cap counts.
type CapKind string

// Cap kinds.
const (
	CapClicks      CapKind = "clicks"
	CapConversions CapKind = "conversions"
	CapPayout      CapKind = "payout"
)

// CapPeriod is the period a cap counts over, in the offer's time zone.
type CapPeriod string

// Cap periods.
const (
	PeriodDay   CapPeriod = "day"
	PeriodMonth CapPeriod = "month"
	PeriodTotal CapPeriod = "total"
)

// Cap is a limit on an offer's clicks, conversions or payout (commission,
// in Currency's minor units) per period, for the whole offer or one
// publisher on it. At a conversion or payout cap a conversion is held or
// rejected (Action) and carries SignalCapReached.
type Cap struct {
	ID          string
	OfferID     string
	PublisherID string // empty: the whole offer
	Kind        CapKind
	Period      CapPeriod
	Limit       int64
	Currency    string // payout caps only
	Action      SignalAction
	CreatedAt   time.Time
}

// Validate refuses an impossible cap.
func (c Cap) Validate() error {
	switch c.Kind {
	case CapClicks, CapConversions, CapPayout:
	default:
		return Invalid("caps.kind", "unknown cap kind %q", c.Kind)
	}
	switch c.Period {
	case PeriodDay, PeriodMonth, PeriodTotal:
	default:
		return Invalid("caps.period", "unknown cap period %q", c.Period)
	}
	if c.Limit <= 0 {
		return Invalid("caps.limit", "must be positive")
	}
	if c.Kind == CapPayout && c.Currency == "" {
		return Invalid("caps.currency", "a payout cap needs its currency")
	}
	if c.Kind != CapPayout && c.Currency != "" {
		return Invalid("caps.currency", "only a payout cap has a currency")
	}
	if c.Action != ActionHold && c.Action != ActionReject {
		return Invalid("caps.action", "must be hold or reject")
	}
	return nil
}

// PeriodStart returns the start of the period of cap period p that holds
// t, in loc: local midnight, the first of the local month, or the Unix
// epoch for a total.
func PeriodStart(p CapPeriod, t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	switch p {
	case PeriodDay:
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	case PeriodMonth:
		return time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
	}
	return time.Unix(0, 0).UTC()
}

// CapUsage is how much of a cap one period used.
type CapUsage struct {
	Cap         Cap
	PeriodStart time.Time
	Used        int64
}

// CapHit names the cap a conversion reached.
type CapHit struct {
	Cap  Cap
	Used int64
}

// String describes the hit for a person.
func (h CapHit) String() string {
	who := "offer"
	if h.Cap.PublisherID != "" {
		who = "publisher " + h.Cap.PublisherID
	}
	unit := ""
	if h.Cap.Kind == CapPayout {
		unit = " " + h.Cap.Currency + " minor units"
	}
	return fmt.Sprintf("%s %s cap per %s reached (%d of %d%s used)", who, h.Cap.Kind, h.Cap.Period, h.Used, h.Cap.Limit, unit)
}

// SignalCount is how many of a day's conversions of an offer and publisher
// carried one signal (a row of the signal report).
type SignalCount struct {
	Day         string
	OfferID     string
	PublisherID string
	Signal      Signal
	Conversions int64
}
