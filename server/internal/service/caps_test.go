package service_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/service"
)

func (b *testBundle) caps() *service.Caps {
	return service.NewCaps(b.st, b.clock.Now, b.conv.ConfigChanged)
}

func (b *testBundle) setCaps(t *testing.T, list ...domain.Cap) {
	t.Helper()
	if _, err := b.caps().SetCaps(context.Background(), b.advP, b.offer.ID, list); err != nil {
		t.Fatal(err)
	}
}

func (b *testBundle) setControls(t *testing.T, c domain.OfferControls) {
	t.Helper()
	o, err := b.caps().SetOfferControls(context.Background(), b.advP, b.offer.ID, c)
	if err != nil {
		t.Fatal(err)
	}
	b.offer = o
}

func (b *testBundle) usage(t *testing.T) map[string]int64 {
	t.Helper()
	list, err := b.caps().CapUsage(context.Background(), b.advP, b.offer.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, u := range list {
		out[string(u.Cap.Kind)+"/"+string(u.Cap.Period)+"/"+u.Cap.PublisherID] = u.Used
	}
	return out
}

// TestConversionCapExactUnderConcurrency: 1,000 conversions racing against
// a daily cap of 100 give exactly 100 accepted; the other 900 are recorded,
// rejected, and carry cap_reached. A repeat of an accepted order is a
// duplicate and uses nothing.
func TestConversionCapExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setCaps(t, domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodDay, Limit: 100, Action: domain.ActionReject})
	cl := b.click(t, b.link, "192.0.2.1").Click
	const n = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, rejected, failed := 0, 0, 0
	var firstAccepted string
	sem := make(chan struct{}, 50)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			order := fmt.Sprintf("CAP-%d", i)
			c, _, err := b.conv.Record(context.Background(), b.advP, service.ConversionInput{Source: domain.SourceAPI, ClickID: cl.ID, OrderID: order,
				Amount: domain.Money{Currency: "JPY", Minor: 1000}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed++
				t.Errorf("%s: %v", order, err)
			case c.Status == domain.StatusPending && !slices.Contains(c.Signals, domain.SignalCapReached):
				accepted++
				if firstAccepted == "" {
					firstAccepted = order
				}
			case c.Status == domain.StatusRejected && slices.Contains(c.Signals, domain.SignalCapReached):
				rejected++
			default:
				failed++
				t.Errorf("%s: status %s signals %v", order, c.Status, c.Signals)
			}
		}()
	}
	wg.Wait()
	lost := failed
	if accepted != 100 {
		lost += max(accepted-100, 100-accepted)
	}
	if u := b.usage(t)["conversions/day/"]; u != 100 {
		t.Errorf("cap usage %d, want 100", u)
		lost++
	}
	if _, dup := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: firstAccepted}); !dup {
		t.Error("a repeat of an accepted order must be a duplicate")
	}
	if u := b.usage(t)["conversions/day/"]; u != 100 {
		t.Errorf("a duplicate used the cap: usage %d", u)
		lost++
	}
	proof.Tally(t, "fault: 1000 concurrent conversions vs a cap of 100", n, lost,
		fmt.Sprintf("accepted=%d rejected=%d (cap_reached) errors=%d", accepted, rejected, failed))
}

// TestPayoutCapPerPublisherHoldsAndDaysTurnInTheOffersTimeZone: a
// publisher's daily payout cap of ¥120 (5% of ¥1,000 = ¥50 each) takes two
// conversions, holds the third (pending, never auto-approved, cap_reached),
// and a new day starts at midnight in the offer's time zone (New York
// here), not UTC's.
func TestPayoutCapPerPublisherHoldsAndDaysTurnInTheOffersTimeZone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 23:00 in New York is 04:00 UTC the next day: a UTC day would not turn.
	b.clock.mu.Lock()
	b.clock.now = time.Date(2026, 3, 10, 23, 0, 0, 0, ny)
	b.clock.mu.Unlock()
	b.setControls(t, domain.OfferControls{TimeZone: "America/New_York", HoldPeriod: 24 * time.Hour})
	b.setCaps(t, domain.Cap{PublisherID: b.pub.ID, Kind: domain.CapPayout, Period: domain.PeriodDay, Limit: 120, Currency: "JPY", Action: domain.ActionHold})
	cl := b.click(t, b.link, "192.0.2.1").Click
	var got []string
	for i := range 3 {
		c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: fmt.Sprintf("P-%d", i)})
		got = append(got, fmt.Sprintf("%s/%v/%q", c.Status, c.Signals, c.HoldReason))
	}
	if !strings.Contains(got[2], "cap_reached") || strings.Contains(got[1], "cap_reached") || !strings.Contains(got[2], "payout cap per day reached (100 of 120") {
		t.Fatalf("third conversion must be held at the cap: %v", got)
	}
	if u := b.usage(t)["payout/day/"+b.pub.ID]; u != 100 {
		t.Fatalf("usage %d, want 100", u)
	}
	b.clock.Advance(59 * time.Minute) // 23:59 New York: the same day
	if c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "P-late"}); !slices.Contains(c.Signals, domain.SignalCapReached) {
		t.Fatalf("23:59 in New York is still the capped day: %v", c.Signals)
	}
	b.clock.Advance(2 * time.Minute) // 00:01 New York: a new day
	if c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "P-next"}); len(c.Signals) != 0 || c.HoldReason != "" {
		t.Fatalf("00:01 in New York is a new day: %v %q", c.Signals, c.HoldReason)
	}
	// The held ones are not approved when the hold period passes.
	b.clock.Advance(48 * time.Hour)
	n, err := b.conv.AutoApprove(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("auto-approved %d, want the 3 under the cap (P-0, P-1, P-next), not the 2 held", n)
	}
}

// TestTotalAndMonthCapsAndTestConversions: a total conversion cap counts
// across months; test conversions and unattributed ones use no cap.
func TestTotalAndMonthCapsAndTestConversions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setCaps(t, domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodTotal, Limit: 2, Action: domain.ActionReject},
		domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodMonth, Limit: 1, Action: domain.ActionHold})
	cl := b.click(t, b.link, "192.0.2.1").Click
	b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "T-test", Test: true})
	b.record(t, service.ConversionInput{OfferID: b.offer.ID, OrderID: "T-none"}) // no click: unattributed
	c1, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "T-1"})
	c2, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "T-2"})
	if len(c1.Signals) != 0 || c2.Status != domain.StatusPending || c2.HoldReason == "" {
		t.Fatalf("first under both caps %v; second held at the month cap: %s %q", c1.Signals, c2.Status, c2.HoldReason)
	}
	b.clock.Advance(40 * 24 * time.Hour) // a new month
	cl2 := b.click(t, b.link, "192.0.2.1").Click
	c3, _ := b.record(t, service.ConversionInput{ClickID: cl2.ID, OrderID: "T-3"})
	c4, _ := b.record(t, service.ConversionInput{ClickID: cl2.ID, OrderID: "T-4"})
	if c3.Status != domain.StatusPending || c3.HoldReason != "" || c4.Status != domain.StatusRejected || !strings.Contains(c4.History[len(c4.History)-1].Note, "conversions cap per total") {
		t.Fatalf("new month: the third fits the total cap of 2? no: c1 and c3 used it (c2 was held, and held ones count); got %s %q / %s %v", c3.Status, c3.HoldReason, c4.Status, c4.History)
	}
}

func TestPeriodStartInTheOffersZone(t *testing.T) {
	t.Parallel()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 31, 16, 30, 0, 0, time.UTC) // 01:30 on Feb 1 in Tokyo
	if got := domain.PeriodStart(domain.PeriodDay, at, tokyo); !got.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, tokyo)) {
		t.Fatalf("day %v", got)
	}
	if got := domain.PeriodStart(domain.PeriodMonth, at, tokyo); !got.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, tokyo)) {
		t.Fatalf("month %v", got)
	}
	if got := domain.PeriodStart(domain.PeriodTotal, at, tokyo); !got.Equal(time.Unix(0, 0)) {
		t.Fatalf("total %v", got)
	}
}

// TestConversionSignals: each threshold of the offer's controls names its
// signal on the conversion, and only the action the offer set for it
// changes anything.
func TestConversionSignals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setControls(t, domain.OfferControls{MinClickToConversion: 15 * time.Second, MaxClickToConversion: 24 * time.Hour,
		MaxConversionsPerClick: 2, MaxConversionsPerIP: 3, IPWindow: time.Hour,
		SignalActions: map[domain.Signal]domain.SignalAction{domain.SignalFastConversion: domain.ActionReject, domain.SignalConversionsPerClick: domain.ActionHold}})
	fast := b.click(t, b.link, "192.0.2.1").Click
	b.clock.Advance(8 * time.Second)
	c, _ := b.record(t, service.ConversionInput{ClickID: fast.ID, OrderID: "S-fast", IP: "198.51.100.1"})
	if c.Status != domain.StatusRejected || !slices.Equal(c.Signals, []domain.Signal{domain.SignalFastConversion}) ||
		!strings.Contains(c.History[len(c.History)-1].Note, "click-to-conversion 8 seconds") {
		t.Fatalf("fast: %s %v %v", c.Status, c.Signals, c.History)
	}
	slow := b.click(t, b.link, "192.0.2.2").Click
	b.clock.Advance(25 * time.Hour)
	c, _ = b.record(t, service.ConversionInput{ClickID: slow.ID, OrderID: "S-slow", IP: "198.51.100.2"})
	if c.Status != domain.StatusPending || c.HoldReason != "" || !slices.Equal(c.Signals, []domain.Signal{domain.SignalSlowConversion}) {
		t.Fatalf("slow is recorded only: %s %q %v", c.Status, c.HoldReason, c.Signals)
	}
	cl := b.click(t, b.link, "192.0.2.3").Click
	b.clock.Advance(time.Minute)
	var last domain.Conversion
	for i := range 3 {
		last, _ = b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: fmt.Sprintf("S-click-%d", i), IP: "198.51.100.3"})
	}
	if !slices.Contains(last.Signals, domain.SignalConversionsPerClick) || !strings.Contains(last.HoldReason, "conversion 3 on one click (the offer allows 2)") {
		t.Fatalf("third on one click: %v %q", last.Signals, last.HoldReason)
	}
	cl2 := b.click(t, b.link, "192.0.2.4").Click
	b.clock.Advance(time.Minute)
	c, _ = b.record(t, service.ConversionInput{ClickID: cl2.ID, OrderID: "S-ip", IP: "198.51.100.3"})
	if !slices.Equal(c.Signals, []domain.Signal{domain.SignalConversionsPerIP}) || c.HoldReason != "" {
		t.Fatalf("fourth from one IP within the hour: %v %q", c.Signals, c.HoldReason)
	}
	got, err := b.conv.Get(context.Background(), b.advP, c.ID)
	if err != nil || !slices.Equal(got.Signals, c.Signals) {
		t.Fatalf("signals are stored: %v %v", got.Signals, err)
	}
}

// TestHoldPeriodThenApproved: pending until the hold period passes, then
// approved; with no hold period the offer's auto_approve_after_days still
// applies as before.
func TestHoldPeriodThenApproved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setControls(t, domain.OfferControls{HoldPeriod: 2 * time.Hour})
	cl := b.click(t, b.link, "192.0.2.1").Click
	c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "H-1"})
	if c.HoldUntil == nil || !c.HoldUntil.Equal(c.CreatedAt.Add(2*time.Hour)) {
		t.Fatalf("hold until %v", c.HoldUntil)
	}
	b.clock.Advance(2*time.Hour - time.Second)
	if n, err := b.conv.AutoApprove(context.Background()); err != nil || n != 0 {
		t.Fatalf("before the hold passes: approved %d %v", n, err)
	}
	b.clock.Advance(time.Second)
	if n, err := b.conv.AutoApprove(context.Background()); err != nil || n != 1 {
		t.Fatalf("once the hold passes: approved %d %v", n, err)
	}
	got, err := b.conv.Get(context.Background(), b.advP, c.ID)
	if err != nil || got.Status != domain.StatusApproved || got.History[len(got.History)-1].Reason != "auto_approved" {
		t.Fatalf("after the hold: %v %v", got.Status, err)
	}
	// Rejected during the hold: stays rejected.
	c2, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "H-2"})
	if _, err := b.conv.ChangeStatus(context.Background(), b.advP, c2.ID, domain.StatusRejected, "", "fraud", ""); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(3 * time.Hour)
	if n, err := b.conv.AutoApprove(context.Background()); err != nil || n != 0 {
		t.Fatalf("a rejected one is not approved: %d %v", n, err)
	}
}

// TestLockRefusesChangesButAReversalWithANote: after the lock period a
// conversion cannot be approved, rejected, or reversed without a note; a
// reversal with a note goes through and is posted back like any status
// change.
func TestLockRefusesChangesButAReversalWithANote(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.caps().SetOfferControls(context.Background(), b.advP, b.offer.ID, domain.OfferControls{HoldPeriod: 48 * time.Hour, LockPeriod: 24 * time.Hour}); err == nil {
		t.Fatal("a lock shorter than the hold must be refused")
	}
	b.setControls(t, domain.OfferControls{LockPeriod: 24 * time.Hour})
	cl := b.click(t, b.link, "192.0.2.1").Click
	pending, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "L-1"})
	approved, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "L-2"})
	ctx := context.Background()
	if _, err := b.conv.ChangeStatus(ctx, b.advP, approved.ID, domain.StatusApproved, "", "valid_sale", ""); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(24 * time.Hour)
	_, err := b.conv.ChangeStatus(ctx, b.advP, pending.ID, domain.StatusRejected, "", "fraud", "")
	var de *domain.Error
	if !errors.As(err, &de) || !errors.Is(err, domain.ErrFailedPrecondition) || !strings.Contains(de.Public, "is locked since") {
		t.Fatalf("a change after the lock: %v", err)
	}
	if _, err := b.conv.ChangeStatus(ctx, b.advP, approved.ID, domain.StatusReversed, "", "refund", ""); !errors.Is(err, domain.ErrFailedPrecondition) {
		t.Fatalf("a reversal without a note after the lock: %v", err)
	}
	got, err := b.conv.ChangeStatus(ctx, b.advP, approved.ID, domain.StatusReversed, "", "refund", "refunded after the lock: order cancelled by the card issuer")
	if err != nil || got.Status != domain.StatusReversed {
		t.Fatalf("a reversal with a note: %v %v", got.Status, err)
	}
	if ev := b.outbox.seen(); !slices.Contains(ev, approved.ID+" reversed") {
		t.Fatalf("the reversal must travel up the chain: outbox %v", ev)
	}
}

// TestACompletedSaleCountsAgainstTheCaps: a sale recorded without a click
// and completed by a second report with its click is attributed then, and
// only then counts against the caps: reporting without the click first
// does not get around them.
func TestACompletedSaleCountsAgainstTheCaps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setCaps(t, domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodTotal, Limit: 1, Action: domain.ActionReject})
	cl := b.click(t, b.link, "192.0.2.1").Click
	b.clock.Advance(time.Minute)
	if c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "C-0"}); len(c.Signals) != 0 {
		t.Fatalf("the first one fits: %v", c.Signals)
	}
	first, _ := b.record(t, service.ConversionInput{OfferID: b.offer.ID, OrderID: "C-1"})
	if first.PublisherID != "" || len(first.Signals) != 0 {
		t.Fatalf("without a click: unattributed, no cap used: %q %v", first.PublisherID, first.Signals)
	}
	done, dup := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "C-1"})
	if !dup || done.ID != first.ID || done.PublisherID != b.pub.ID || done.Status != domain.StatusRejected ||
		!slices.Contains(done.Signals, domain.SignalCapReached) {
		t.Fatalf("completed over the cap: dup=%v %s %q %s %v", dup, done.ID, done.PublisherID, done.Status, done.Signals)
	}
}

// TestPayoutCapExactUnderConcurrency: 200 conversions racing against a
// payout cap of exactly 20 commissions give exactly 20 accepted, and the
// cap's usage is the limit to the yen.
func TestPayoutCapExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cl := b.click(t, b.link, "192.0.2.1").Click
	first, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "PAY-PRICE"})
	per := first.Commission.Minor
	if per <= 0 {
		t.Fatalf("commission %v", first.Commission)
	}
	// A month cap, set after the first sale: that one is not counted.
	b.setCaps(t, domain.Cap{Kind: domain.CapPayout, Period: domain.PeriodMonth, Limit: 20 * per, Currency: first.Commission.Currency,
		Action: domain.ActionReject})
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, rejected, failed := 0, 0, 0
	sem := make(chan struct{}, 50)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, _, err := b.conv.Record(context.Background(), b.advP, service.ConversionInput{Source: domain.SourceAPI, ClickID: cl.ID,
				OrderID: fmt.Sprintf("PAY-%d", i), Amount: first.Amount})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed++
				t.Errorf("PAY-%d: %v", i, err)
			case c.Status == domain.StatusPending && !slices.Contains(c.Signals, domain.SignalCapReached):
				accepted++
			case c.Status == domain.StatusRejected && slices.Contains(c.Signals, domain.SignalCapReached):
				rejected++
			default:
				failed++
				t.Errorf("PAY-%d: status %s signals %v", i, c.Status, c.Signals)
			}
		}()
	}
	wg.Wait()
	lost := failed + max(accepted-20, 20-accepted)
	if u := b.usage(t)["payout/month/"]; u != 20*per {
		t.Errorf("cap usage %d, want %d", u, 20*per)
		lost++
	}
	proof.Tally(t, "fault: 200 concurrent conversions vs a payout cap of 20 commissions", n, lost,
		fmt.Sprintf("accepted=%d rejected=%d (cap_reached) errors=%d; usage %d of %d", accepted, rejected, failed, b.usage(t)["payout/month/"], 20*per))
}

// TestCapsWithLimitsPastSmallInts: caps set far from full (2^50, the way a
// network sets "no real limit") count like any other.
func TestCapsWithLimitsPastSmallInts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const never = 1 << 50
	b.setCaps(t, domain.Cap{Kind: domain.CapConversions, Period: domain.PeriodDay, Limit: never, Action: domain.ActionReject},
		domain.Cap{Kind: domain.CapPayout, Period: domain.PeriodMonth, Limit: never, Currency: "JPY", Action: domain.ActionHold})
	cl := b.click(t, b.link, "192.0.2.1").Click
	for i := range 3 {
		c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: fmt.Sprintf("BIG-%d", i)})
		if c.Status != domain.StatusPending || slices.Contains(c.Signals, domain.SignalCapReached) {
			t.Fatalf("BIG-%d: status %s signals %v", i, c.Status, c.Signals)
		}
	}
	if u := b.usage(t)["conversions/day/"]; u != 3 {
		t.Errorf("usage %d, want 3", u)
	}
}
