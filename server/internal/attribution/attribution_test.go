package attribution

import (
	"strings"
	"testing"
	"time"
)

var sale = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func click(id string, before time.Duration) Click {
	return Click{ID: id, PublisherID: "pub_" + id, At: sale.Add(-before)}
}

func TestWindowEdges(t *testing.T) {
	t.Parallel()
	r := Rules{Window: 24 * time.Hour}
	for _, tc := range []struct {
		before time.Duration
		won    bool
		reason string
	}{
		{0, true, ""},
		{24 * time.Hour, true, ""}, // exactly at the edge: inside
		{24*time.Hour + time.Second, false, "the click was 1 day 1 second before the sale, outside the 1 day window"},
		{-time.Second, false, "after the sale"},
	} {
		d := Decide(PathClickID, r, sale, []Click{click("a", tc.before)})
		if (d.Winner != nil) != tc.won || !strings.Contains(d.Candidates[0].Reason, tc.reason) {
			t.Errorf("click %v before: winner=%v reason=%q", tc.before, d.Winner != nil, d.Candidates[0].Reason)
		}
	}
}

func TestLastAndFirstClick(t *testing.T) {
	t.Parallel()
	clicks := []Click{click("old", 3*time.Hour), click("new", 10*time.Minute), click("mid", time.Hour)}
	last := Decide(PathIPMatch, Rules{Window: 30 * 24 * time.Hour, IPMatchWindow: 6 * time.Hour}, sale, clicks)
	if last.Winner == nil || last.Winner.ID != "new" {
		t.Fatalf("last click: %+v", last.Winner)
	}
	first := Decide(PathIPMatch, Rules{Window: 30 * 24 * time.Hour, IPMatchWindow: 6 * time.Hour, Model: FirstClick}, sale, clicks)
	if first.Winner == nil || first.Winner.ID != "old" {
		t.Fatalf("first click: %+v", first.Winner)
	}
	if !strings.Contains(last.Summary, "3 clicks were candidates; the last click rule picked this one") {
		t.Errorf("summary %q", last.Summary)
	}
	// The IP window is shorter than the attribution window: it applies.
	short := Decide(PathIPMatch, Rules{Window: 30 * 24 * time.Hour, IPMatchWindow: 2 * time.Hour, Model: FirstClick}, sale, clicks)
	if short.Winner == nil || short.Winner.ID != "mid" || short.Window != 2*time.Hour {
		t.Fatalf("IP window: %+v", short)
	}
}

func TestBotsNeverWin(t *testing.T) {
	t.Parallel()
	b := click("bot", time.Minute)
	b.Bot = true
	d := Decide(PathCookie, Rules{Window: time.Hour}, sale, []Click{b})
	if d.Winner != nil || !strings.Contains(d.Summary, "bot") {
		t.Fatalf("%+v", d)
	}
	if none := Decide(PathIPMatch, Rules{Window: time.Hour}, sale, nil); none.Path != PathNone || !strings.Contains(none.Summary, "no click came from its IP") {
		t.Fatalf("%+v", none)
	}
}

func TestCommissionRounding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p                 Payout
		cur               string
		sale              int64
		wantCur, wantRule string
		want              int64
	}{
		{Payout{PercentBPS: 500}, "JPY", 1980, "JPY", "5% of ¥1,980 = ¥99", 99},
		{Payout{PercentBPS: 500}, "JPY", 1999, "JPY", "5% of ¥1,999 = ¥99 (rounded down)", 99},
		{Payout{PercentBPS: 1250}, "USD", 1999, "USD", "12.5% of $19.99 = $2.49 (rounded down)", 249},
		{Payout{PercentBPS: 333}, "JPY", 0, "JPY", "3.33% of ¥0 = ¥0", 0},
		{Payout{PercentBPS: 10000}, "JPY", 1_000_000_000_000, "JPY", "100% of ¥1,000,000,000,000 = ¥1,000,000,000,000", 1_000_000_000_000},
		{Payout{Fixed: true, FixedCurrency: "JPY", FixedMinor: 500}, "USD", 1999, "JPY", "a fixed ¥500 per sale", 500},
	} {
		cur, minor, rule := Commission(tc.p, tc.cur, tc.sale)
		if cur != tc.wantCur || minor != tc.want || rule != tc.wantRule {
			t.Errorf("Commission(%+v, %s %d) = %s %d %q; want %s %d %q", tc.p, tc.cur, tc.sale, cur, minor, rule, tc.wantCur, tc.want, tc.wantRule)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"19.99": 1999, "19.9": 1990, "0": 0, "5": 500, "1234567.01": 123456701} {
		if got, err := ParseDecimal("USD", in); err != nil || got != want {
			t.Errorf("ParseDecimal(USD, %q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", ".5", "1.", "1.234", "-1", "1e3", "1,000", " 1", "0x10", "１"} {
		if _, err := ParseDecimal("USD", in); err == nil {
			t.Errorf("ParseDecimal(USD, %q) accepted", in)
		}
	}
	if _, err := ParseDecimal("JPY", "10.5"); err == nil {
		t.Error("yen have no decimals")
	}
}

func TestEarnedPicksThePublishersOverride(t *testing.T) {
	t.Parallel()
	offer := Payout{PercentBPS: 500}
	fixed := Payout{Fixed: true, FixedCurrency: "JPY", FixedMinor: 300}
	for _, tc := range []struct {
		name      string
		overrides []Override
		publisher string
		currency  string
		minor     int64
		rule      string
	}{
		{"no overrides: the offer's payout", nil, "pub_a", "JPY", 500, "5% of ¥10,000 = ¥500"},
		{"another publisher's override does not apply", []Override{{"pub_b", fixed}}, "pub_a", "JPY", 500, "5% of ¥10,000 = ¥500"},
		{"the publisher's own fixed payout", []Override{{"pub_b", Payout{PercentBPS: 1}}, {"pub_a", fixed}}, "pub_a", "JPY", 300,
			"publisher override: a fixed ¥300 per sale"},
		{"the publisher's own percentage", []Override{{"pub_a", Payout{PercentBPS: 1250}}}, "pub_a", "JPY", 1250,
			"publisher override: 12.5% of ¥10,000 = ¥1,250"},
		{"the last override naming the publisher wins", []Override{{"pub_a", fixed}, {"pub_a", Payout{PercentBPS: 1000}}}, "pub_a", "JPY", 1000,
			"publisher override: 10% of ¥10,000 = ¥1,000"},
		{"a fixed USD override on a yen sale is paid in USD", []Override{{"pub_a", Payout{Fixed: true, FixedCurrency: "USD", FixedMinor: 250}}}, "pub_a", "USD", 250,
			"publisher override: a fixed $2.50 per sale"},
	} {
		cur, minor, rule := Earned(offer, tc.overrides, tc.publisher, "JPY", 10000)
		if cur != tc.currency || minor != tc.minor || rule != tc.rule {
			t.Errorf("%s: got %s %d %q, want %s %d %q", tc.name, cur, minor, rule, tc.currency, tc.minor, tc.rule)
		}
	}
}
