package service

import (
	"testing"

	"github.com/batonhq/baton/server/internal/domain"
)

// TestPublicReasonKeepsNoThresholds: each reason the controls and caps
// write reads, for a publisher, as what happened without the network's
// numbers; a person's note is left as written.
func TestPublicReasonKeepsNoThresholds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ verb, in, want string }{
		{"held", "fast_conversion: click-to-conversion 8 seconds (the offer's minimum is 15 seconds)", "held: click-to-conversion 8 seconds"},
		{"rejected", "slow_conversion: click-to-conversion 2 days (the offer's maximum is 1 day)", "rejected: click-to-conversion 2 days"},
		{"held", "conversions_per_ip: conversion 4 from one IP within 1 day (the offer allows 3)", "held: conversions per IP"},
		{"rejected", "conversions_per_click: conversion 2 on one click (the offer allows 1)", "rejected: conversions per click"},
		{"rejected", "cap_reached: publisher pub_1 payout cap per day reached (9000 of 10000 JPY minor units used)", "rejected: cap reached"},
		{"held", "blocked_user_agent: on the offer's list", "held: blocklisted user-agent"},
	} {
		if got, ok := publicReason(tc.verb, tc.in); !ok || got != tc.want {
			t.Errorf("publicReason(%q, %q) = %q, %v; want %q", tc.verb, tc.in, got, ok, tc.want)
		}
	}
	if got, ok := publicReason("rejected", "refund: the buyer called"); ok {
		t.Errorf("a person's note was rewritten: %q", got)
	}
	c := &Conversions{}
	conv := domain.Conversion{HoldReason: "fast_conversion: click-to-conversion 1 second (the offer's minimum is 15 seconds)",
		History: []domain.StatusChange{{To: domain.StatusRejected, Actor: "key_adv", Note: "cap_reached: the advertiser's own words"}}}
	got := c.forViewer(domain.Principal{Role: domain.RolePublisher, PartnerID: "pub_1"}, conv)
	if got.HoldReason != "held: click-to-conversion 1 second" || got.History[0].Note != conv.History[0].Note {
		t.Errorf("publisher view %+v", got)
	}
	if adv := c.forViewer(domain.Principal{Role: domain.RoleAdvertiser, PartnerID: "adv_1"}, conv); adv.HoldReason != conv.HoldReason {
		t.Errorf("advertiser view %+v", adv)
	}
}
