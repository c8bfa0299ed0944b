package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

const offerColumns = `id, advertiser_id, name, status, landing_url, fallback_url, deep_link_hosts, sub_id_params,
	click_id_param, fc2_params, coalesce(downstream_network_id, ''), attribution_window, attribution_model, ip_match_window,
	dedupe_order_id, timestamp_tolerance, auto_approve_after_days, payout_fixed_minor, payout_fixed_currency,
	payout_percent_bps, duplicate_click_interval, controls, created_at, updated_at`

func scanOffer(row pgx.CollectableRow) (domain.Offer, error) {
	var o domain.Offer
	var status, model string
	var fixedMinor *int64
	var fixedCur *string
	var bps *int32
	var controls []byte
	err := row.Scan(&o.ID, &o.AdvertiserID, &o.Name, &status, &o.LandingURL, &o.FallbackURL, &o.DeepLinkHosts, &o.SubIDParams,
		&o.Downstream.ClickIDParam, &o.Downstream.FC2Params, &o.Downstream.NetworkID, &o.AttributionWindow, &model, &o.IPMatchWindow,
		&o.DedupeOrderID, &o.TimestampTolerance, &o.AutoApproveAfterDays, &fixedMinor, &fixedCur,
		&bps, &o.DuplicateClickInterval, &controls, &o.CreatedAt, &o.UpdatedAt)
	if err == nil && len(controls) > 0 {
		if jerr := json.Unmarshal(controls, &o.Controls); jerr != nil {
			return o, fmt.Errorf("offer %s controls: %w", o.ID, jerr)
		}
	}
	o.Status = domain.OfferStatus(status)
	o.AttributionModel = domain.AttributionModel(model)
	o.Payout = payoutFrom(fixedMinor, fixedCur, bps)
	return o, err
}

func payoutFrom(minor *int64, cur *string, bps *int32) domain.Payout {
	if minor != nil && cur != nil {
		return domain.Payout{Fixed: &domain.Money{Currency: *cur, Minor: *minor}}
	}
	if bps != nil {
		return domain.Payout{PercentBPS: uint32(*bps)}
	}
	return domain.Payout{}
}

func payoutColumns(p domain.Payout) (minor *int64, cur *string, bps *int32) {
	if p.Fixed != nil {
		m, c := p.Fixed.Minor, p.Fixed.Currency
		return &m, &c, nil
	}
	b := int32(p.PercentBPS)
	return nil, nil, &b
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateOffer stores a new offer and its payout overrides in one
// transaction. o.ID may be empty for a new ID.
func (s *Store) CreateOffer(ctx context.Context, o domain.Offer) (domain.Offer, error) {
	if o.ID == "" {
		o.ID = s.ids.New("off")
	}
	return s.insertOffer(ctx, o, false)
}

// insertOffer is CreateOffer; imported marks an offer created by baton
// import.
func (s *Store) insertOffer(ctx context.Context, o domain.Offer, imported bool) (domain.Offer, error) {
	var out domain.Offer
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		minor, cur, bps := payoutColumns(o.Payout)
		rows, _ := tx.Query(ctx, `INSERT INTO offers (id, advertiser_id, name, status, landing_url, fallback_url, deep_link_hosts,
			sub_id_params, click_id_param, fc2_params, downstream_network_id, attribution_window, attribution_model, ip_match_window,
			dedupe_order_id, timestamp_tolerance, auto_approve_after_days, payout_fixed_minor, payout_fixed_currency, payout_percent_bps,
			duplicate_click_interval, created_at, updated_at, imported)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$22,$23) RETURNING `+offerColumns,
			o.ID, o.AdvertiserID, o.Name, string(o.Status), o.LandingURL, o.FallbackURL, nonNil(o.DeepLinkHosts),
			nonNil(o.SubIDParams), o.Downstream.ClickIDParam, o.Downstream.FC2Params, nullable(o.Downstream.NetworkID),
			o.AttributionWindow, string(o.AttributionModel), o.IPMatchWindow, o.DedupeOrderID, o.TimestampTolerance,
			o.AutoApproveAfterDays, minor, cur, bps, o.DuplicateClickInterval, s.now(), imported)
		var err error
		out, err = pgx.CollectExactlyOneRow(rows, scanOffer)
		if err != nil {
			return err
		}
		out.PayoutOverrides, err = replaceOverrides(ctx, tx, o.ID, o.PayoutOverrides)
		return err
	})
	return out, translate(err)
}

func replaceOverrides(ctx context.Context, tx pgx.Tx, offerID string, list []domain.PayoutOverride) ([]domain.PayoutOverride, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM offer_payout_overrides WHERE offer_id = $1`, offerID); err != nil {
		return nil, err
	}
	for _, ov := range list {
		minor, cur, bps := payoutColumns(ov.Payout)
		if _, err := tx.Exec(ctx, `INSERT INTO offer_payout_overrides (offer_id, publisher_id, payout_fixed_minor, payout_fixed_currency, payout_percent_bps)
			VALUES ($1, $2, $3, $4, $5)`, offerID, ov.PublisherID, minor, cur, bps); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// overridesFor loads the payout overrides of the given offers.
func (s *Store) overridesFor(ctx context.Context, offers []domain.Offer) error {
	if len(offers) == 0 {
		return nil
	}
	idx := make(map[string]int, len(offers))
	keys := make([]string, len(offers))
	for i, o := range offers {
		idx[o.ID] = i
		keys[i] = o.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT offer_id, publisher_id, payout_fixed_minor, payout_fixed_currency, payout_percent_bps
		FROM offer_payout_overrides WHERE offer_id = ANY($1) ORDER BY offer_id, publisher_id`, keys)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var offerID, pubID string
		var minor *int64
		var cur *string
		var bps *int32
		if err := rows.Scan(&offerID, &pubID, &minor, &cur, &bps); err != nil {
			return translate(err)
		}
		o := &offers[idx[offerID]]
		o.PayoutOverrides = append(o.PayoutOverrides, domain.PayoutOverride{PublisherID: pubID, Payout: payoutFrom(minor, cur, bps)})
	}
	return translate(rows.Err())
}

// GetOffer returns one offer with its payout overrides.
func (s *Store) GetOffer(ctx context.Context, id string) (domain.Offer, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = $1`, id)
	o, err := pgx.CollectExactlyOneRow(rows, scanOffer)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, domain.NotFound("offer", id)
	}
	if err != nil {
		return o, translate(err)
	}
	list := []domain.Offer{o}
	if err := s.overridesFor(ctx, list); err != nil {
		return o, err
	}
	return list[0], nil
}

// ListOffers pages through offers, optionally of one advertiser and status.
func (s *Store) ListOffers(ctx context.Context, advertiserID string, status domain.OfferStatus, page domain.Page) ([]domain.Offer, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT `+offerColumns+` FROM offers
		WHERE ($1 = '' OR advertiser_id = $1) AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4`,
		advertiserID, string(status), page.After, size+1)
	list, err := pgx.CollectRows(rows, scanOffer)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(o domain.Offer) string { return o.ID })
	if err := s.overridesFor(ctx, list); err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// UpdateOffer writes every changeable field of o and replaces its payout
// overrides, in one transaction.
func (s *Store) UpdateOffer(ctx context.Context, o domain.Offer) (domain.Offer, error) {
	var out domain.Offer
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		minor, cur, bps := payoutColumns(o.Payout)
		rows, _ := tx.Query(ctx, `UPDATE offers SET name=$2, status=$3, landing_url=$4, fallback_url=$5, deep_link_hosts=$6,
			sub_id_params=$7, click_id_param=$8, fc2_params=$9, downstream_network_id=$10, attribution_window=$11,
			attribution_model=$12, ip_match_window=$13, dedupe_order_id=$14, timestamp_tolerance=$15,
			auto_approve_after_days=$16, payout_fixed_minor=$17, payout_fixed_currency=$18, payout_percent_bps=$19,
			duplicate_click_interval=$20, updated_at=$21 WHERE id = $1 RETURNING `+offerColumns,
			o.ID, o.Name, string(o.Status), o.LandingURL, o.FallbackURL, nonNil(o.DeepLinkHosts), nonNil(o.SubIDParams),
			o.Downstream.ClickIDParam, o.Downstream.FC2Params, nullable(o.Downstream.NetworkID), o.AttributionWindow,
			string(o.AttributionModel), o.IPMatchWindow, o.DedupeOrderID, o.TimestampTolerance, o.AutoApproveAfterDays,
			minor, cur, bps, o.DuplicateClickInterval, s.now())
		var err error
		out, err = pgx.CollectExactlyOneRow(rows, scanOffer)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("offer", o.ID)
		}
		if err != nil {
			return err
		}
		out.PayoutOverrides, err = replaceOverrides(ctx, tx, o.ID, o.PayoutOverrides)
		return err
	})
	return out, translate(err)
}

// DefaultOffer returns an advertiser's first active offer (by creation), the
// one an FC2 tag without a click is recorded against.
func (s *Store) DefaultOffer(ctx context.Context, advertiserID string) (domain.Offer, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM offers WHERE advertiser_id = $1 AND status = 'active' ORDER BY id LIMIT 1`, advertiserID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Offer{}, domain.NotFound("active offer of advertiser", advertiserID)
	}
	if err != nil {
		return domain.Offer{}, translate(err)
	}
	return s.GetOffer(ctx, id)
}
