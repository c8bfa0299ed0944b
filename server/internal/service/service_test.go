package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/auth"
	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

// The use cases at their own level: the real store on a real PostgreSQL
// (a fresh database per test, see testdb), no HTTP, no proto. Each test
// gets a testBundle from setup(t), River's pattern.

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

var admin = domain.Principal{KeyID: "key_admin", Role: domain.RoleAdmin}

// clock is the use cases' time, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// outbox records the conversion events it is told about, inside the
// transaction, and fails when told to.
type outbox struct {
	mu     sync.Mutex
	events []string // conversion ID + " " + event
	fail   error
}

func (o *outbox) ConversionEvent(ctx context.Context, otx domain.OutboxTx, c domain.Conversion, event domain.ConversionStatus) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	// The event is written in the conversion's own transaction: the row
	// is visible (and lockable) through the tx the outbox is given.
	tx, ok := otx.(service.ConversionTx)
	if !ok {
		return fmt.Errorf("the outbox was given %T, not the conversion's transaction", otx)
	}
	if _, err := tx.LockConversion(ctx, c.ID); err != nil {
		return err
	}
	o.events = append(o.events, c.ID+" "+string(event))
	return nil
}

func (o *outbox) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

// clickRecorder writes each click at once (the server batches them).
type clickRecorder struct{ st *store.Store }

func (r clickRecorder) Write(ctx context.Context, c *domain.Click) error {
	return r.st.InsertClicks(ctx, []*domain.Click{c})
}

type testBundle struct {
	st     *store.Store
	clock  *clock
	outbox *outbox
	config *service.Config
	clicks *service.Clicks
	conv   *service.Conversions
	adv    domain.Advertiser
	advP   domain.Principal // the advertiser's own principal
	pub    domain.Publisher
	site   domain.Site
	offer  domain.Offer
	link   domain.TrackingLink
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	st, err := store.Open(ctx, testdb.URL(t), store.Options{Box: box, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := &testBundle{st: st, clock: clk, outbox: &outbox{}}
	b.config = service.NewConfig(st, auth.NewKey)
	b.clicks = service.NewClicks(st, clickRecorder{st}, clickid.Generator{Now: clk.Now, Rand: rand.Reader}, "http://baton.test")
	inTx := func(ctx context.Context, f func(service.ConversionTx) error) error {
		return st.InTx(ctx, func(tx store.Tx) error { return f(tx) })
	}
	b.conv = service.NewConversions(st, inTx, b.outbox, nil, clk.Now, slog.New(slog.DiscardHandler))

	if b.adv, _, err = b.config.CreateAdvertiser(ctx, admin, domain.Advertiser{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	b.advP = domain.Principal{KeyID: "key_adv", Role: domain.RoleAdvertiser, PartnerID: b.adv.ID}
	b.pub, b.site = b.publisher(t, "media")
	b.offer = b.createOffer(t, domain.Offer{})
	b.link = b.linkFor(t, b.offer, b.pub, b.site)
	return b
}

func (b *testBundle) publisher(t *testing.T, name string) (domain.Publisher, domain.Site) {
	t.Helper()
	ctx := context.Background()
	pub, err := b.config.CreatePublisher(ctx, admin, domain.Publisher{Name: name, Kind: domain.PublisherMedia})
	if err != nil {
		t.Fatal(err)
	}
	site, err := b.config.CreateSite(ctx, admin, domain.Site{PublisherID: pub.ID, Name: name + " site", URL: "https://" + name + ".example/"})
	if err != nil {
		t.Fatal(err)
	}
	return pub, site
}

func (b *testBundle) createOffer(t *testing.T, o domain.Offer) domain.Offer {
	t.Helper()
	o.AdvertiserID = b.adv.ID
	if o.Name == "" {
		o.Name = "offer"
	}
	if o.LandingURL == "" {
		o.LandingURL = "https://shop.example/lp"
	}
	o.Downstream.ClickIDParam = "sid"
	o.Payout = domain.Payout{PercentBPS: 500}
	o.DuplicateClickInterval = time.Nanosecond
	// What the API gives an offer by default (rpc sets these today).
	o.DedupeOrderID = true
	if o.IPMatchWindow == 0 {
		o.IPMatchWindow = domain.DefaultIPMatchWindow
	}
	out, err := b.config.CreateOffer(context.Background(), admin, o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *testBundle) linkFor(t *testing.T, o domain.Offer, pub domain.Publisher, site domain.Site) domain.TrackingLink {
	t.Helper()
	l, err := b.clicks.CreateLink(context.Background(), admin, domain.TrackingLink{OfferID: o.ID, PublisherID: pub.ID, SiteID: site.ID})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// click follows link once from ip and returns what the redirect would do.
func (b *testBundle) click(t *testing.T, link domain.TrackingLink, ip string) service.ClickResult {
	t.Helper()
	res, err := b.clicks.Record(context.Background(), service.ClickInput{LinkID: link.ID, IP: ip, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0", Source: domain.ClickFromRedirect})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (b *testBundle) record(t *testing.T, in service.ConversionInput) (domain.Conversion, bool) {
	t.Helper()
	if in.Source == 0 {
		in.Source = domain.SourceAPI
	}
	if in.Amount.Currency == "" {
		in.Amount = domain.Money{Currency: "JPY", Minor: 1000}
	}
	c, dup, err := b.conv.Record(context.Background(), b.advP, in)
	if err != nil {
		t.Fatal(err)
	}
	return c, dup
}

func (b *testBundle) conversions(t *testing.T) []domain.Conversion {
	t.Helper()
	list, _, err := b.conv.List(context.Background(), b.advP, domain.ConversionFilter{IncludeTest: true}, domain.Page{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestSameOrderTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cl := b.click(t, b.link, "192.0.2.1").Click
	first, dup := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "ORDER-1"})
	if dup {
		t.Fatal("the first report of an order is not a duplicate")
	}
	again, dup := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "ORDER-1"})
	if !dup || again.ID != first.ID {
		t.Fatalf("second report: dup=%v id=%s, want the first conversion %s back as a duplicate", dup, again.ID, first.ID)
	}
	if list := b.conversions(t); len(list) != 1 {
		t.Fatalf("%d conversions stored, want 1", len(list))
	}
	if ev := b.outbox.seen(); len(ev) != 1 || ev[0] != first.ID+" "+string(domain.StatusPending) {
		t.Fatalf("outbox events %v, want one pending event for %s", ev, first.ID)
	}
}

func TestNamedClickWinsAndASaleBeforeTheClickEarnsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cl := b.click(t, b.link, "192.0.2.1").Click
	b.clock.Advance(time.Minute)
	c, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "A-1"})
	if c.PublisherID != b.pub.ID || c.ClickID != cl.ID || c.Commission.Minor != 50 {
		t.Fatalf("named click: publisher %q click %q commission %d, want %s, %s, 50 (5%% of 1000)", c.PublisherID, c.ClickID, c.Commission.Minor, b.pub.ID, cl.ID)
	}
	before, _ := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "A-2", SaleAt: cl.CreatedAt.Add(-time.Hour)})
	if before.PublisherID != "" || before.Commission.Minor != 0 {
		t.Fatalf("a sale an hour before its click: publisher %q commission %d, want none", before.PublisherID, before.Commission.Minor)
	}
}

func TestIPMatchLastClickWins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other, otherSite := b.publisher(t, "second")
	otherLink := b.linkFor(t, b.offer, other, otherSite)
	b.click(t, b.link, "192.0.2.9")
	b.clock.Advance(time.Minute)
	last := b.click(t, otherLink, "192.0.2.9").Click
	b.clock.Advance(time.Minute)
	c, _ := b.record(t, service.ConversionInput{OfferID: b.offer.ID, OrderID: "IP-1", IP: "192.0.2.9"})
	if c.PublisherID != other.ID || c.ClickID != last.ID || c.Attribution.Path != "ip_match" {
		t.Fatalf("by IP: publisher %q click %q path %q, want the last click %s of %s by ip_match", c.PublisherID, c.ClickID, c.Attribution.Path, last.ID, other.ID)
	}
}

func TestPausedOfferRecordsNoClick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.config.UpdateOffer(ctx, admin, b.offer.ID, func(o *domain.Offer) error { o.Status = domain.OfferPaused; return nil }); err != nil {
		t.Fatal(err)
	}
	b.clicks.ConfigChanged() // what the config service's OnChange does in the server
	if res := b.click(t, b.link, "192.0.2.1"); !res.Gone || res.Click.ID != "" {
		t.Fatalf("paused offer without a fallback: %+v, want Gone and no click", res)
	}
	clicks, _, err := b.st.ListClicks(ctx, domain.ClickFilter{OfferID: b.offer.ID}, domain.Page{Size: 10})
	if err != nil || len(clicks) != 0 {
		t.Fatalf("clicks stored for a paused offer: %v %v", clicks, err)
	}
	// With a fallback the person lands there, and the click is kept but not unique.
	if _, err := b.config.UpdateOffer(ctx, admin, b.offer.ID, func(o *domain.Offer) error { o.FallbackURL = "https://shop.example/closed"; return nil }); err != nil {
		t.Fatal(err)
	}
	b.clicks.ConfigChanged()
	res := b.click(t, b.link, "192.0.2.1")
	if res.Gone || res.Click.Unique || res.Click.Flags&domain.FlagOfferPaused == 0 {
		t.Fatalf("paused offer with a fallback: %+v", res)
	}
}

func TestRevokedKeyNoLongerAuthenticates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, secret, err := b.config.CreateAPIKey(ctx, admin, "shop key", domain.RoleAdvertiser, b.adv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.st.Authenticate(ctx, secret); err != nil || p.PartnerID != b.adv.ID {
		t.Fatalf("a new key: %+v %v", p, err)
	}
	// Another partner may not revoke it.
	stranger := domain.Principal{KeyID: "key_pub", Role: domain.RolePublisher, PartnerID: b.pub.ID}
	if _, err := b.config.RevokeAPIKey(ctx, stranger, k.ID); !errors.Is(err, domain.ErrPermissionDenied) {
		t.Fatalf("a publisher revoking the shop's key: %v, want ErrPermissionDenied", err)
	}
	if _, err := b.config.RevokeAPIKey(ctx, b.advP, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Authenticate(ctx, secret); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("a revoked key: %v, want ErrUnauthenticated", err)
	}
	if _, err := b.config.RevokeAPIKey(ctx, admin, "key_missing"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoking an unknown key: %v, want ErrNotFound", err)
	}
}

func TestOutboxFailureRollsTheConversionBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cl := b.click(t, b.link, "192.0.2.1").Click
	b.outbox.fail = errors.New("outbox unavailable")
	if _, _, err := b.conv.Record(context.Background(), b.advP, service.ConversionInput{Source: domain.SourceAPI, ClickID: cl.ID, OrderID: "OB-1",
		Amount: domain.Money{Currency: "JPY", Minor: 1000}}); err == nil {
		t.Fatal("a conversion whose postback could not be queued was reported as recorded")
	}
	if list := b.conversions(t); len(list) != 0 {
		t.Fatalf("the conversion committed without its postback: %v", list)
	}
	b.outbox.fail = nil
	c, dup := b.record(t, service.ConversionInput{ClickID: cl.ID, OrderID: "OB-1"})
	if dup {
		t.Fatal("the retry after a rolled-back attempt is the first conversion, not a duplicate")
	}
	if ev := b.outbox.seen(); len(ev) != 1 || ev[0] != c.ID+" "+string(domain.StatusPending) {
		t.Fatalf("outbox events %v, want one for %s", ev, c.ID)
	}
}
