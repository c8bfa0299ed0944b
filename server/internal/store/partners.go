package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
)

// ---------------------------------------------------------------- advertisers

const advertiserColumns = `id, name, shop_id, require_signature, registered_hosts, store_email_plaintext, secret_hint, created_at, updated_at, tracking_domain`

func scanAdvertiser(row pgx.CollectableRow) (domain.Advertiser, error) {
	var a domain.Advertiser
	err := row.Scan(&a.ID, &a.Name, &a.ShopID, &a.RequireSignature, &a.RegisteredHosts, &a.StoreEmailPlaintext, &a.SecretHint, &a.CreatedAt, &a.UpdatedAt, &a.TrackingDomain)
	return a, err
}

// CreateAdvertiser stores a new advertiser with its secret sealed. id may be
// empty for a new ID.
func (s *Store) CreateAdvertiser(ctx context.Context, a domain.Advertiser, secret string) (domain.Advertiser, error) {
	if a.ID == "" {
		a.ID = s.ids.New("adv")
	}
	now := s.now()
	if a.ShopID > 0 {
		// A shop moving from FC2 keeps its shop ID (its tags carry it).
		var out domain.Advertiser
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// First, so that numbers drawn from now on are past this one.
			if err := movePast(ctx, tx, seqShopID, a.ShopID); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, `INSERT INTO advertisers (id, name, shop_id, require_signature, registered_hosts, store_email_plaintext, secret_sealed, secret_hint, created_at, updated_at)
				OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING `+advertiserColumns,
				a.ID, a.Name, a.ShopID, a.RequireSignature, nonNil(a.RegisteredHosts), a.StoreEmailPlaintext, s.box.Seal(secret), secretbox.Hint(secret), now)
			var err error
			out, err = pgx.CollectExactlyOneRow(rows, scanAdvertiser)
			return err
		})
		return out, takenNumber(err, "advertisers_shop_id_key", "shop ID", a.ShopID)
	}
	return retryNumbered(func() (domain.Advertiser, error) {
		rows, _ := s.pool.Query(ctx, `INSERT INTO advertisers (id, name, require_signature, registered_hosts, store_email_plaintext, secret_sealed, secret_hint, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING `+advertiserColumns,
			a.ID, a.Name, a.RequireSignature, nonNil(a.RegisteredHosts), a.StoreEmailPlaintext, s.box.Seal(secret), secretbox.Hint(secret), now)
		return pgx.CollectExactlyOneRow(rows, scanAdvertiser)
	}, "advertisers_shop_id_key")
}

// GetAdvertiser returns one advertiser.
func (s *Store) GetAdvertiser(ctx context.Context, id string) (domain.Advertiser, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+advertiserColumns+` FROM advertisers WHERE id = $1`, id)
	a, err := pgx.CollectExactlyOneRow(rows, scanAdvertiser)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, domain.NotFound("advertiser", id)
	}
	return a, translate(err)
}

// ListAdvertisers pages through advertisers.
func (s *Store) ListAdvertisers(ctx context.Context, page domain.Page) ([]domain.Advertiser, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+advertiserColumns+` FROM advertisers WHERE id > $1 ORDER BY id LIMIT $2`, page.After, size+1)
	list, err := pgx.CollectRows(rows, scanAdvertiser)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(a domain.Advertiser) string { return a.ID })
	return list, next, nil
}

// UpdateAdvertiser writes the changeable fields of a.
func (s *Store) UpdateAdvertiser(ctx context.Context, a domain.Advertiser) (domain.Advertiser, error) {
	rows, _ := s.pool.Query(ctx, `UPDATE advertisers SET name = $2, require_signature = $3, registered_hosts = $4,
		store_email_plaintext = $5, updated_at = $6, tracking_domain = $7 WHERE id = $1 RETURNING `+advertiserColumns,
		a.ID, a.Name, a.RequireSignature, nonNil(a.RegisteredHosts), a.StoreEmailPlaintext, s.now(), a.TrackingDomain)
	out, err := pgx.CollectExactlyOneRow(rows, scanAdvertiser)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, domain.NotFound("advertiser", a.ID)
	}
	return out, translate(err)
}

// RotateAdvertiserSecret replaces the secret, keeping the current one valid
// until now+overlap. It returns when the previous secret expires.
func (s *Store) RotateAdvertiserSecret(ctx context.Context, id, secret string, overlap time.Duration) (domain.Advertiser, time.Time, error) {
	now := s.now()
	expires := now.Add(overlap)
	rows, _ := s.pool.Query(ctx, `UPDATE advertisers SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = $4,
		secret_sealed = $2, secret_hint = $3, updated_at = $5 WHERE id = $1 RETURNING `+advertiserColumns,
		id, s.box.Seal(secret), secretbox.Hint(secret), expires, now)
	out, err := pgx.CollectExactlyOneRow(rows, scanAdvertiser)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, time.Time{}, domain.NotFound("advertiser", id)
	}
	return out, expires, translate(err)
}

// AdvertiserSecrets returns the current secret and, while its overlap lasts,
// the previous one.
func (s *Store) AdvertiserSecrets(ctx context.Context, id string) ([]string, error) {
	return s.secrets(ctx, "advertisers", id)
}

// NetworkSecrets is AdvertiserSecrets for a downstream network.
func (s *Store) NetworkSecrets(ctx context.Context, id string) ([]string, error) {
	return s.secrets(ctx, "networks", id)
}

func (s *Store) secrets(ctx context.Context, table, id string) ([]string, error) {
	var cur, prev []byte
	var prevExp *time.Time
	err := s.pool.QueryRow(ctx, `SELECT secret_sealed, previous_secret_sealed, previous_secret_expires_at FROM `+table+` WHERE id = $1`, id).
		Scan(&cur, &prev, &prevExp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.NotFound(table[:len(table)-1], id)
	}
	if err != nil {
		return nil, translate(err)
	}
	c, err := s.box.Open(cur)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", table, id, err)
	}
	out := []string{c}
	if prev != nil && prevExp != nil && s.now().Before(*prevExp) {
		if p, err := s.box.Open(prev); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// ---------------------------------------------------------------- publishers

const publisherColumns = `id, name, kind, user_id, sub_id_params, created_at, updated_at`

func scanPublisher(row pgx.CollectableRow) (domain.Publisher, error) {
	var p domain.Publisher
	var kind string
	err := row.Scan(&p.ID, &p.Name, &kind, &p.UserID, &p.SubIDParams, &p.CreatedAt, &p.UpdatedAt)
	p.Kind = domain.PublisherKind(kind)
	return p, err
}

// CreatePublisher stores a new publisher. p.ID may be empty for a new ID.
func (s *Store) CreatePublisher(ctx context.Context, p domain.Publisher) (domain.Publisher, error) {
	if p.ID == "" {
		p.ID = s.ids.New("pub")
	}
	if p.UserID > 0 {
		// An affiliate moving from FC2 keeps its user ID (aff_userid).
		var out domain.Publisher
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// First, so that numbers drawn from now on are past this one.
			if err := movePast(ctx, tx, seqUserID, p.UserID); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, `INSERT INTO publishers (id, name, kind, user_id, sub_id_params, created_at, updated_at)
				OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING `+publisherColumns,
				p.ID, p.Name, string(p.Kind), p.UserID, nonNil(p.SubIDParams), s.now())
			var err error
			out, err = pgx.CollectExactlyOneRow(rows, scanPublisher)
			return err
		})
		return out, takenNumber(err, "publishers_user_id_key", "user ID", p.UserID)
	}
	return retryNumbered(func() (domain.Publisher, error) {
		rows, _ := s.pool.Query(ctx, `INSERT INTO publishers (id, name, kind, sub_id_params, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING `+publisherColumns,
			p.ID, p.Name, string(p.Kind), nonNil(p.SubIDParams), s.now())
		return pgx.CollectExactlyOneRow(rows, scanPublisher)
	}, "publishers_user_id_key")
}

// GetPublisher returns one publisher.
func (s *Store) GetPublisher(ctx context.Context, id string) (domain.Publisher, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+publisherColumns+` FROM publishers WHERE id = $1`, id)
	p, err := pgx.CollectExactlyOneRow(rows, scanPublisher)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, domain.NotFound("publisher", id)
	}
	return p, translate(err)
}

// ListPublishers pages through publishers, optionally of one kind.
func (s *Store) ListPublishers(ctx context.Context, kind domain.PublisherKind, page domain.Page) ([]domain.Publisher, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+publisherColumns+` FROM publishers
		WHERE ($1 = '' OR kind = $1) AND id > $2 ORDER BY id LIMIT $3`, string(kind), page.After, size+1)
	list, err := pgx.CollectRows(rows, scanPublisher)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(p domain.Publisher) string { return p.ID })
	return list, next, nil
}

// UpdatePublisher writes the changeable fields of p.
func (s *Store) UpdatePublisher(ctx context.Context, p domain.Publisher) (domain.Publisher, error) {
	rows, _ := s.pool.Query(ctx, `UPDATE publishers SET name = $2, sub_id_params = $3, updated_at = $4
		WHERE id = $1 RETURNING `+publisherColumns, p.ID, p.Name, nonNil(p.SubIDParams), s.now())
	out, err := pgx.CollectExactlyOneRow(rows, scanPublisher)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, domain.NotFound("publisher", p.ID)
	}
	return out, translate(err)
}

// ---------------------------------------------------------------- sites

const siteColumns = `id, publisher_id, name, url, site_id, created_at`

func scanSite(row pgx.CollectableRow) (domain.Site, error) {
	var x domain.Site
	err := row.Scan(&x.ID, &x.PublisherID, &x.Name, &x.URL, &x.SiteID, &x.CreatedAt)
	return x, err
}

// CreateSite stores a new site of an existing publisher.
func (s *Store) CreateSite(ctx context.Context, x domain.Site) (domain.Site, error) {
	if x.ID == "" {
		x.ID = s.ids.New("site")
	}
	if x.SiteID > 0 {
		// A site moving from FC2 keeps its site ID (aff_siteid).
		var out domain.Site
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// First, so that numbers drawn from now on are past this one.
			if err := movePast(ctx, tx, seqSiteID, x.SiteID); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, `INSERT INTO sites (id, publisher_id, name, url, site_id, created_at)
				OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+siteColumns, x.ID, x.PublisherID, x.Name, x.URL, x.SiteID, s.now())
			var err error
			out, err = pgx.CollectExactlyOneRow(rows, scanSite)
			return err
		})
		return out, takenNumber(err, "sites_site_id_key", "site ID", x.SiteID)
	}
	return retryNumbered(func() (domain.Site, error) {
		rows, _ := s.pool.Query(ctx, `INSERT INTO sites (id, publisher_id, name, url, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+siteColumns, x.ID, x.PublisherID, x.Name, x.URL, s.now())
		return pgx.CollectExactlyOneRow(rows, scanSite)
	}, "sites_site_id_key")
}

// GetSite returns one site.
func (s *Store) GetSite(ctx context.Context, id string) (domain.Site, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+siteColumns+` FROM sites WHERE id = $1`, id)
	x, err := pgx.CollectExactlyOneRow(rows, scanSite)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, domain.NotFound("site", id)
	}
	return x, translate(err)
}

// ListSites pages through one publisher's sites.
func (s *Store) ListSites(ctx context.Context, publisherID string, page domain.Page) ([]domain.Site, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+siteColumns+` FROM sites WHERE publisher_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		publisherID, page.After, size+1)
	list, err := pgx.CollectRows(rows, scanSite)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(x domain.Site) string { return x.ID })
	return list, next, nil
}

// ---------------------------------------------------------------- networks

const networkColumns = `id, name, kickback_params, allowed_ips, trust_trace_context, secret_hint, created_at, updated_at`

func scanNetwork(row pgx.CollectableRow) (domain.Network, error) {
	var n domain.Network
	var params []byte
	var ips []netip.Prefix
	if err := row.Scan(&n.ID, &n.Name, &params, &ips, &n.TrustTraceContext, &n.SecretHint, &n.CreatedAt, &n.UpdatedAt); err != nil {
		return n, err
	}
	if err := json.Unmarshal(params, &n.KickbackParams); err != nil {
		return n, fmt.Errorf("network %s: kickback_params: %w", n.ID, err)
	}
	for _, p := range ips {
		n.AllowedIPs = append(n.AllowedIPs, p.String())
	}
	return n, nil
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, domain.Invalid(fmt.Sprintf("allowed_ips[%d]", i), "%q is not an IP address or CIDR prefix", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// CreateNetwork stores a new downstream network with its secret sealed.
func (s *Store) CreateNetwork(ctx context.Context, n domain.Network, secret string) (domain.Network, error) {
	if n.ID == "" {
		n.ID = s.ids.New("net")
	}
	ips, err := parsePrefixes(n.AllowedIPs)
	if err != nil {
		return n, err
	}
	params, err := json.Marshal(n.KickbackParams)
	if err != nil {
		return n, err
	}
	rows, _ := s.pool.Query(ctx, `INSERT INTO networks (id, name, kickback_params, allowed_ips, trust_trace_context, secret_sealed, secret_hint, token_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING `+networkColumns,
		n.ID, n.Name, params, ips, n.TrustTraceContext, s.box.Seal(secret), secretbox.Hint(secret), HashKey(secret), s.now())
	out, err := pgx.CollectExactlyOneRow(rows, scanNetwork)
	return out, translate(err)
}

// GetNetwork returns one network.
func (s *Store) GetNetwork(ctx context.Context, id string) (domain.Network, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+networkColumns+` FROM networks WHERE id = $1`, id)
	n, err := pgx.CollectExactlyOneRow(rows, scanNetwork)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, domain.NotFound("network", id)
	}
	return n, translate(err)
}

// ListNetworks pages through networks.
func (s *Store) ListNetworks(ctx context.Context, page domain.Page) ([]domain.Network, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+networkColumns+` FROM networks WHERE id > $1 ORDER BY id LIMIT $2`, page.After, size+1)
	list, err := pgx.CollectRows(rows, scanNetwork)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(n domain.Network) string { return n.ID })
	return list, next, nil
}

// UpdateNetwork writes the changeable fields of n.
func (s *Store) UpdateNetwork(ctx context.Context, n domain.Network) (domain.Network, error) {
	ips, err := parsePrefixes(n.AllowedIPs)
	if err != nil {
		return n, err
	}
	params, err := json.Marshal(n.KickbackParams)
	if err != nil {
		return n, err
	}
	rows, _ := s.pool.Query(ctx, `UPDATE networks SET name = $2, kickback_params = $3, allowed_ips = $4,
		trust_trace_context = $5, updated_at = $6 WHERE id = $1 RETURNING `+networkColumns,
		n.ID, n.Name, params, ips, n.TrustTraceContext, s.now())
	out, err := pgx.CollectExactlyOneRow(rows, scanNetwork)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, domain.NotFound("network", n.ID)
	}
	return out, translate(err)
}

// RotateNetworkSecret is RotateAdvertiserSecret for a network.
func (s *Store) RotateNetworkSecret(ctx context.Context, id, secret string, overlap time.Duration) (domain.Network, time.Time, error) {
	now := s.now()
	expires := now.Add(overlap)
	rows, _ := s.pool.Query(ctx, `UPDATE networks SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = $4,
		previous_token_hash = token_hash, secret_sealed = $2, secret_hint = $3, token_hash = $6, updated_at = $5
		WHERE id = $1 RETURNING `+networkColumns,
		id, s.box.Seal(secret), secretbox.Hint(secret), expires, now, HashKey(secret))
	out, err := pgx.CollectExactlyOneRow(rows, scanNetwork)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, time.Time{}, domain.NotFound("network", id)
	}
	return out, expires, translate(err)
}

// nonNil turns a nil slice into an empty one, since the columns are NOT NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AdvertiserByShopID finds an advertiser by its numeric FC2 shop ID.
func (s *Store) AdvertiserByShopID(ctx context.Context, shopID int64) (domain.Advertiser, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+advertiserColumns+` FROM advertisers WHERE shop_id = $1`, shopID)
	a, err := pgx.CollectExactlyOneRow(rows, scanAdvertiser)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, domain.NotFound("shop", fmt.Sprint(shopID))
	}
	return a, translate(err)
}

// PublisherByUserID finds a publisher by its numeric FC2 user ID.
func (s *Store) PublisherByUserID(ctx context.Context, userID int64) (domain.Publisher, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+publisherColumns+` FROM publishers WHERE user_id = $1`, userID)
	p, err := pgx.CollectExactlyOneRow(rows, scanPublisher)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, domain.NotFound("publisher with user ID", fmt.Sprint(userID))
	}
	return p, translate(err)
}

// SiteBySiteID finds a site by its numeric FC2 site ID.
func (s *Store) SiteBySiteID(ctx context.Context, siteID int64) (domain.Site, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+siteColumns+` FROM sites WHERE site_id = $1`, siteID)
	x, err := pgx.CollectExactlyOneRow(rows, scanSite)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, domain.NotFound("site with site ID", fmt.Sprint(siteID))
	}
	return x, translate(err)
}
