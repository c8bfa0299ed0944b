// Package service holds Baton's use cases. It decides who may do what, fills
// defaults and checks rules that span records; it speaks domain types only
// and reaches the database through the small interfaces it declares.
package service

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
)

// ConfigStore is what the configuration use cases need from storage.
type ConfigStore interface {
	CreateAPIKey(ctx context.Context, name string, role domain.Role, partnerID, key string) (domain.APIKey, error)
	GetAPIKey(ctx context.Context, id string) (domain.APIKey, error)
	ListAPIKeys(ctx context.Context, partnerID string, includeRevoked bool, page domain.Page) ([]domain.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, id string) (domain.APIKey, error)
	PartnerExists(ctx context.Context, role domain.Role, id string) (bool, error)

	CreateAdvertiser(ctx context.Context, a domain.Advertiser, secret string) (domain.Advertiser, error)
	GetAdvertiser(ctx context.Context, id string) (domain.Advertiser, error)
	ListAdvertisers(ctx context.Context, page domain.Page) ([]domain.Advertiser, string, error)
	UpdateAdvertiser(ctx context.Context, a domain.Advertiser) (domain.Advertiser, error)
	RotateAdvertiserSecret(ctx context.Context, id, secret string, overlap time.Duration) (domain.Advertiser, time.Time, error)

	CreatePublisher(ctx context.Context, p domain.Publisher) (domain.Publisher, error)
	GetPublisher(ctx context.Context, id string) (domain.Publisher, error)
	ListPublishers(ctx context.Context, kind domain.PublisherKind, page domain.Page) ([]domain.Publisher, string, error)
	UpdatePublisher(ctx context.Context, p domain.Publisher) (domain.Publisher, error)
	CreateSite(ctx context.Context, x domain.Site) (domain.Site, error)
	ListSites(ctx context.Context, publisherID string, page domain.Page) ([]domain.Site, string, error)

	CreateOffer(ctx context.Context, o domain.Offer) (domain.Offer, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	ListOffers(ctx context.Context, advertiserID string, status domain.OfferStatus, page domain.Page) ([]domain.Offer, string, error)
	UpdateOffer(ctx context.Context, o domain.Offer) (domain.Offer, error)

	CreateNetwork(ctx context.Context, n domain.Network, secret string) (domain.Network, error)
	GetNetwork(ctx context.Context, id string) (domain.Network, error)
	ListNetworks(ctx context.Context, page domain.Page) ([]domain.Network, string, error)
	UpdateNetwork(ctx context.Context, n domain.Network) (domain.Network, error)
	RotateNetworkSecret(ctx context.Context, id, secret string, overlap time.Duration) (domain.Network, time.Time, error)
}

// Config is the configuration use cases.
type Config struct {
	store    ConfigStore
	newKey   func() string
	onChange []func()
	announce Announcer // nil: changes reach this process only (changes.go)
}

// OnChange registers f to run after any change to advertisers, publishers,
// sites, offers, networks, API keys or postback endpoints (to drop caches of
// them), in this process and, once announced (changes.go), in every other
// Baton process on the same database. Register while wiring, before
// serving.
func (c *Config) OnChange(f func()) { c.onChange = append(c.onChange, f) }

// changed runs the OnChange hooks and announces the change when err is nil,
// and passes err on.
func (c *Config) changed(err error) error {
	if err == nil {
		_ = c.Changed(context.Background(), "config") // best effort, logged by the announcer: the TTLs are the backstop
	}
	return err
}

// NewConfig returns the configuration use cases over st. newKey makes API
// keys (auth.NewKey).
func NewConfig(st ConfigStore, newKey func() string) *Config {
	return &Config{store: st, newKey: newKey}
}

// DefaultSecretOverlap is how long a rotated secret stays valid by default.
const DefaultSecretOverlap = 24 * time.Hour

func adminOnly(p domain.Principal, what string) error {
	if !p.IsAdmin() {
		return domain.Denied("only an admin key may %s", what)
	}
	return nil
}

// ---------------------------------------------------------------- keys

// WhoAmI returns the caller's key.
func (c *Config) WhoAmI(ctx context.Context, p domain.Principal) (domain.APIKey, error) {
	return c.store.GetAPIKey(ctx, p.KeyID)
}

// CreateAPIKey issues a key. An admin may issue any key; a partner may issue
// keys for itself only, with its own role.
func (c *Config) CreateAPIKey(ctx context.Context, p domain.Principal, name string, role domain.Role, partnerID string) (domain.APIKey, string, error) {
	if !p.IsAdmin() && (role != p.Role || partnerID != p.PartnerID) {
		return domain.APIKey{}, "", domain.Denied("a %s key may only create keys for its own %s", p.Role, p.Role)
	}
	if role != domain.RoleAdmin {
		ok, err := c.store.PartnerExists(ctx, role, partnerID)
		if err != nil {
			return domain.APIKey{}, "", err
		}
		if !ok {
			return domain.APIKey{}, "", domain.Invalid("partner_id", "no %s with ID %q", role, partnerID)
		}
	}
	key := c.newKey()
	k, err := c.store.CreateAPIKey(ctx, name, role, partnerID, key)
	return k, key, err
}

// ListAPIKeys lists keys: all for an admin, the caller's partner's otherwise.
func (c *Config) ListAPIKeys(ctx context.Context, p domain.Principal, partnerID string, includeRevoked bool, page domain.Page) ([]domain.APIKey, string, error) {
	if !p.IsAdmin() {
		if partnerID != "" && partnerID != p.PartnerID {
			return nil, "", domain.Denied("a %s key may only list its own keys", p.Role)
		}
		partnerID = p.PartnerID
	}
	return c.store.ListAPIKeys(ctx, partnerID, includeRevoked, page)
}

// RevokeAPIKey revokes a key of the caller's partner (any key for an admin).
func (c *Config) RevokeAPIKey(ctx context.Context, p domain.Principal, id string) (domain.APIKey, error) {
	k, err := c.store.GetAPIKey(ctx, id)
	if err != nil {
		return k, err
	}
	if !p.IsAdmin() && (k.Role != p.Role || k.PartnerID != p.PartnerID) {
		return k, domain.Denied("a %s key may only revoke its own keys", p.Role)
	}
	out, err := c.store.RevokeAPIKey(ctx, id)
	return out, c.changed(err)
}

// ---------------------------------------------------------------- advertisers

// CreateAdvertiser creates an advertiser and its first secret.
func (c *Config) CreateAdvertiser(ctx context.Context, p domain.Principal, a domain.Advertiser) (domain.Advertiser, string, error) {
	if err := adminOnly(p, "create advertisers"); err != nil {
		return a, "", err
	}
	secret := secretbox.NewSecret("")
	out, err := c.store.CreateAdvertiser(ctx, a, secret)
	if err != nil {
		return out, "", err
	}
	out, err = c.withTrackingDomain(ctx, out, a.TrackingDomain)
	return out, secret, err
}

// withTrackingDomain sets a new advertiser's own tracking host.
func (c *Config) withTrackingDomain(ctx context.Context, a domain.Advertiser, host string) (domain.Advertiser, error) {
	if host == "" {
		return a, nil
	}
	a.TrackingDomain = host
	out, err := c.store.UpdateAdvertiser(ctx, a)
	return out, c.changed(err)
}

// CreateAdvertiserWithSecret creates an advertiser that keeps the secret
// it brings: the password of a shop moving from FC2, whose tags' sh are
// computed with it (admin only). a.ShopID, when set, keeps its shop ID.
func (c *Config) CreateAdvertiserWithSecret(ctx context.Context, p domain.Principal, a domain.Advertiser, secret string) (domain.Advertiser, error) {
	if err := adminOnly(p, "create advertisers"); err != nil {
		return a, err
	}
	if len(secret) < 4 || len(secret) > 200 {
		return a, domain.Invalid("secret", "must be 4 to 200 characters")
	}
	out, err := c.store.CreateAdvertiser(ctx, a, secret)
	if err != nil {
		return out, err
	}
	return c.withTrackingDomain(ctx, out, a.TrackingDomain)
}

// GetAdvertiser returns an advertiser to an admin or to itself.
func (c *Config) GetAdvertiser(ctx context.Context, p domain.Principal, id string) (domain.Advertiser, error) {
	if !p.Owns(domain.RoleAdvertiser, id) {
		return domain.Advertiser{}, domain.Denied("this key may only read its own advertiser")
	}
	return c.store.GetAdvertiser(ctx, id)
}

// ListAdvertisers lists all advertisers to an admin, and its own to an
// advertiser.
func (c *Config) ListAdvertisers(ctx context.Context, p domain.Principal, page domain.Page) ([]domain.Advertiser, string, error) {
	switch {
	case p.IsAdmin():
		return c.store.ListAdvertisers(ctx, page)
	case p.Role == domain.RoleAdvertiser:
		if page.After != "" {
			return nil, "", nil
		}
		a, err := c.store.GetAdvertiser(ctx, p.PartnerID)
		if err != nil {
			return nil, "", err
		}
		return []domain.Advertiser{a}, "", nil
	}
	return nil, "", domain.Denied("a %s key may not list advertisers", p.Role)
}

// UpdateAdvertiser applies change to the advertiser id and stores it.
func (c *Config) UpdateAdvertiser(ctx context.Context, p domain.Principal, id string, change func(*domain.Advertiser) error) (domain.Advertiser, error) {
	if !p.Owns(domain.RoleAdvertiser, id) {
		return domain.Advertiser{}, domain.Denied("this key may only change its own advertiser")
	}
	a, err := c.store.GetAdvertiser(ctx, id)
	if err != nil {
		return a, err
	}
	domainBefore := a.TrackingDomain
	if err := change(&a); err != nil {
		return a, err
	}
	if a.TrackingDomain != domainBefore && !p.IsAdmin() {
		// Links and tags follow it: only the operator, who checked the
		// CNAME, may point them at another host.
		return a, domain.Denied("only an admin may change tracking_domain")
	}
	out, err := c.store.UpdateAdvertiser(ctx, a)
	return out, c.changed(err)
}

// RotateAdvertiserSecret issues a new secret to the advertiser.
func (c *Config) RotateAdvertiserSecret(ctx context.Context, p domain.Principal, id string, overlap time.Duration) (domain.Advertiser, string, time.Time, error) {
	if !p.Owns(domain.RoleAdvertiser, id) {
		return domain.Advertiser{}, "", time.Time{}, domain.Denied("this key may only rotate its own advertiser's secret")
	}
	if overlap == 0 {
		overlap = DefaultSecretOverlap
	}
	secret := secretbox.NewSecret("")
	a, exp, err := c.store.RotateAdvertiserSecret(ctx, id, secret, overlap)
	return a, secret, exp, err
}

// ---------------------------------------------------------------- publishers

// CreatePublisher creates a publisher (admin only).
func (c *Config) CreatePublisher(ctx context.Context, p domain.Principal, pub domain.Publisher) (domain.Publisher, error) {
	if err := adminOnly(p, "create publishers"); err != nil {
		return pub, err
	}
	return c.store.CreatePublisher(ctx, pub)
}

// GetPublisher returns a publisher to an admin or to itself.
func (c *Config) GetPublisher(ctx context.Context, p domain.Principal, id string) (domain.Publisher, error) {
	if !p.Owns(domain.RolePublisher, id) {
		return domain.Publisher{}, domain.Denied("a publisher key may only read its own publisher")
	}
	return c.store.GetPublisher(ctx, id)
}

// ListPublishers lists all publishers to an admin and its own to a
// publisher.
func (c *Config) ListPublishers(ctx context.Context, p domain.Principal, kind domain.PublisherKind, page domain.Page) ([]domain.Publisher, string, error) {
	switch {
	case p.IsAdmin():
		return c.store.ListPublishers(ctx, kind, page)
	case p.Role == domain.RolePublisher:
		if page.After != "" {
			return nil, "", nil
		}
		pub, err := c.store.GetPublisher(ctx, p.PartnerID)
		if err != nil {
			return nil, "", err
		}
		if kind != "" && pub.Kind != kind {
			return nil, "", nil
		}
		return []domain.Publisher{pub}, "", nil
	}
	return nil, "", domain.Denied("a %s key may not list publishers", p.Role)
}

// UpdatePublisher applies change to publisher id and stores it.
func (c *Config) UpdatePublisher(ctx context.Context, p domain.Principal, id string, change func(*domain.Publisher) error) (domain.Publisher, error) {
	if !p.Owns(domain.RolePublisher, id) {
		return domain.Publisher{}, domain.Denied("a publisher key may only change its own publisher")
	}
	pub, err := c.store.GetPublisher(ctx, id)
	if err != nil {
		return pub, err
	}
	if err := change(&pub); err != nil {
		return pub, err
	}
	out, err := c.store.UpdatePublisher(ctx, pub)
	return out, c.changed(err)
}

// CreateSite adds a site to a publisher (its own, or any for an admin).
func (c *Config) CreateSite(ctx context.Context, p domain.Principal, x domain.Site) (domain.Site, error) {
	if !p.Owns(domain.RolePublisher, x.PublisherID) {
		return x, domain.Denied("a publisher key may only add sites to its own publisher")
	}
	if x.SiteID > 0 && !p.IsAdmin() {
		return x, domain.Denied("only an admin key may give a site its FC2 site ID")
	}
	if _, err := c.store.GetPublisher(ctx, x.PublisherID); err != nil {
		return x, err
	}
	return c.store.CreateSite(ctx, x)
}

// ListSites lists a publisher's sites.
func (c *Config) ListSites(ctx context.Context, p domain.Principal, publisherID string, page domain.Page) ([]domain.Site, string, error) {
	if !p.Owns(domain.RolePublisher, publisherID) {
		return nil, "", domain.Denied("a publisher key may only list its own sites")
	}
	return c.store.ListSites(ctx, publisherID, page)
}

// ---------------------------------------------------------------- offers

// ApplyOfferDefaults fills the zero fields of o with Baton's defaults.
func ApplyOfferDefaults(o *domain.Offer) {
	if o.Status == "" {
		o.Status = domain.OfferActive
	}
	if o.AttributionWindow == 0 {
		o.AttributionWindow = domain.DefaultAttributionWindow
	}
	if o.AttributionModel == "" {
		o.AttributionModel = domain.LastClick
	}
	if o.TimestampTolerance == 0 {
		o.TimestampTolerance = domain.DefaultTimestampTolerance
	}
	if o.DuplicateClickInterval == 0 {
		o.DuplicateClickInterval = domain.DefaultDuplicateClickInterval
	}
	if len(o.SubIDParams) == 0 {
		o.SubIDParams = slices.Clone(domain.DefaultSubIDParams)
	}
}

// checkOffer enforces the rules that protovalidate cannot see: references
// to other records and URL details.
func (c *Config) checkOffer(ctx context.Context, o domain.Offer) error {
	u, err := url.Parse(o.LandingURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return domain.Invalid("landing_url", "must be an absolute http or https URL")
	}
	if o.FallbackURL != "" {
		f, err := url.Parse(o.FallbackURL)
		if err != nil || (f.Scheme != "http" && f.Scheme != "https") || f.Host == "" {
			return domain.Invalid("fallback_url", "must be an absolute http or https URL")
		}
	}
	if o.Payout.Fixed == nil && o.Payout.PercentBPS > 10000 {
		return domain.Invalid("payout.percent_bps", "must be at most 10000 (100%%)")
	}
	seen := map[string]bool{}
	for i, ov := range o.PayoutOverrides {
		if seen[ov.PublisherID] {
			return domain.Invalid(fmt.Sprintf("payout_overrides[%d].publisher_id", i), "publisher %q has two overrides", ov.PublisherID)
		}
		seen[ov.PublisherID] = true
		if _, err := c.store.GetPublisher(ctx, ov.PublisherID); err != nil {
			return domain.Invalid(fmt.Sprintf("payout_overrides[%d].publisher_id", i), "no publisher with ID %q", ov.PublisherID)
		}
	}
	if o.Downstream.NetworkID != "" {
		if _, err := c.store.GetNetwork(ctx, o.Downstream.NetworkID); err != nil {
			return domain.Invalid("downstream.network_id", "no network with ID %q", o.Downstream.NetworkID)
		}
	}
	return nil
}

// CreateOffer creates an offer for an advertiser (its own, or any for an
// admin).
func (c *Config) CreateOffer(ctx context.Context, p domain.Principal, o domain.Offer) (domain.Offer, error) {
	if !p.Owns(domain.RoleAdvertiser, o.AdvertiserID) {
		return o, domain.Denied("an advertiser key may only create offers for its own advertiser")
	}
	if _, err := c.store.GetAdvertiser(ctx, o.AdvertiserID); err != nil {
		return o, err
	}
	ApplyOfferDefaults(&o)
	if err := c.checkOffer(ctx, o); err != nil {
		return o, err
	}
	return c.store.CreateOffer(ctx, o)
}

// visibleOffer returns the offer as p may see it: publishers see every
// offer they may promote, but only their own payout override.
func visibleOffer(p domain.Principal, o domain.Offer) (domain.Offer, bool) {
	switch {
	case p.IsAdmin(), p.Role == domain.RoleAdvertiser && p.PartnerID == o.AdvertiserID:
		return o, true
	case p.Role == domain.RolePublisher:
		var mine []domain.PayoutOverride
		for _, ov := range o.PayoutOverrides {
			if ov.PublisherID == p.PartnerID {
				mine = append(mine, ov)
			}
		}
		o.PayoutOverrides = mine
		return o, true
	}
	return o, false
}

// GetOffer returns an offer as the caller may see it.
func (c *Config) GetOffer(ctx context.Context, p domain.Principal, id string) (domain.Offer, error) {
	o, err := c.store.GetOffer(ctx, id)
	if err != nil {
		return o, err
	}
	o, ok := visibleOffer(p, o)
	if !ok {
		return domain.Offer{}, domain.Denied("this key may not read offer %q", id)
	}
	return o, nil
}

// ListOffers lists offers as the caller may see them. An advertiser sees
// only its own.
func (c *Config) ListOffers(ctx context.Context, p domain.Principal, advertiserID string, status domain.OfferStatus, page domain.Page) ([]domain.Offer, string, error) {
	switch p.Role {
	case domain.RoleAdvertiser:
		if advertiserID != "" && advertiserID != p.PartnerID {
			return nil, "", domain.Denied("an advertiser key may only list its own offers")
		}
		advertiserID = p.PartnerID
	case domain.RoleNetwork:
		return nil, "", domain.Denied("a network key may not list offers")
	}
	list, next, err := c.store.ListOffers(ctx, advertiserID, status, page)
	if err != nil {
		return nil, "", err
	}
	for i := range list {
		list[i], _ = visibleOffer(p, list[i])
	}
	return list, next, nil
}

// UpdateOffer applies change to offer id and stores it.
func (c *Config) UpdateOffer(ctx context.Context, p domain.Principal, id string, change func(*domain.Offer) error) (domain.Offer, error) {
	o, err := c.store.GetOffer(ctx, id)
	if err != nil {
		return o, err
	}
	if !p.Owns(domain.RoleAdvertiser, o.AdvertiserID) {
		return domain.Offer{}, domain.Denied("this key may only change its own advertiser's offers")
	}
	if err := change(&o); err != nil {
		return o, err
	}
	ApplyOfferDefaults(&o)
	if err := c.checkOffer(ctx, o); err != nil {
		return o, err
	}
	out, err := c.store.UpdateOffer(ctx, o)
	return out, c.changed(err)
}

// ---------------------------------------------------------------- networks

// CreateNetwork creates a downstream network and its first kickback token.
func (c *Config) CreateNetwork(ctx context.Context, p domain.Principal, n domain.Network) (domain.Network, string, error) {
	if err := adminOnly(p, "create networks"); err != nil {
		return n, "", err
	}
	secret := secretbox.NewSecret("")
	out, err := c.store.CreateNetwork(ctx, n, secret)
	return out, secret, err
}

// GetNetwork returns a network to an admin or to itself.
func (c *Config) GetNetwork(ctx context.Context, p domain.Principal, id string) (domain.Network, error) {
	if !p.Owns(domain.RoleNetwork, id) {
		return domain.Network{}, domain.Denied("this key may only read its own network")
	}
	return c.store.GetNetwork(ctx, id)
}

// ListNetworks lists networks (admin only).
func (c *Config) ListNetworks(ctx context.Context, p domain.Principal, page domain.Page) ([]domain.Network, string, error) {
	if err := adminOnly(p, "list networks"); err != nil {
		return nil, "", err
	}
	return c.store.ListNetworks(ctx, page)
}

// UpdateNetwork applies change to network id and stores it (admin only).
func (c *Config) UpdateNetwork(ctx context.Context, p domain.Principal, id string, change func(*domain.Network) error) (domain.Network, error) {
	if err := adminOnly(p, "change networks"); err != nil {
		return domain.Network{}, err
	}
	n, err := c.store.GetNetwork(ctx, id)
	if err != nil {
		return n, err
	}
	if err := change(&n); err != nil {
		return n, err
	}
	out, err := c.store.UpdateNetwork(ctx, n)
	return out, c.changed(err)
}

// RotateNetworkSecret issues a new kickback token (admin only).
func (c *Config) RotateNetworkSecret(ctx context.Context, p domain.Principal, id string, overlap time.Duration) (domain.Network, string, time.Time, error) {
	if err := adminOnly(p, "rotate network secrets"); err != nil {
		return domain.Network{}, "", time.Time{}, err
	}
	if overlap == 0 {
		overlap = DefaultSecretOverlap
	}
	secret := secretbox.NewSecret("")
	n, exp, err := c.store.RotateNetworkSecret(ctx, id, secret, overlap)
	return n, secret, exp, err
}
