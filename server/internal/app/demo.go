package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/store"
)

// Demo data has fixed IDs and keys so that the README's commands work as
// pasted against `make run`. The keys are public: demo mode is for a
// developer's machine only.
const (
	DemoAdvertiserID  = "adv_demo"
	DemoPublisherID   = "pub_demo"
	DemoPublisher2ID  = "pub_demo2"
	DemoSiteID        = "site_demo"
	DemoOfferID       = "off_demo"
	DemoLinkID        = "demo"
	DemoAdvertiserKey = "bk_demo_advertiser_key_0000000000"
	DemoPublisherKey  = "bk_demo_publisher_key_00000000000"
	DemoPublisher2Key = "bk_demo_publisher2_key_0000000000"
)

// SeedDemo creates the demo advertiser, two publishers, a site, an offer and
// a key for each partner, unless they exist. It prints what to use to w.
func SeedDemo(ctx context.Context, st *store.Store, w io.Writer) error {
	if _, err := st.GetAdvertiser(ctx, DemoAdvertiserID); errors.Is(err, domain.ErrNotFound) {
		if err := seed(ctx, st); err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
	} else if err != nil {
		return err
	}
	adv, err := st.GetAdvertiser(ctx, DemoAdvertiserID)
	if err != nil {
		return err
	}
	secrets, err := st.AdvertiserSecrets(ctx, DemoAdvertiserID)
	if err != nil {
		return err
	}
	pub, err := st.GetPublisher(ctx, DemoPublisherID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `
Demo data (BATON_DEMO=true; public keys, for this machine only):
  advertiser  %-10s shop_id=%d  key=%s  secret (FC2 password)=%s
  publisher   %-10s user_id=%d  key=%s
  publisher2  %-10s             key=%s
  offer       %s  (landing https://shop.example.com/lp)
  link        /c/%s   (publisher %s, site %s)
`, adv.ID, adv.ShopID, DemoAdvertiserKey, secrets[0], pub.ID, pub.UserID, DemoPublisherKey, DemoPublisher2ID, DemoPublisher2Key, DemoOfferID, DemoLinkID, DemoPublisherID, DemoSiteID)
	return nil
}

func seed(ctx context.Context, st *store.Store) error {
	if _, err := st.CreateAdvertiser(ctx, domain.Advertiser{ID: DemoAdvertiserID, Name: "Demo Shop"}, "demo-shop-password"); err != nil {
		return err
	}
	if _, err := st.CreatePublisher(ctx, domain.Publisher{ID: DemoPublisherID, Name: "Demo Media", Kind: domain.PublisherMedia}); err != nil {
		return err
	}
	if _, err := st.CreatePublisher(ctx, domain.Publisher{ID: DemoPublisher2ID, Name: "Another Media", Kind: domain.PublisherMedia}); err != nil {
		return err
	}
	if _, err := st.CreateSite(ctx, domain.Site{ID: DemoSiteID, PublisherID: DemoPublisherID, Name: "Demo Blog", URL: "https://blog.example.com/"}); err != nil {
		return err
	}
	o := domain.Offer{
		ID: DemoOfferID, AdvertiserID: DemoAdvertiserID, Name: "Demo cosmetics set",
		LandingURL: "https://shop.example.com/lp", DeepLinkHosts: []string{"shop.example.com"},
		Downstream:    domain.Downstream{ClickIDParam: "sid", FC2Params: true},
		IPMatchWindow: domain.DefaultIPMatchWindow, DedupeOrderID: true,
		Payout: domain.Payout{PercentBPS: 500},
	}
	service.ApplyOfferDefaults(&o)
	if _, err := st.CreateOffer(ctx, o); err != nil {
		return err
	}
	if _, err := st.CreateLink(ctx, domain.TrackingLink{ID: DemoLinkID, OfferID: DemoOfferID, PublisherID: DemoPublisherID, SiteID: DemoSiteID}); err != nil {
		return err
	}
	for _, k := range []struct {
		id, name string
		role     domain.Role
		partner  string
		key      string
	}{
		{"key_demo_advertiser", "demo advertiser key", domain.RoleAdvertiser, DemoAdvertiserID, DemoAdvertiserKey},
		{"key_demo_publisher", "demo publisher key", domain.RolePublisher, DemoPublisherID, DemoPublisherKey},
		{"key_demo_publisher2", "demo publisher2 key", domain.RolePublisher, DemoPublisher2ID, DemoPublisher2Key},
	} {
		if _, err := st.EnsureAPIKey(ctx, k.id, k.name, k.role, k.partner, k.key); err != nil {
			return err
		}
	}
	return nil
}
