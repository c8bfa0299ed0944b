package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/auth"
	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

// At a click cap the redirect goes to the offer's fallback URL and the
// click is stored flagged capped, not unique, not counted. One node counts
// exactly; a second node on the same database learns the first one's clicks
// at its next sync; a new day starts a new count.
func TestClickCapSendsToTheFallbackURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	box, _ := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	clk := &clock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, url, store.Options{Box: box, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	cfg := service.NewConfig(st, auth.NewKey)
	adv, _, err := cfg.CreateAdvertiser(ctx, admin, domain.Advertiser{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cfg.CreatePublisher(ctx, admin, domain.Publisher{Name: "media", Kind: domain.PublisherMedia})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := cfg.CreateOffer(ctx, admin, domain.Offer{AdvertiserID: adv.ID, Name: "capped", LandingURL: "https://shop.example/lp",
		FallbackURL: "https://shop.example/sold-out", Payout: domain.Payout{PercentBPS: 500}, DuplicateClickInterval: time.Nanosecond,
		IPMatchWindow: domain.DefaultIPMatchWindow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO caps (id, offer_id, kind, period, cap_limit, created_at) VALUES ('cap_1', $1, 'clicks', 'day', 3, now())`, offer.ID); err != nil {
		t.Fatal(err)
	}
	node := func() (*service.Clicks, *service.ClickCaps) {
		c := service.NewClicks(st, clickRecorder{st}, clickid.Generator{Now: clk.Now, Rand: rand.Reader}, "http://baton.test")
		k := service.NewClickCaps(st, clk.Now)
		if err := k.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		c.SetClickCaps(k)
		return c, k
	}
	node1, _ := node()
	node2, caps2 := node()
	link, err := node1.CreateLink(ctx, admin, domain.TrackingLink{OfferID: offer.ID, PublisherID: pub.ID})
	if err != nil {
		t.Fatal(err)
	}
	click := func(n *service.Clicks, i int) service.ClickResult {
		t.Helper()
		res, err := n.Record(ctx, service.ClickInput{LinkID: link.ID, IP: "192.0.2.1", UserAgent: "Mozilla/5.0 Firefox/133.0 #" + string(rune('a'+i)),
			DeepLink: "/deep", Source: domain.ClickFromRedirect})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	landed := func(res service.ClickResult) bool {
		return strings.HasPrefix(res.RedirectURL, "https://shop.example/deep")
	}
	for i := range 3 {
		if res := click(node1, i); !landed(res) || res.Click.Flags&domain.FlagCapped != 0 {
			t.Fatalf("click %d of 3 under the cap went to %s (flags %v)", i+1, res.RedirectURL, res.Click.Flags.Reasons())
		}
	}
	res := click(node1, 3)
	if !strings.HasPrefix(res.RedirectURL, "https://shop.example/sold-out") {
		t.Fatalf("the 4th click of a 3-a-day cap went to %s, want the fallback URL", res.RedirectURL)
	}
	stored, err := st.GetClick(ctx, res.Click.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Flags&domain.FlagCapped == 0 || stored.Unique {
		t.Errorf("capped click stored with reasons %v unique=%v, want capped, not unique", stored.Flags.Reasons(), stored.Unique)
	}
	// Node 2 read the count before node 1's clicks: it learns them at its
	// next sync (the bound across nodes), then refuses too.
	if err := caps2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if res := click(node2, 4); landed(res) {
		t.Errorf("node 2 after its sync sent a 5th click to the landing page")
	}
	// A new day in the period's time zone (UTC): a new count.
	clk.Advance(24 * time.Hour)
	if res := click(node1, 5); !landed(res) {
		t.Errorf("the first click of the next day went to %s", res.RedirectURL)
	}
}
