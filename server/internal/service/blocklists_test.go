package service_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

func withBlocklists(b *testBundle) *service.Blocklists {
	bl := service.NewBlocklists(b.st, b.clock.Now, b.config.Reload)
	b.config.OnChange(bl.ConfigChanged)
	b.clicks.SetBlocklists(bl)
	b.conv.SetBlocklists(bl)
	return bl
}

func (b *testBundle) clickWith(t *testing.T, link domain.TrackingLink, ip, ua string, subs ...string) domain.Click {
	t.Helper()
	ctx := context.Background()
	res, err := b.clicks.Record(ctx, service.ClickInput{LinkID: link.ID, IP: ip, UserAgent: ua, SubIDs: subs, Source: domain.ClickFromRedirect})
	if err != nil {
		t.Fatal(err)
	}
	if res.Gone || res.RedirectURL == "" {
		t.Fatalf("a click must still redirect: %+v", res)
	}
	stored, err := b.st.GetClick(ctx, res.Click.ID)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// Blocked clicks still redirect and are stored with a named reason, not
// unique; scoped entries block only their offer or publisher; a removed
// entry stops blocking at once on the node that removed it; conversions
// carry the blocklist signals; the report counts clicks per reason.
func TestBlocklistsFlagClicksAndConversions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := withBlocklists(b)
	ctx := context.Background()
	other := b.createOffer(t, domain.Offer{Name: "other"})
	otherLink := b.linkFor(t, other, b.pub, b.site)
	const browser = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

	add := func(e domain.BlocklistEntry) domain.BlocklistEntry {
		t.Helper()
		out, err := bl.Add(ctx, admin, e)
		if err != nil {
			t.Fatalf("add %+v: %v", e, err)
		}
		return out
	}
	ipEntry := add(domain.BlocklistEntry{Kind: domain.BlockIP, Value: "198.51.100.0/24", Note: "data centre"})
	if ipEntry.Match != domain.MatchCIDR || ipEntry.ID == "" {
		t.Fatalf("stored entry %+v: want an ID and the kind's default match", ipEntry)
	}
	add(domain.BlocklistEntry{Kind: domain.BlockUserAgent, Value: "evilscraper", OfferID: b.offer.ID})
	add(domain.BlocklistEntry{Kind: domain.BlockSubID, Match: domain.MatchGlob, Value: "spam-*", PublisherID: b.pub.ID})

	for _, tc := range []struct {
		name    string
		link    domain.TrackingLink
		ip, ua  string
		subs    []string
		reasons []string
	}{
		{"blocked range", b.link, "198.51.100.7", browser, nil, []string{"blocked_ip"}},
		{"blocked user agent, any case", b.link, "192.0.2.1", browser + " EvilScraper/2.0", nil, []string{"blocked_user_agent"}},
		{"user agent blocked on another offer only", otherLink, "192.0.2.2", browser + " EvilScraper/2.0", nil, nil},
		{"blocked sub-ID pattern", b.link, "192.0.2.3", browser, []string{"ok", "spam-42"}, []string{"blocked_sub_id"}},
		{"sub-ID that only looks alike", b.link, "192.0.2.4", browser, []string{"nospam-42"}, nil},
		{"clean", b.link, "192.0.2.5", browser, nil, nil},
	} {
		c := b.clickWith(t, tc.link, tc.ip, tc.ua, tc.subs...)
		if got := c.Flags.Reasons(); !slices.Equal(got, tc.reasons) || c.Unique != (len(tc.reasons) == 0) {
			t.Errorf("%s: stored reasons %v unique=%v, want %v unique=%v", tc.name, got, c.Unique, tc.reasons, len(tc.reasons) == 0)
		}
	}

	// record() adds these signals to the conversion at intake, and they are
	// stored with it: what Record returns and what is read back say so.
	conv, _ := b.record(t, service.ConversionInput{OfferID: b.offer.ID, OrderID: "BL-1", IP: "198.51.100.9", UserAgent: browser})
	if got := bl.ConversionSignals(ctx, conv); !slices.Equal(got, []domain.Signal{domain.SignalBlockedIP}) {
		t.Errorf("conversion from a blocked buyer IP: signals %v, want [%s]", got, domain.SignalBlockedIP)
	}
	if !slices.Contains(conv.Signals, domain.SignalBlockedIP) {
		t.Errorf("conversion from a blocked buyer IP: recorded with signals %v, want %s among them", conv.Signals, domain.SignalBlockedIP)
	}
	if stored, err := b.st.GetConversion(ctx, conv.ID); err != nil || !slices.Contains(stored.Signals, domain.SignalBlockedIP) {
		t.Errorf("conversion from a blocked buyer IP: stored signals %v (%v), want %s among them", stored.Signals, err, domain.SignalBlockedIP)
	}
	spam := b.clickWith(t, b.link, "192.0.2.30", browser, "spam-7")
	b.clock.Advance(time.Second)
	conv, _ = b.record(t, service.ConversionInput{ClickID: spam.ID, OrderID: "BL-2", IP: "192.0.2.30", UserAgent: browser})
	if got := bl.ConversionSignals(ctx, conv); !slices.Equal(got, []domain.Signal{domain.SignalBlockedSubID}) {
		t.Errorf("conversion on a click with a blocked sub-ID %v: signals %v, want [%s]", conv.SubIDs, got, domain.SignalBlockedSubID)
	}

	if err := bl.Remove(ctx, admin, ipEntry.ID); err != nil {
		t.Fatal(err)
	}
	if c := b.clickWith(t, b.link, "198.51.100.7", browser); c.Flags&domain.FlagBlockedIP != 0 {
		t.Errorf("the next click after removing the entry is still blocked: %v", c.Flags.Reasons())
	}

	rows, err := b.st.Report(ctx, domain.ReportFilter{From: b.clock.Now().Add(-time.Hour), To: b.clock.Now().Add(time.Hour), TimeZone: "UTC", OfferID: b.offer.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		for k, n := range r.ClicksByReason {
			got[k] += n
		}
	}
	if want := map[string]int64{"blocked_ip": 1, "blocked_user_agent": 1, "blocked_sub_id": 2}; !mapsEqual(got, want) {
		t.Errorf("report clicks by reason %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Entries are checked when added, and refused by field.
func TestBlocklistEntriesAreCheckedByField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := withBlocklists(b)
	ctx := context.Background()
	for _, tc := range []struct {
		e     domain.BlocklistEntry
		field string
	}{
		{domain.BlocklistEntry{Kind: domain.BlockIP, Value: "198.51.100.0/33"}, "value"},
		{domain.BlocklistEntry{Kind: domain.BlockIP, Value: "not-an-ip"}, "value"},
		{domain.BlocklistEntry{Kind: domain.BlockIP, Match: domain.MatchGlob, Value: "10.*"}, "match"},
		{domain.BlocklistEntry{Kind: domain.BlockUserAgent, Match: domain.MatchRegexp, Value: "(unclosed"}, "value"},
		{domain.BlocklistEntry{Kind: domain.BlockSubID, Value: "x", OfferID: "off_nope"}, "offer_id"},
		{domain.BlocklistEntry{Kind: domain.BlockSubID, Value: "x", PublisherID: "pub_nope"}, "publisher_id"},
		{domain.BlocklistEntry{Kind: "email", Value: "x"}, "kind"},
	} {
		_, err := bl.Add(ctx, admin, tc.e)
		var de *domain.Error
		if !errors.As(err, &de) || !errors.Is(err, domain.ErrInvalid) || de.Field != tc.field {
			t.Errorf("add %+v: %v, want invalid %s", tc.e, err, tc.field)
		}
	}
	if _, err := bl.Add(ctx, b.advP, domain.BlocklistEntry{Kind: domain.BlockIP, Value: "192.0.2.1"}); !errors.Is(err, domain.ErrPermissionDenied) {
		t.Errorf("an advertiser key adding an entry: %v, want permission denied", err)
	}
	if err := bl.Remove(ctx, admin, "blk_nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("removing an unknown entry: %v, want not found", err)
	}
}
