package domain

import (
	"testing"
	"time"
)

func TestBlocklistMatches(t *testing.T) {
	t.Parallel()
	l := CompileBlocklist([]BlocklistEntry{
		{Kind: BlockIP, Value: "203.0.113.0/24"},
		{Kind: BlockIP, Value: "2001:db8::/32"},
		{Kind: BlockIP, Value: "192.0.2.7", PublisherID: "pub_a"},
		{Kind: BlockUserAgent, Match: MatchRegexp, Value: `^Scraper/\d+$`},
		{Kind: BlockSubID, Match: MatchGlob, Value: "a?c*"},
		{Kind: BlockSubID, Value: "exact.value", OfferID: "off_a"},
	})
	for _, tc := range []struct {
		offer, pub, ip, ua string
		subs               []string
		want               ClickFlag
	}{
		{"off_b", "pub_b", "203.0.113.200", "", nil, FlagBlockedIP},
		{"off_b", "pub_b", "::ffff:203.0.113.9", "", nil, FlagBlockedIP}, // IPv4 as IPv6
		{"off_b", "pub_b", "2001:db8:1::5", "", nil, FlagBlockedIP},
		{"off_b", "pub_b", "203.0.114.1", "", nil, 0},
		{"off_b", "pub_a", "192.0.2.7", "", nil, FlagBlockedIP},
		{"off_b", "pub_b", "192.0.2.7", "", nil, 0}, // scoped to pub_a
		{"off_b", "pub_b", "bogus", "Scraper/12", nil, FlagBlockedUserAgent},
		{"off_b", "pub_b", "", "Mozilla Scraper/12", nil, 0}, // anchored regexp
		{"off_b", "pub_b", "", "", []string{"", "abc-1"}, FlagBlockedSubID},
		{"off_b", "pub_b", "", "", []string{"ac"}, 0},
		{"off_a", "pub_b", "", "", []string{"exact.value"}, FlagBlockedSubID},
		{"off_b", "pub_b", "", "", []string{"exact.value"}, 0}, // scoped to off_a
		{"off_b", "pub_b", "", "", []string{"exactXvalue"}, 0}, // exact, not a pattern
	} {
		if got := l.Check(tc.offer, tc.pub, tc.ip, tc.ua, tc.subs); got != tc.want {
			t.Errorf("Check(%q, %q, %q, %q, %q) = %v, want %v", tc.offer, tc.pub, tc.ip, tc.ua, tc.subs, got.Reasons(), tc.want.Reasons())
		}
	}
	var empty *Blocklist
	if empty.Check("o", "p", "203.0.113.1", "x", []string{"abc"}) != 0 {
		t.Error("a nil blocklist blocks")
	}
}

func TestClickCapPeriodStartInTheOffersZone(t *testing.T) {
	t.Parallel()
	tokyo := time.FixedZone("JST", 9*3600)
	at := time.Date(2026, 12, 1, 16, 30, 0, 0, time.UTC) // 2 Dec 01:30 in Tokyo
	if got := (ClickCap{Period: PeriodDay, Location: tokyo}).PeriodStart(at); !got.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, tokyo)) {
		t.Errorf("day in Tokyo: %v", got)
	}
	if got := (ClickCap{Period: PeriodMonth}).PeriodStart(at); !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month, no zone (UTC): %v", got)
	}
	if got := (ClickCap{Period: PeriodTotal, Location: tokyo}).PeriodStart(at); !got.Equal(time.Unix(0, 0)) {
		t.Errorf("total: %v", got)
	}
}
