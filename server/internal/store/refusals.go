package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

// RefusalSamples is how many refused reports an aggregate keeps as they
// came (the first ones of its minute); the rest are only counted.
const RefusalSamples = 10

// RefusalBucket is the time an aggregate spans.
const RefusalBucket = time.Minute

// unknownShopMessage stands for what a report naming no shop of this
// network said: its input is not kept (no shop can see it, and anyone can
// send any amount of it), only how many came.
const unknownShopMessage = "reports naming no shop of this network (only counted: their contents are not kept)"

// AddRefusal records a refused conversion report: it is added to the
// aggregate of its advertiser, source, code and minute (created with it as
// the first sample, or counted, and kept as a sample while the aggregate
// has fewer than RefusalSamples). One for a shop that does not exist
// (unknown_shop) is only counted. A flood of refusals therefore adds at most one row per
// advertiser, source, code and minute.
func (s *Store) AddRefusal(ctx context.Context, r domain.Refusal) error {
	now := s.now()
	unknownShop := r.Code == domain.RefusalUnknownShop
	if unknownShop {
		r = domain.Refusal{Source: r.Source, Code: r.Code, Message: unknownShopMessage}
	}
	if r.Params == nil {
		r.Params = map[string]string{}
	}
	samples := []byte("[]")
	if !unknownShop {
		var err error
		samples, err = json.Marshal([]domain.RefusalSample{{Message: r.Message, OrderID: r.OrderID, ClickID: r.ClickID,
			Params: r.Params, RemoteIP: r.RemoteIP, Time: now}})
		if err != nil {
			return err
		}
	}
	params, err := json.Marshal(r.Params)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO conversion_refusals (id, advertiser_id, offer_id, source, code, message, order_id, click_id,
			params, remote_ip, created_at, bucket, count, last_seen, samples)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $11, $13)
		ON CONFLICT (advertiser_id, source, code, bucket) DO UPDATE SET
			count = conversion_refusals.count + 1,
			last_seen = greatest(conversion_refusals.last_seen, EXCLUDED.last_seen),
			samples = CASE WHEN jsonb_array_length(conversion_refusals.samples) < $14
				THEN conversion_refusals.samples || EXCLUDED.samples ELSE conversion_refusals.samples END`,
		s.ids.New("ref"), r.AdvertiserID, r.OfferID, int16(r.Source), r.Code, r.Message, r.OrderID, r.ClickID,
		params, r.RemoteIP, now, now.UTC().Truncate(RefusalBucket), samples, RefusalSamples)
	return translate(err)
}

// ListRefusals pages through refusal aggregates, optionally of one
// advertiser and source, those seen in [from, to) when given.
func (s *Store) ListRefusals(ctx context.Context, advertiserID string, source domain.ConversionSource, from, to time.Time, page domain.Page) ([]domain.Refusal, string, error) {
	size := pageSize(page)
	fromP, toP := optTime(from), optTime(to)
	var list []domain.Refusal
	err := s.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT id, advertiser_id, offer_id, source, code, message, order_id, click_id, params, remote_ip,
			created_at, count, last_seen, samples
		FROM conversion_refusals WHERE ($1 = '' OR advertiser_id = $1) AND ($2 = 0 OR source = $2)
		AND ($3::timestamptz IS NULL OR last_seen >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
		AND id > $5 ORDER BY id LIMIT $6`, advertiserID, int16(source), fromP, toP, page.After, size+1)
		if err != nil {
			return translate(err)
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Refusal, error) {
			var r domain.Refusal
			var params, samples []byte
			err := row.Scan(&r.ID, &r.AdvertiserID, &r.OfferID, &r.Source, &r.Code, &r.Message, &r.OrderID, &r.ClickID, &params, &r.RemoteIP,
				&r.CreatedAt, &r.Count, &r.LastSeen, &samples)
			if err == nil {
				err = json.Unmarshal(params, &r.Params)
			}
			if err == nil {
				err = json.Unmarshal(samples, &r.Samples)
			}
			return r, err
		})
		return translate(err)
	})
	if err != nil {
		return nil, "", err
	}
	list, next := nextAfter(list, size, func(r domain.Refusal) string { return r.ID })
	return list, next, nil
}

// DeleteRefusalsBefore deletes the refusal aggregates first seen before
// cutoff (the retention), and returns how many.
func (s *Store) DeleteRefusalsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversion_refusals WHERE created_at < $1`, cutoff)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}
