package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// TestImpossibleControlsAndCapsAreRefusedByField: each impossible setting
// is refused naming the field, so the caller knows what to fix.
func TestImpossibleControlsAndCapsAreRefusedByField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		err   error
		field string
	}{
		{"unknown zone", domain.OfferControls{TimeZone: "Mars/Olympus"}.Validate(), "controls.time_zone"},
		{"lock shorter than hold", domain.OfferControls{HoldPeriod: 2 * time.Hour, LockPeriod: time.Hour}.Validate(), "controls.lock_period"},
		{"min over max", domain.OfferControls{MinClickToConversion: time.Hour, MaxClickToConversion: time.Minute}.Validate(), "controls.max_click_to_conversion"},
		{"ip limit without window", domain.OfferControls{MaxConversionsPerIP: 3}.Validate(), "controls.ip_window"},
		{"unknown signal", domain.OfferControls{SignalActions: map[domain.Signal]domain.SignalAction{"nope": domain.ActionHold}}.Validate(), "controls.signal_actions"},
		{"unknown action", domain.OfferControls{SignalActions: map[domain.Signal]domain.SignalAction{domain.SignalFastConversion: "explode"}}.Validate(), "controls.signal_actions"},
		{"payout cap without currency", domain.Cap{Kind: domain.CapPayout, Period: domain.PeriodDay, Limit: 1, Action: domain.ActionHold}.Validate(), "caps.currency"},
		{"conversion cap with currency", domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodDay, Limit: 1, Currency: "JPY", Action: domain.ActionHold}.Validate(), "caps.currency"},
		{"zero limit", domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodDay, Action: domain.ActionHold}.Validate(), "caps.limit"},
		{"unknown period", domain.Cap{Kind: domain.CapConversions, Period: "week", Limit: 1, Action: domain.ActionHold}.Validate(), "caps.period"},
	} {
		e, ok := domain.AsError(tc.err)
		if !ok || e.Field != tc.field || e.Public == "" {
			t.Errorf("%s: %v, want an error on %s", tc.name, tc.err, tc.field)
		}
	}
	if err := (domain.OfferControls{}).Validate(); err != nil {
		t.Errorf("no controls (today's behaviour) must be valid: %v", err)
	}
	if loc := (domain.OfferControls{}).Location(); !strings.Contains(loc.String(), "Tokyo") {
		t.Errorf("default zone %v", loc)
	}
}
