package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
)

// This file is baton import's side of the store: look-ups by natural key
// and batched inserts. Each batch is one statement over unnest()ed arrays
// in one transaction, ON CONFLICT DO NOTHING, so a batch is all there or
// not at all and a second run inserts nothing.

// ImportRefs returns the records that already exist under the given shop,
// user, site and offer IDs.
func (s *Store) ImportRefs(ctx context.Context, shopIDs, userIDs, siteIDs []int64, offerIDs []string) (domain.ImportRefs, error) {
	out := domain.ImportRefs{Shops: map[int64]domain.ImportRef{}, Publishers: map[int64]domain.ImportRef{},
		Sites: map[int64]domain.ImportRef{}, Offers: map[string]domain.ImportRef{}}
	numbered := func(sql string, keys []int64, into map[int64]domain.ImportRef) error {
		if len(keys) == 0 {
			return nil
		}
		rows, _ := s.pool.Query(ctx, sql, keys)
		var n int64
		var ref domain.ImportRef
		_, err := pgx.ForEachRow(rows, []any{&n, &ref.ID, &ref.Imported, &ref.Owner}, func() error {
			into[n] = ref
			return nil
		})
		return translate(err)
	}
	if err := numbered(`SELECT shop_id, id, imported, '' FROM advertisers WHERE shop_id = ANY($1)`, shopIDs, out.Shops); err != nil {
		return out, err
	}
	if err := numbered(`SELECT user_id, id, imported, '' FROM publishers WHERE user_id = ANY($1)`, userIDs, out.Publishers); err != nil {
		return out, err
	}
	if err := numbered(`SELECT site_id, id, imported, publisher_id FROM sites WHERE site_id = ANY($1)`, siteIDs, out.Sites); err != nil {
		return out, err
	}
	if len(offerIDs) > 0 {
		rows, _ := s.pool.Query(ctx, `SELECT id, imported, advertiser_id FROM offers WHERE id = ANY($1)`, offerIDs)
		var ref domain.ImportRef
		_, err := pgx.ForEachRow(rows, []any{&ref.ID, &ref.Imported, &ref.Owner}, func() error {
			out.Offers[ref.ID] = ref
			return nil
		})
		if err != nil {
			return out, translate(err)
		}
	}
	return out, nil
}

// ExistingOrders returns which of orderIDs an advertiser already has: an
// imported conversion (idempotency key "import:<order ID>") or one
// recorded in Baton under the same order ID (dedupe key).
func (s *Store) ExistingOrders(ctx context.Context, advertiserID string, orderIDs []string) (map[string]bool, error) {
	keys := make([]string, len(orderIDs))
	for i, o := range orderIDs {
		keys[i] = ImportKey(o)
	}
	rows, _ := s.pool.Query(ctx, `SELECT c.order_id FROM conversion_keys k JOIN conversions c ON c.id = k.conversion_id
		WHERE k.advertiser_id = $1 AND ((k.kind = 'idempotency' AND k.key = ANY($2)) OR (k.kind = 'dedupe' AND k.key = ANY($3)))`,
		advertiserID, keys, orderIDs)
	out := map[string]bool{}
	var id string
	_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		out[id] = true
		return nil
	})
	return out, translate(err)
}

// ReserveNumbers moves the shop, user and site ID sequences past the
// largest numbers a program gives (0: leave that one), before the program
// is checked and written, so that Baton draws none of them meanwhile.
func (s *Store) ReserveNumbers(ctx context.Context, shopID, userID, siteID int64) error {
	return translate(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, r := range []struct {
			seq numberSeq
			n   int64
		}{{seqShopID, shopID}, {seqUserID, userID}, {seqSiteID, siteID}} {
			if r.n > 0 {
				if err := movePast(ctx, tx, r.seq, r.n); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// ImportKey is the idempotency key of an imported conversion.
func ImportKey(orderID string) string { return "import:" + orderID }

// ImportShops inserts shops with their shop IDs and sealed passwords. It
// returns how many it inserted.
func (s *Store) ImportShops(ctx context.Context, list []domain.ImportShop) (int, error) {
	if len(list) == 0 {
		return 0, nil
	}
	n := len(list)
	ids, names, hosts, hints := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	shopIDs := make([]int64, n)
	reqSig, plain := make([]bool, n), make([]bool, n)
	sealed := make([][]byte, n)
	for i, x := range list {
		a := x.Advertiser
		ids[i], names[i], shopIDs[i], reqSig[i], plain[i] = s.ids.New("adv"), a.Name, a.ShopID, a.RequireSignature, a.StoreEmailPlaintext
		h, _ := json.Marshal(nonNil(a.RegisteredHosts)) //nolint:errcheck // a list of strings always marshals
		hosts[i] = string(h)
		sealed[i], hints[i] = s.box.Seal(x.Secret), secretbox.Hint(x.Secret)
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// First, so that numbers drawn from now on are past the batch.
		if err := movePast(ctx, tx, seqShopID, slices.Max(shopIDs)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO advertisers (id, name, shop_id, require_signature, registered_hosts, store_email_plaintext,
			secret_sealed, secret_hint, imported, created_at, updated_at) OVERRIDING SYSTEM VALUE
			SELECT u.id, u.name, u.shop_id, u.req, ARRAY(SELECT jsonb_array_elements_text(u.hosts::jsonb)), u.plain, u.sealed, u.hint, true, $9, $9
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bool[], $5::text[], $6::bool[], $7::bytea[], $8::text[])
				AS u(id, name, shop_id, req, hosts, plain, sealed, hint)
			ON CONFLICT DO NOTHING`, ids, names, shopIDs, reqSig, hosts, plain, sealed, hints, s.now())
		if err != nil {
			return err
		}
		inserted = tag.RowsAffected()
		return nil
	})
	return int(inserted), translate(err)
}

// ImportPublishers inserts publishers with their user IDs.
func (s *Store) ImportPublishers(ctx context.Context, list []domain.Publisher) (int, error) {
	if len(list) == 0 {
		return 0, nil
	}
	n := len(list)
	ids, names, kinds := make([]string, n), make([]string, n), make([]string, n)
	userIDs := make([]int64, n)
	for i, p := range list {
		ids[i], names[i], kinds[i], userIDs[i] = s.ids.New("pub"), p.Name, string(p.Kind), p.UserID
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := movePast(ctx, tx, seqUserID, slices.Max(userIDs)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO publishers (id, name, kind, user_id, imported, created_at, updated_at) OVERRIDING SYSTEM VALUE
			SELECT u.id, u.name, u.kind, u.user_id, true, $5, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(id, name, kind, user_id)
			ON CONFLICT DO NOTHING`, ids, names, kinds, userIDs, s.now())
		if err != nil {
			return err
		}
		inserted = tag.RowsAffected()
		return nil
	})
	return int(inserted), translate(err)
}

// ImportSites inserts sites with their site IDs (PublisherID set).
func (s *Store) ImportSites(ctx context.Context, list []domain.Site) (int, error) {
	if len(list) == 0 {
		return 0, nil
	}
	n := len(list)
	ids, pubs, names, urls := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	siteIDs := make([]int64, n)
	for i, x := range list {
		ids[i], pubs[i], names[i], urls[i], siteIDs[i] = s.ids.New("site"), x.PublisherID, x.Name, x.URL, x.SiteID
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := movePast(ctx, tx, seqSiteID, slices.Max(siteIDs)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO sites (id, publisher_id, name, url, site_id, imported, created_at) OVERRIDING SYSTEM VALUE
			SELECT u.id, u.pub, u.name, u.url, u.site_id, true, $6
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(id, pub, name, url, site_id)
			ON CONFLICT DO NOTHING`, ids, pubs, names, urls, siteIDs, s.now())
		if err != nil {
			return err
		}
		inserted = tag.RowsAffected()
		return nil
	})
	return int(inserted), translate(err)
}

// ImportOffer inserts an offer under the ID it had in the previous system.
func (s *Store) ImportOffer(ctx context.Context, o domain.Offer) (domain.Offer, error) {
	return s.insertOffer(ctx, o, true)
}

// ImportConversions inserts past conversions (source import), each with a
// first history entry that says so, by actor "import". A conversion whose
// idempotency key or dedupe key is taken is skipped. It returns how many
// it inserted.
func (s *Store) ImportConversions(ctx context.Context, list []domain.Conversion, notes []string) (int, error) {
	if len(list) == 0 {
		return 0, nil
	}
	n := len(list)
	var (
		ids, advs, offers, orders, orders2, currencies, comCur = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		pubs, sites, dedupe                                    = make([]*string, n), make([]*string, n), make([]*string, n)
		idem, items, unames, emails, hashes, statuses, expl    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		amounts, commissions                                   = make([]int64, n), make([]int64, n)
		recurring                                              = make([]bool, n)
		saleAt                                                 = make([]time.Time, n)
	)
	for i, c := range list {
		ids[i], advs[i], offers[i], orders[i], orders2[i] = c.ID, c.AdvertiserID, c.OfferID, c.OrderID, c.OrderID2
		if ids[i] == "" {
			ids[i] = s.ids.New("cv")
		}
		currencies[i], amounts[i], comCur[i], commissions[i] = c.Amount.Currency, c.Amount.Minor, c.Commission.Currency, c.Commission.Minor
		pubs[i], sites[i], dedupe[i] = optString(c.PublisherID), optString(c.SiteID), optString(c.DedupeKey)
		idem[i] = ImportKey(c.OrderID) // the natural key: a second run inserts nothing
		b, err := json.Marshal(c.Items)
		if err != nil || c.Items == nil {
			b = []byte("[]")
		}
		items[i] = string(b)
		a, err := json.Marshal(c.Attribution)
		if err != nil {
			return 0, err
		}
		expl[i] = string(a)
		unames[i], emails[i], hashes[i], statuses[i], recurring[i], saleAt[i] = c.BuyerUserName, c.BuyerEmail, c.BuyerEmailHash, string(c.Status), c.Recurring, c.SaleAt
	}
	if len(notes) != n {
		return 0, fmt.Errorf("store: %d notes for %d conversions", len(notes), n)
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
				$7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::bool[], $15::text[],
				$16::text[], $17::text[], $18::text[], $19::text[], $20::timestamptz[], $21::text[], $24::text[])
				AS u(id, adv, offer, pub, site, order_id, order_id_2, dedupe, idem, amount, currency, commission, com_cur, recurring,
				uname, email, email_hash, status, expl, sale_at, note, items)),
			-- The keys first (conversion_keys, migration 0031): a conversion
			-- is inserted only when all its keys were new.
			k AS (INSERT INTO conversion_keys (advertiser_id, kind, key, conversion_id)
				SELECT u.adv, v.kind, v.key, u.id FROM u, LATERAL (VALUES ('dedupe', u.dedupe), ('idempotency', u.idem)) v(kind, key)
				WHERE v.key IS NOT NULL ON CONFLICT DO NOTHING RETURNING conversion_id),
			ins AS (INSERT INTO conversions (id, advertiser_id, offer_id, publisher_id, site_id, order_id, order_id_2, dedupe_key,
				idempotency_key, currency, amount_minor, commission_currency, commission_minor, items, recurring, buyer_user_name,
				buyer_email, buyer_email_hash, status, test, source, attribution_path, attribution, sale_at, created_at, updated_at)
				SELECT u.id, u.adv, u.offer, u.pub, u.site, u.order_id, u.order_id_2, u.dedupe, u.idem, u.currency, u.amount, u.com_cur,
					u.commission, u.items::jsonb, u.recurring, u.uname, u.email, u.email_hash, u.status, false, $22, 'imported', u.expl::jsonb,
					u.sale_at, $23, $23
				FROM u WHERE (SELECT count(*) FROM k WHERE k.conversion_id = u.id) = (u.dedupe IS NOT NULL)::int + (u.idem IS NOT NULL)::int
				RETURNING id, status)
			INSERT INTO conversion_status_changes (conversion_id, seq, from_status, to_status, reason, note, actor, at)
				SELECT ins.id, 1, '', ins.status, 'imported', u.note, 'import', $23 FROM ins JOIN u ON u.id = ins.id`,
			ids, advs, offers, pubs, sites, orders, orders2, dedupe, idem, amounts, currencies, commissions, comCur, recurring,
			unames, emails, hashes, statuses, expl, saleAt, notes, int16(domain.SourceImport), s.now(), items)
		if err != nil {
			return err
		}
		inserted = tag.RowsAffected()
		// Undo the keys of conversions not inserted (one key of two taken).
		_, err = tx.Exec(ctx, `DELETE FROM conversion_keys k WHERE k.conversion_id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.id = k.conversion_id)`, ids)
		return err
	})
	return int(inserted), translate(err)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
